package sim

import (
	"context"
	"fmt"
	"sync"

	"dongle/hw"
)

// InQueueDepth is how many device writes an IN endpoint holds while the host
// is not reading (a device's FIFO). A SendIn beyond it is dropped and
// reported, as a real device drops frames it has no room for.
const InQueueDepth = 64

// MaxOutAssembly bounds the OUT bytes a device holds while waiting for a
// short packet or ZLP. Past it the partial transfer is discarded and counted
// as EndpointStats.OutOverruns.
const MaxOutAssembly = 1 << 16

// slot is one host transfer in an endpoint's ring.
type slot struct {
	t    *hw.Transfer
	done bool
}

// inWrite is one device-side IN write waiting for host transfers. buf is
// reused across writes (it only grows).
type inWrite struct {
	buf     []byte
	off     int
	needZLP bool // the write ends with a ZLP (length multiple of M and asked, or empty)
	zlpSent bool
}

func (w *inWrite) finished() bool { return w.off == len(w.buf) && (!w.needZLP || w.zlpSent) }

// epState is the engine's per-address endpoint state. It lives as long as
// the Device; a host-side handle (*endpoint) is made per OpenEndpoint.
//
//	slots:  [ done … done | pending … pending | free … ]
//	         head ──ndone──┘             count ┘
//
// Transfers complete strictly in submission order except on a Fake, where
// the test may complete them in any order (Wait still returns them in
// order).
type epState struct {
	d      *Device
	addr   uint8
	desc   hw.EndpointDesc // as the host sees it (served descriptors)
	mps    int             // as the device uses it
	iface  int
	active bool
	owner  *endpoint
	name   string

	slots              []slot
	head, count, ndone int
	wake               chan struct{}
	notify             func() // the open handle's Notify fn

	halted   bool
	timeouts int

	inq             [InQueueDepth]inWrite
	inHead, inCount int

	outMu    sync.Mutex // serialises assembly and Model.Out (StreamOut) calls
	asm      []byte
	outLimit int  // OutLimiter's device-side transfer length (0: none)
	outFlush bool // drop asm at the next Submit (set under the device lock)
	outShort bool // a short packet or ZLP ended asm, not the OutLimit

	errs  [16]error // pre-wrapped completion errors, by Errno
	stats EndpointStats
}

func newEpState(d *Device, ep hw.EndpointDesc) *epState {
	return &epState{d: d, addr: ep.Address, desc: ep, mps: int(ep.MaxPacketSize),
		slots: make([]slot, 8), wake: make(chan struct{}, 1)}
}

func (e *epState) in() bool { return e.addr&0x80 != 0 }

func (e *epState) setName() {
	e.name = e.d.name + ": " + e.desc.String()
	e.errs = [16]error{}
}

// err returns the endpoint's wrapped error for errno, made once.
func (e *epState) err(errno hw.Errno) error {
	if int(errno) < len(e.errs) {
		if e.errs[errno] == nil {
			e.errs[errno] = hw.Errorf(e.name, errno)
		}
		return e.errs[errno]
	}
	return hw.Errorf(e.name, errno)
}

