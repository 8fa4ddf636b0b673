package ffs

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"dongle/hw"
)

// Options tune a Bridge.
type Options struct {
	// Super adds a SuperSpeed descriptor set (for a UDC that can do it).
	Super bool
	// Capture, if set, receives every transfer the bridge serves.
	Capture *Capture
	// Logf receives one line per event and per control request; nil: none.
	Logf func(format string, args ...any)
}

// Stats count what the bridge did.
type Stats struct {
	Setups     atomic.Uint64 // SETUP events served
	Stalls     atomic.Uint64 // requests stalled (the model refused them)
	LateStalls atomic.Uint64 // OUT requests refused after their data stage (acked anyway)
	InPackets  atomic.Uint64 // packets written to IN endpoint files
	OutReads   atomic.Uint64 // OUT packets read from endpoint files (one per request)
	IOErrors   atomic.Uint64 // endpoint file errors (disable, reset, unbind)
	ShortIn    atomic.Uint64 // IN packets FunctionFS sent only in part (the host's transfer had no room for the rest)
	Cancelled  atomic.Uint64 // requests the host cancelled before the bridge answered (EIDRM)
}

// outStreamer is the optional capability of a device whose model reads its
// OUT byte stream as packets arrive (sim.Device.StreamsOut).
type outStreamer interface{ StreamsOut() bool }

// Bridge serves one device (normally a sim.Device) on one FunctionFS
// instance. Make it with New before the gadget is bound to a UDC (FunctionFS
// needs the descriptors first), then call Serve.
type Bridge struct {
	dev   hw.Device
	fn    Function
	opt   Options
	ep0   File
	eps   []Endpoint
	files []File
	simEP []hw.Endpoint
	ifs   []int
	// alts: interfaces with alternate settings, and the setting whose
	// endpoints the bridge serves (see selectAlts).
	alts  [][2]int
	stats Stats
	logf  func(string, ...any)

	mu      sync.Mutex
	enabled bool

	// holds[k] exists while epK's reads are held (HoldOut); it is closed
	// when the hold ends.
	holdMu sync.Mutex
	holds  map[int]chan struct{}
}

// New reads dev's active configuration descriptor (GET_DESCRIPTOR), claims
// its interfaces and opens their endpoints on dev, writes the FunctionFS
// descriptors and strings to fn's ep0, and opens the endpoint files.
func New(ctx context.Context, dev hw.Device, fn Function, opt Options) (*Bridge, error) {
	b := &Bridge{dev: dev, fn: fn, opt: opt, logf: opt.Logf}
	if b.logf == nil {
		b.logf = func(string, ...any) {}
	}
	cfgVal, err := dev.Configuration()
	if err != nil {
		return nil, fmt.Errorf("ffs: %w", err)
	}
	cfg, err := activeConfig(ctx, dev, cfgVal)
	if err != nil {
		return nil, err
	}
	blob, eps, err := Descriptors(cfg.Raw, opt.Super)
	if err != nil {
		return nil, err
	}
	b.eps = eps
	for _, it := range cfg.Interfaces {
		if err := dev.Claim(int(it.Number)); err != nil {
			b.release()
			return nil, fmt.Errorf("ffs: claim interface %d: %w", it.Number, err)
		}
		b.ifs = append(b.ifs, int(it.Number))
	}
	if err := b.selectAlts(cfg); err != nil {
		b.release()
		return nil, err
	}
	for _, e := range eps {
		se, err := dev.OpenEndpoint(e.Addr)
		if err != nil {
			b.release()
			return nil, fmt.Errorf("ffs: open model endpoint %#02x: %w", e.Addr, err)
		}
		b.simEP = append(b.simEP, se)
	}
	if b.ep0, err = fn.EP0(); err != nil {
		b.release()
		return nil, err
	}
	if _, err := b.ep0.Write(blob); err != nil {
		b.release()
		return nil, fmt.Errorf("ffs: write descriptors (%d bytes)%s: %w", len(blob), ClassDescriptorHint(cfg.Raw), err)
	}
	if _, err := b.ep0.Write(Strings()); err != nil {
		b.release()
		return nil, fmt.Errorf("ffs: write strings: %w", err)
	}
	for k := range eps {
		f, err := fn.Endpoint(k + 1)
		if err != nil {
			b.release()
			return nil, err
		}
		b.files = append(b.files, f)
	}
	return b, nil
}