func (e *epState) signal() {
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

// push appends t to the ring, growing it if full.
func (e *epState) push(t *hw.Transfer) {
	if e.count == len(e.slots) {
		n := make([]slot, 2*len(e.slots))
		for i := 0; i < e.count; i++ {
			n[i] = e.slots[(e.head+i)%len(e.slots)]
		}
		e.slots, e.head = n, 0
	}
	e.slots[(e.head+e.count)%len(e.slots)] = slot{t: t}
	e.count++
	e.stats.Submitted++
}

// completeNextLocked completes the oldest pending transfer with err.
func (e *epState) completeNextLocked(err hw.Errno) {
	s := &e.slots[(e.head+e.ndone)%len(e.slots)]
	e.finishLocked(s, err)
}

func (e *epState) finishLocked(s *slot, errno hw.Errno) {
	if s.done {
		return
	}
	s.done = true
	if errno != 0 {
		s.t.Err = e.err(errno)
		switch errno {
		case hw.ErrStall:
			e.stats.Stalls++
		case hw.ErrTimeout:
			e.stats.Timeouts++
		case hw.ErrCancelled:
			e.stats.Cancelled++
		case hw.ErrOverflow:
			e.stats.Overflows++
		case hw.ErrNoDevice:
			e.stats.NoDevice++
		}
	} else {
		s.t.Err = nil
	}
	e.stats.Completed++
	e.stats.Bytes += uint64(s.t.N)
	for e.ndone < e.count && e.slots[(e.head+e.ndone)%len(e.slots)].done {
		e.ndone++
	}
	if e.slots[e.head].done {
		e.signal()
		if e.notify != nil {
			e.notify()
		}
	}
}

// completeAllLocked completes every pending transfer with errno.
func (e *epState) completeAllLocked(errno hw.Errno) {
	for i := e.ndone; i < e.count; i++ {
		e.finishLocked(&e.slots[(e.head+i)%len(e.slots)], errno)
	}
	if e.d.fake != nil {
		e.d.fake.dropLocked(e)
	}
}

// flushLocked discards device-side state: queued IN writes and halts. (OUT
// assembly is dropped by the next Submit, see outFlush.)
func (e *epState) flushLocked() {
	for i := range e.inq {
		e.inq[i].buf, e.inq[i].off = e.inq[i].buf[:0], 0
	}
	e.inHead, e.inCount = 0, 0
	e.halted = false
	e.timeouts = 0
	e.outFlush = true
}

func (e *epState) haltLocked() {
	e.halted = true
	e.completeAllLocked(hw.ErrStall)
}

func (e *epState) clearHaltLocked() {
	if e.halted {
		e.stats.StallsCleared++
		e.d.logf("halt cleared on %#02x", e.addr)
	}
	e.halted = false
}

// pumpInLocked moves packets of queued device writes into pending host IN
// transfers, one packet at a time, with USB's rules (see the package doc).
func (e *epState) pumpInLocked() {
	for e.ndone < e.count && e.inCount > 0 {
		s := &e.slots[(e.head+e.ndone)%len(e.slots)]
		t := s.t
		w := &e.inq[e.inHead]
		rem := len(w.buf) - w.off
		pkt := rem
		if pkt > e.mps {
			pkt = e.mps
		}
		space := len(t.Buf) - t.N
		e.stats.Packets++
		if pkt == 0 {
			w.zlpSent = true
			e.stats.ZLPs++
		}
		if pkt > space { // babble: the packet does not fit the buffer
			t.N += copy(t.Buf[t.N:], w.buf[w.off:w.off+space])
			w.off += pkt
			e.popWriteIfDone(w)
			e.completeNextLocked(hw.ErrOverflow)
			continue
		}
		t.N += copy(t.Buf[t.N:], w.buf[w.off:w.off+pkt])
		w.off += pkt
		short := pkt < e.mps
		if short && pkt > 0 {
			e.stats.ShortPackets++
		}
		e.popWriteIfDone(w)
		if short || t.N == len(t.Buf) {
			e.completeNextLocked(0)
		}
	}
}

func (e *epState) popWriteIfDone(w *inWrite) {
	if w.finished() {
		w.buf, w.off = w.buf[:0], 0
		e.inHead = (e.inHead + 1) % len(e.inq)
		e.inCount--
	}
}

func (d *Device) sendIn(ep uint8, data []byte, zlp bool) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	e := d.eps[epIndex(ep)]
	if d.gone || d.closed {
		if e != nil {
			return e.err(hw.ErrNoDevice)
		}
		return hw.Errorf(d.name, hw.ErrNoDevice)
	}
	if e == nil || e.addr != ep || !e.in() {
		return hw.Errorf(fmt.Sprintf("%s: device write on %#02x", d.name, ep), hw.ErrInvalid)
	}
	if !e.active {
		e.stats.InDropped++
		return e.err(hw.ErrNotFound)
	}
	if e.inCount == len(e.inq) {
		e.stats.InDropped++
		return e.err(hw.ErrNoMem)
	}
	w := &e.inq[(e.inHead+e.inCount)%len(e.inq)]
	w.buf = append(w.buf[:0], data...)
	w.off, w.zlpSent = 0, false
	w.needZLP = len(data)%e.mps == 0 && (zlp || len(data) == 0)
	e.inCount++
	e.stats.Writes++
	e.pumpInLocked()
	return nil
}

// endpoint is the host's handle on an open endpoint.
type endpoint struct {
	st     *epState
	closed bool
}

var _ hw.Endpoint = (*endpoint)(nil)

// Desc implements hw.Endpoint.
func (h *endpoint) Desc() hw.EndpointDesc { return h.st.desc }

// Submit implements hw.Endpoint. On OUT the transfer's packets are taken at
// once (the transfer completes before Submit returns) and Model.Out is
// called, before Submit returns, when they end a device-side transfer (an
// OutStreamer's StreamOut for every transfer).
func (h *endpoint) Submit(t *hw.Transfer) error {
	e := h.st
	d := e.d
	if t == nil {
		return hw.Errorf(e.name+": submit nil transfer", hw.ErrInvalid)
	}
	out := !e.in()
	if out {
		e.outMu.Lock()
		defer e.outMu.Unlock()
	}
	d.mu.Lock()
	if h.closed || d.gone {
		errno := hw.ErrNoDevice
		if h.closed {
			errno = hw.ErrClosed
		}
		err := e.err(errno) // fills e.errs: under d.mu
		d.mu.Unlock()
		return err
	}
	t.N, t.Err = 0, nil
	e.push(t)
	deliver, end, poll := false, false, false
	switch {
	case e.halted:
		e.completeNextLocked(hw.ErrStall)
	case e.timeouts > 0:
		e.timeouts--
		e.completeNextLocked(hw.ErrTimeout)
	case d.fake != nil:
		d.fake.enqueueLocked(e, t)
	case !out:
		e.pumpInLocked()
		poll = d.poller != nil && e.inCount == 0 && e.ndone < e.count
	default:
		end = e.acceptOutLocked(t)
		if end {
			e.stats.OutDelivered++
		}
		deliver = end || (d.streamer != nil && len(e.asm) > 0)
		e.completeNextLocked(0)
	}
	d.mu.Unlock()
	if deliver {
		e.deliverOut(end)
	}
	if poll {
		d.poller.Poll(e.addr)
	}
	return nil
}

// deliverOut hands the assembly to the model: each whole device-side
// transfer to Out (an OutLimiter's ends every OutLimit bytes of whole
// packets), or what is held of it to an OutStreamer, keeping what the
// streamer did not take until the transfer ends. Caller holds outMu, not
// the device lock.
func (e *epState) deliverOut(end bool) {
	s := e.d.streamer
	if s == nil {
		a := e.asm
		if lim := e.outLimit; lim > 0 && lim%e.mps == 0 {
			// A device that ends a transfer at lim bytes of whole
			// packets starts the next one with the packet after: a
			// host transfer longer than lim is several of its own.
			for len(a) > lim {
				e.d.model.Out(e.addr, a[:lim])
				a = a[lim:]
			}
			if len(a) < lim && !e.outShort {
				// Whole packets after the last limit: that device
				// transfer has not ended yet.
				e.asm = e.asm[:copy(e.asm, a)]
				return
			}
		}
		e.d.model.Out(e.addr, a)
		e.asm = e.asm[:0]
		return
	}
	took := s.StreamOut(e.addr, e.asm, end)
	if took < 0 || took > len(e.asm) {
		panic(fmt.Sprintf("sim: %s: StreamOut took %d of %d bytes", e.name, took, len(e.asm)))
	}
	if end {
		e.asm = e.asm[:0]
		return
	}
	e.asm = e.asm[:copy(e.asm, e.asm[took:])]
}