// selectAlts puts every interface that has alternate settings in the one
// with endpoints (CDC's data interface: alt 0 empty, alt 1 bulk IN/OUT),
// so the bridge can open them. FunctionFS cannot tell the function which
// setting the host chose: f_fs's set_alt disables and enables every
// endpoint of the function on SET_INTERFACE (and SET_CONFIGURATION) and
// reports only FUNCTIONFS_ENABLE. The bridge therefore takes each ENABLE
// as the host selecting these settings and repeats the selection to the
// model as SET_INTERFACE (enable), which resets the interface's endpoints
// as a real device's SET_INTERFACE does and lets the model act on it
// (CDC NCM and ECM notify the link). A model behind FunctionFS never sees
// alt 0 selected.
func (b *Bridge) selectAlts(cfg *hw.Config) error {
	for _, it := range cfg.Interfaces {
		if len(it.Alts) < 2 {
			continue
		}
		pick := -1
		for _, a := range it.Alts {
			if len(a.Endpoints) == 0 {
				continue
			}
			if pick >= 0 {
				return fmt.Errorf("%w: interface %d has endpoints in more than one alternate setting (FunctionFS serves one set of endpoint files)", ErrDescriptor, it.Number)
			}
			pick = int(a.Alternate)
		}
		if pick < 0 {
			continue
		}
		if err := b.dev.SetAlt(int(it.Number), pick); err != nil {
			return fmt.Errorf("ffs: interface %d alt %d: %w", it.Number, pick, err)
		}
		b.alts = append(b.alts, [2]int{int(it.Number), pick})
	}
	return nil
}

// enable tells the model the host (re)selected the served alternate
// settings (see selectAlts).
func (b *Bridge) enable(ctx context.Context) {
	for _, a := range b.alts {
		s := hw.Setup{RequestType: hw.DirOut | hw.TypeStandard | hw.RecipInterface, Request: hw.ReqSetInterface, Value: uint16(a[1]), Index: uint16(a[0])}
		if _, err := b.dev.Control(ctx, s, nil); err != nil {
			b.logf("ffs: %v to the model after ENABLE: %v", s, err)
		}
	}
}

// activeConfig reads the configuration descriptor whose value is v.
func activeConfig(ctx context.Context, dev hw.Device, v int) (*hw.Config, error) {
	dd, err := hw.ReadDeviceDescriptor(ctx, dev)
	if err != nil {
		return nil, fmt.Errorf("ffs: %w", err)
	}
	for i := 0; i < int(dd.NumConfigurations); i++ {
		c, err := hw.ReadConfig(ctx, dev, uint8(i))
		if err != nil {
			return nil, fmt.Errorf("ffs: %w", err)
		}
		if int(c.Value) == v || v == 0 {
			return c, nil
		}
	}
	return nil, fmt.Errorf("ffs: configuration %d of %s: no such descriptor", v, dev.Info().Name())
}

// Endpoints lists the function's endpoints in file order (epK is
// Endpoints()[K-1]).
func (b *Bridge) Endpoints() []Endpoint { return append([]Endpoint(nil), b.eps...) }

// Stats returns the bridge's counters.
func (b *Bridge) Stats() *Stats { return &b.stats }

// HostAddresses asks each endpoint file for the address the UDC gave it
// (files that cannot tell keep the model's) and tells the Capture. Call it
// once the function is enabled.
func (b *Bridge) HostAddresses() map[uint8]uint8 {
	m := map[uint8]uint8{}
	for k, f := range b.files {
		addr := b.eps[k].Addr
		if ha, ok := f.(HostAddresser); ok {
			if a, err := ha.HostAddress(); err == nil {
				addr = a
			}
		}
		m[b.eps[k].Addr] = addr
		if b.opt.Capture != nil {
			b.opt.Capture.MapEndpoint(b.eps[k].Addr, addr)
		}
	}
	return m
}

// Enabled reports whether the host has configured the function.
func (b *Bridge) Enabled() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.enabled
}

// Serve answers ep0 and pumps every endpoint until ctx ends and every
// goroutine has stopped. Goroutines blocked in FunctionFS I/O stop when it
// fails: unbind the gadget from its UDC after cancelling ctx (with real
// FunctionFS files, closing a descriptor does not wake a blocked read).
// Serve closes the files and releases the device's interfaces on return.
func (b *Bridge) Serve(ctx context.Context) error {
	var wg sync.WaitGroup
	for k := range b.eps {
		wg.Add(1)
		if b.eps[k].In() {
			go func() { defer wg.Done(); b.pumpIn(ctx, k) }()
		} else {
			go func() { defer wg.Done(); b.pumpOut(ctx, k) }()
		}
	}
	err := b.serveEP0(ctx)
	wg.Wait()
	b.release()
	if ctx.Err() != nil {
		return nil
	}
	return err
}

func (b *Bridge) release() {
	for _, se := range b.simEP {
		se.Cancel()
		for se.InFlight() > 0 {
			se.Wait(context.Background())
		}
		se.Close()
	}
	b.simEP = nil
	for _, i := range b.ifs {
		b.dev.Release(i)
	}
	b.ifs = nil
	for _, f := range b.files {
		f.Close()
	}
	b.files = nil
	if b.ep0 != nil {
		b.ep0.Close()
		b.ep0 = nil
	}
}

// serveEP0 reads events until ctx ends (checked after every read) or ep0
// fails.
func (b *Bridge) serveEP0(ctx context.Context) error {
	buf := make([]byte, 4*EventSize)
	data := make([]byte, 65536)
	failures := 0
	for ctx.Err() == nil {
		n, err := b.ep0.Read(buf)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			// EIDRM: the host gave up on a request (a timeout, or a new
			// SETUP before we answered) and FunctionFS reports the
			// cancellation once, on the next ep0 call. Anything else
			// (a reset in progress) is retried for a while.
			if errors.Is(err, unix.EIDRM) {
				b.stats.Cancelled.Add(1)
				b.logf("ffs: ep0: request cancelled by the host")
				continue
			}
			if failures++; failures > maxEP0Failures {
				return fmt.Errorf("ffs: ep0 failed %d times in a row: %w", failures, err)
			}
			b.logf("ffs: ep0: %v", err)
			sleep(ctx, ioBackoff)
			continue
		}
		failures = 0
		evs, err := ParseEvents(buf[:n])
		if err != nil {
			return err
		}
		for _, ev := range evs {
			switch ev.Type {
			case EventSetup:
				b.setup(ctx, ev.Setup, data)
			case EventEnable:
				b.enable(ctx)
				b.mu.Lock()
				b.enabled = true
				b.mu.Unlock()
				b.logf("ffs: %v", ev.Type)
			case EventDisable, EventUnbind:
				b.mu.Lock()
				b.enabled = false
				b.mu.Unlock()
				b.logf("ffs: %v", ev.Type)
			default:
				b.logf("ffs: %v", ev.Type)
			}
		}
	}
	return nil
}

// setup serves one SETUP event. FunctionFS semantics:
//
//	IN:                write(answer)          stall: read
//	OUT, wLength 0:    read(0 bytes) = ack    stall: write
//	OUT, wLength > 0:  read(data) acks the status stage too: no stall after it
func (b *Bridge) setup(ctx context.Context, s hw.Setup, buf []byte) {
	b.stats.Setups.Add(1)
	data := buf[:s.Length]
	var n int
	var err error
	switch {
	case s.In():
		n, err = b.dev.Control(ctx, s, data)
		if err != nil {
			b.stats.Stalls.Add(1)
			_, serr := b.ep0.Read(nil)
			b.logf("ffs: SETUP %v IN stalled: %v (ep0: %v)", s, err, serr)
		} else if _, werr := b.ep0.Write(data[:n]); werr != nil {
			b.logf("ffs: SETUP %v IN answer of %d bytes: %v", s, n, werr)
		} else {
			b.logf("ffs: SETUP %v IN % x", s, data[:n])
		}
		if b.opt.Capture != nil {
			b.opt.Capture.Control(s, data[:n], err)
		}
	case s.Length == 0:
		_, err = b.dev.Control(ctx, s, nil)
		if err != nil {
			b.stats.Stalls.Add(1)
			_, serr := b.ep0.Write(nil)
			b.logf("ffs: SETUP %v OUT stalled: %v (ep0: %v)", s, err, serr)
		} else if _, rerr := b.ep0.Read(nil); rerr != nil {
			b.logf("ffs: SETUP %v OUT ack: %v", s, rerr)
		} else {
			b.logf("ffs: SETUP %v OUT", s)
		}
		if b.opt.Capture != nil {
			b.opt.Capture.Control(s, nil, err)
		}
	default:
		n, rerr := b.ep0.Read(data)
		if rerr != nil {
			b.logf("ffs: SETUP %v OUT data stage: %v", s, rerr)
			return
		}
		_, err = b.dev.Control(ctx, s, data[:n])
		if err != nil {
			b.stats.Stalls.Add(1)
			b.stats.LateStalls.Add(1)
			b.logf("ffs: SETUP %v OUT % x refused after the data stage (acked anyway): %v", s, data[:n], err)
			err = nil // the host saw success
		} else {
			b.logf("ffs: SETUP %v OUT % x", s, data[:n])
		}
		if b.opt.Capture != nil {
			b.opt.Capture.Control(s, data[:n], err)
		}
	}
}