// acceptOutLocked takes t's packets into the device's assembly buffer and
// reports whether they ended a device-side transfer. Caller holds outMu.
func (e *epState) acceptOutLocked(t *hw.Transfer) bool {
	if e.outFlush {
		e.asm, e.outFlush = e.asm[:0], false
	}
	b := t.Buf
	t.N = len(b)
	e.outShort = true
	if len(b) == 0 {
		e.stats.Packets++
		e.stats.ZLPs++
		return true
	}
	if len(e.asm)+len(b) > MaxOutAssembly {
		e.stats.OutOverruns++
		e.asm = e.asm[:0]
		if len(b) > MaxOutAssembly {
			return false
		}
	}
	if len(e.asm) > 0 {
		e.stats.Merged++
	}
	e.asm = append(e.asm, b...)
	e.stats.Packets += uint64((len(b) + e.mps - 1) / e.mps)
	if len(b)%e.mps != 0 {
		e.stats.ShortPackets++
		return true
	}
	if e.outLimit > 0 && len(e.asm) >= e.outLimit {
		e.outShort = false
		return true // the device's own length ends it
	}
	e.stats.Unterminated++
	return false
}

// Wait implements hw.Endpoint: WaitBatch with room for one (the array
// stays on the stack).
func (h *endpoint) Wait(ctx context.Context) (*hw.Transfer, error) {
	var one [1]*hw.Transfer
	if _, err := h.WaitBatch(ctx, one[:]); err != nil {
		return nil, err
	}
	return one[0], nil
}

// WaitBatch implements hw.Endpoint: the done run at the ring's head, taken
// under one lock.
func (h *endpoint) WaitBatch(ctx context.Context, out []*hw.Transfer) (int, error) {
	e := h.st
	d := e.d
	if len(out) == 0 {
		panic("sim: WaitBatch with an empty out on " + e.name)
	}
	for {
		d.mu.Lock()
		if h.closed {
			err := e.err(hw.ErrClosed)
			d.mu.Unlock()
			return 0, err
		}
		if e.count == 0 {
			// e.err fills e.errs and d.gone is the device's: both under
			// d.mu (a poll with nothing in flight is a common call).
			errno := hw.ErrNotFound
			if d.gone {
				errno = hw.ErrNoDevice
			}
			err := e.err(errno)
			d.mu.Unlock()
			return 0, err
		}
		n := 0
		for n < len(out) && e.ndone > 0 { // ndone: the done run at the head
			s := &e.slots[e.head]
			out[n] = s.t
			*s = slot{}
			e.head = (e.head + 1) % len(e.slots)
			e.count--
			e.ndone--
			n++
		}
		if n > 0 {
			e.stats.Reaps++
			if e.ndone > 0 {
				e.stats.LeftDone++
				e.signal() // out was full: another call may take the next one at once
			}
			d.mu.Unlock()
			return n, nil
		}
		d.mu.Unlock()
		select {
		case <-e.wake:
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
}

// Cancel implements hw.Endpoint: pending transfers complete with
// ErrCancelled (an IN transfer keeps the bytes it already received in N).
func (h *endpoint) Cancel() {
	e := h.st
	e.d.mu.Lock()
	if !h.closed {
		e.completeAllLocked(hw.ErrCancelled)
	}
	e.d.mu.Unlock()
}

// InFlight implements hw.Endpoint.
func (h *endpoint) InFlight() int {
	e := h.st
	e.d.mu.Lock()
	defer e.d.mu.Unlock()
	if h.closed {
		return 0
	}
	return e.count
}

// Close implements hw.Endpoint. It works on an unplugged device.
func (h *endpoint) Close() error {
	e := h.st
	e.d.mu.Lock()
	defer e.d.mu.Unlock()
	if h.closed {
		return e.err(hw.ErrClosed)
	}
	if e.count > 0 {
		return hw.Errorf(fmt.Sprintf("%s: close with %d transfers in flight", e.name, e.count), hw.ErrBusy)
	}
	h.closed = true
	e.owner = nil
	e.notify = nil
	return nil
}

// Notify implements hw.Endpoint: fn is called with the device lock held,
// wherever a completion wakes Wait. A closed handle ignores it.
func (h *endpoint) Notify(fn func()) {
	e := h.st
	e.d.mu.Lock()
	if !h.closed {
		e.notify = fn
	}
	e.d.mu.Unlock()
}