// maxEP0Failures is how many ep0 errors in a row (other than a
// cancellation) end Serve: about a second of a function that is gone.
const maxEP0Failures = 200

// ioBackoff is how long a pump waits after a failed FunctionFS transfer
// (the function is being disabled or reset) before trying again.
const ioBackoff = 5 * time.Millisecond

// pumpIn moves the model's IN data to epK one packet at a time. A packet
// is what the model sends at its own speed (its endpoint's wMaxPacketSize:
// 1024 for a SuperSpeed model), not the high-speed size of b.eps: written
// in 512-byte pieces, a SuperSpeed model's full packet would reach the host
// as a short one and end its transfer early.
func (b *Bridge) pumpIn(ctx context.Context, k int) {
	e, se := b.eps[k], b.simEP[k]
	mps := int(se.Desc().MaxPacketSize)
	if mps <= 0 {
		mps = e.MaxPacket
	}
	buf := make([]byte, mps)
	t := &hw.Transfer{}
	for ctx.Err() == nil {
		t.Buf = buf
		if err := se.Submit(t); err != nil {
			b.logf("ffs: model endpoint %#02x: %v", e.Addr, err)
			return
		}
		got, err := se.Wait(ctx)
		if err != nil { // ctx ended: reap the transfer
			se.Cancel()
			se.Wait(context.Background())
			return
		}
		if got.Err != nil {
			if errors.Is(got.Err, hw.ErrNoDevice) || errors.Is(got.Err, hw.ErrClosed) {
				return
			}
			if errors.Is(got.Err, hw.ErrStall) {
				b.dev.ClearHalt(e.Addr)
			}
			b.logf("ffs: model endpoint %#02x: %v", e.Addr, got.Err)
			sleep(ctx, ioBackoff)
			continue
		}
		pkt := got.Data()
		sent, alive := b.writeIn(ctx, k, pkt)
		if !alive {
			return
		}
		if !sent {
			continue
		}
		b.stats.InPackets.Add(1)
		if b.opt.Capture != nil {
			b.opt.Capture.In(e.Addr, e.Type(), pkt, mps)
		}
	}
}

// writeIn writes one IN packet to epK. A write fails when the host
// reconfigures the function (SET_CONFIGURATION, SET_INTERFACE: FunctionFS
// disables and re-enables the endpoints) or unbinds it. A bulk packet is then
// dropped, as a reset endpoint's FIFO is; an interrupt packet is kept and
// written again, because a status report (an ASIX link interrupt) is sent
// once per change and a host that missed it would never learn of the link.
// It reports whether the packet went out whole, and false for alive when
// ctx ended.
//
// A write returns when FunctionFS's request completes: on dummy_hcd, when
// a host transfer took the packet, except that dummy_hcd completes an IN
// request of at most 64 bytes queued on an idle endpoint at once and keeps
// a copy in a one-request FIFO (dummy_queue) until the host reads it; the
// copy goes only if the endpoint is disabled first, as a device's FIFO
// does. So InPackets counts packets the UDC holds, not ones the host has.
func (b *Bridge) writeIn(ctx context.Context, k int, pkt []byte) (sent, alive bool) {
	e, f := b.eps[k], b.files[k]
	for {
		n, err := f.Write(pkt)
		if err == nil && n != len(pkt) {
			// The request completed with fewer bytes: the host's transfer
			// ended inside this packet (babble on its side). The rest is
			// gone; counting the packet as sent would hide that.
			b.stats.ShortIn.Add(1)
			b.logf("ffs: ep%d (%#02x) IN packet of %d bytes: only %d went out", k+1, e.Addr, len(pkt), n)
			return false, true
		}
		if err == nil {
			if e.Type() == hw.XferInterrupt { // few, and the trail a lost status report needs
				b.logf("ffs: ep%d (%#02x) IN % x", k+1, e.Addr, pkt)
			}
			return true, true
		}
		b.stats.IOErrors.Add(1)
		if ctx.Err() != nil {
			return false, false
		}
		sleep(ctx, ioBackoff)
		if e.Type() != hw.XferInterrupt {
			b.logf("ffs: ep%d (%#02x) IN packet of %d bytes dropped: %v", k+1, e.Addr, len(pkt), err)
			return false, true
		}
		b.logf("ffs: ep%d (%#02x) interrupt packet kept for the next poll: %v", k+1, e.Addr, err)
	}
}

// pumpOut hands what the host sends on epK to the model's endpoint: each
// transfer whole (up to its short packet, or outChunk bytes of one without
// an end), or each packet as it comes to a model that streams, read one
// packet per FunctionFS request. A ZLP after whole packets is handed on as
// a transfer of its own, so the engine sees the end the host sent.
// FunctionFS throws away what a read request holds when a signal
// interrupts the read (f_fs dequeues the request and returns EINTR,
// whatever it had received), and dummy_hcd fills a request across frames
// when a transfer does not fit in the one it is serving: a request longer
// than a packet could hold the first packets of a transfer the host saw
// complete, and lose them. A packet-sized request is filled by one packet
// at once or not at all.
func (b *Bridge) pumpOut(ctx context.Context, k int) {
	f := b.files[k]
	// A model that reads its OUT byte stream as packets arrive gets each
	// packet at once: joined up to a short packet, an aggregate of whole
	// packets with no ZLP would wait for the host's next transfer.
	st, ok := b.dev.(outStreamer)
	stream := ok && st.StreamsOut()
	mps := 0 // the packet size at the speed the host connected at; 0: ask
	var buf []byte
	off := 0
	t := &hw.Transfer{}
	for ctx.Err() == nil {
		if mps == 0 {
			mps = b.outPacketSize(k)
			buf = make([]byte, (outChunk+mps-1)/mps*mps)
		}
		if h := b.held(k); h != nil {
			select { // no read request queued: the host's OUT transfers wait
			case <-h:
			case <-ctx.Done():
				return
			}
			continue
		}
		n, err := f.Read(buf[off : off+mps])
		if err != nil {
			b.stats.IOErrors.Add(1)
			if ctx.Err() != nil {
				return
			}
			// The function is being reset: the transfer's packets read so
			// far go with it, as a reset endpoint's FIFO does, and the
			// host may come back at another speed.
			mps, off = 0, 0
			sleep(ctx, ioBackoff)
			continue
		}
		b.stats.OutReads.Add(1)
		zlp := n == 0 && off > 0 // ends the packets read so far
		if off += n; n == mps && off < len(buf) && !stream {
			continue // a full packet: the transfer goes on
		}
		if !b.submitOut(ctx, k, t, buf[:off]) || zlp && !b.submitOut(ctx, k, t, buf[:0]) {
			return
		}
		off = 0
	}
}

// submitOut hands data to the model's endpoint k as one host transfer and
// reports whether the bridge goes on.
func (b *Bridge) submitOut(ctx context.Context, k int, t *hw.Transfer, data []byte) bool {
	e, se := b.eps[k], b.simEP[k]
	t.Buf = data
	if err := se.Submit(t); err != nil {
		b.logf("ffs: model endpoint %#02x: %v", e.Addr, err)
		return false
	}
	got, err := se.Wait(ctx)
	if err != nil {
		se.Cancel()
		se.Wait(context.Background())
		return false
	}
	if got.Err != nil {
		b.logf("ffs: model endpoint %#02x OUT of %d bytes: %v", e.Addr, len(data), got.Err)
	}
	if b.opt.Capture != nil {
		b.opt.Capture.Out(e.Addr, e.Type(), data)
	}
	return true
}

// outChunk bounds the OUT bytes the bridge joins before handing them to the
// engine when no short packet comes (what one 16 KiB read request held).
const outChunk = 16384

// outPacketSize is epK's wMaxPacketSize at the connected speed when its
// file can tell (PacketSizer), else the model endpoint's own.
func (b *Bridge) outPacketSize(k int) int {
	if ps, ok := b.files[k].(PacketSizer); ok {
		if n, err := ps.MaxPacket(); err == nil && n > 0 {
			return n
		}
	}
	if n := int(b.simEP[k].Desc().MaxPacketSize); n > 0 {
		return n
	}
	return b.eps[k].MaxPacket
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
