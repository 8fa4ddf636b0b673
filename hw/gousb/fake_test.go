package gousb

import (
	"context"
	"encoding/binary"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	libusb "github.com/google/gousb"

	"dongle/hw"
)

// fakeLib is a minimal libusb: devices with raw descriptors, handles that
// record what was asked of them, and pipes whose transfers the test drives.
// It follows gousb's contract the endpoint queue relies on: a transfer calls
// ctx.Done() once it is "submitted", then waits for completion or ctx.
type fakeLib struct {
	mu      sync.Mutex
	devs    []*fakeDev
	handles []*fakeHandle
	closed  bool
	devsErr error
}

type fakeDev struct {
	info    devInfo
	desc    []byte   // device descriptor
	configs [][]byte // configuration descriptor sets by index
	serial  string
	openErr error
	// claimErr, when set, is returned by claim.
	claimErr error
	active   int
	pipes    map[uint8]*fakePipe
}

func (l *fakeLib) devices() ([]devInfo, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.devsErr != nil {
		return nil, l.devsErr
	}
	var out []devInfo
	for _, d := range l.devs {
		out = append(out, d.info)
	}
	return out, nil
}

func (l *fakeLib) open(bus, addr int) (handle, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, d := range l.devs {
		if d.info.Bus == bus && d.info.Address == addr {
			if d.openErr != nil {
				return nil, d.openErr
			}
			h := &fakeHandle{dev: d, claimed: map[int]int{}}
			l.handles = append(l.handles, h)
			return h, nil
		}
	}
	return nil, libusb.ErrorNoDevice
}

func (l *fakeLib) close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.closed = true
	return nil
}

type fakeHandle struct {
	dev     *fakeDev
	mu      sync.Mutex
	claimed map[int]int
	calls   []string
	closed  bool
}

func (h *fakeHandle) log(format string, a ...any) {
	h.mu.Lock()
	h.calls = append(h.calls, fmt.Sprintf(format, a...))
	h.mu.Unlock()
}

func (h *fakeHandle) control(timeout time.Duration, rType, req uint8, val, idx uint16, data []byte) (int, error) {
	h.log("control %02x %02x %04x %04x %d", rType, req, val, idx, len(data))
	if rType == 0x80 && req == hw.ReqGetDescriptor {
		var src []byte
		switch uint8(val >> 8) {
		case hw.DescDevice:
			src = h.dev.desc
		case hw.DescConfig:
			if i := int(val & 0xff); i < len(h.dev.configs) {
				src = h.dev.configs[i]
			}
		case hw.DescString:
			switch i := val & 0xff; {
			case i == 0:
				src = []byte{4, hw.DescString, 0x09, 0x04}
			case int(i) <= len(fakeStrings):
				src = hw.EncodeString(fakeStrings[i-1])
			}
		}
		if src == nil {
			return 0, libusb.ErrorPipe
		}
		return copy(data, src), nil
	}
	if rType == 0xc0 && req == 0x7f { // a vendor request the fake stalls
		return 0, libusb.ErrorPipe
	}
	if rType == 0xc0 && req == 0x7e { // a vendor request that times out
		return 0, libusb.ErrorTimeout
	}
	return len(data), nil
}

func (h *fakeHandle) activeConfig() (int, error) { return h.dev.active, nil }
func (h *fakeHandle) setConfig(v int) error {
	h.log("setConfig %d", v)
	h.dev.active = v
	return nil
}
func (h *fakeHandle) claim(i int) error {
	h.log("claim %d", i)
	if h.dev.claimErr != nil {
		return h.dev.claimErr
	}
	h.claimed[i] = 0
	return nil
}
func (h *fakeHandle) release(i int) error { h.log("release %d", i); delete(h.claimed, i); return nil }
func (h *fakeHandle) setAlt(i, a int) error {
	h.log("setAlt %d %d", i, a)
	h.claimed[i] = a
	return nil
}
func (h *fakeHandle) clearHalt(ep uint8) error { h.log("clearHalt %02x", ep); return nil }
func (h *fakeHandle) reset() error             { h.log("reset"); return nil }
func (h *fakeHandle) pipe(iface, alt int, addr uint8) (pipe, error) {
	h.log("pipe %d %d %02x", iface, alt, addr)
	if p, ok := h.dev.pipes[addr]; ok {
		return p, nil
	}
	return nil, libusb.ErrorNotFound
}
func (h *fakeHandle) xfers(iface, alt int, ep hw.EndpointDesc, n int, wake func()) (xfers, error) {
	h.log("xfers %d %d %02x %d", iface, alt, ep.Address, n)
	if p, ok := h.dev.pipes[ep.Address]; ok {
		return newFakeXfers(p, n, wake), nil
	}
	return nil, libusb.ErrorNotFound
}
func (h *fakeHandle) serial() (string, error) { return h.dev.serial, nil }
func (h *fakeHandle) close() error            { h.log("close"); h.closed = true; return nil }

// fakePipe: transfer k (in submission order, as the "kernel" saw it) gets
// complete(k, buf) as its outcome, after gate (if set) lets it through.
type fakePipe struct {
	mu       sync.Mutex
	seq      int
	lens     []int // length of each submitted buffer, in submission order
	jitter   bool  // yield before "submitting", as gousb's allocation does
	block    bool  // completions wait for ctx cancellation
	complete func(k int, buf []byte) (int, error)
	record   bool
	// failSubmit, when set, fails every submission the way
	// libusb_submit_transfer does (gousb: without calling ctx.Done).
	failSubmit error
}

// next numbers a transfer the "kernel" accepted and reads the knobs.
func (p *fakePipe) next(buf []byte) (k int, block bool, complete func(int, []byte) (int, error)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	k = p.seq
	p.seq++
	if p.record {
		p.lens = append(p.lens, len(buf))
	}
	return k, p.block, p.complete
}

func (p *fakePipe) transfer(ctx context.Context, buf []byte) (int, error) {
	if p.jitter {
		runtime.Gosched()
	}
	if p.failSubmit != nil {
		return 0, p.failSubmit
	}
	k, block, complete := p.next(buf)
	done := ctx.Done() // submitted: from here on the order is fixed
	if block {
		<-done
		return 0, libusb.TransferCancelled
	}
	if p.jitter && k%3 == 0 {
		time.Sleep(50 * time.Microsecond) // complete out of order
	}
	select {
	case <-done:
		return 0, libusb.TransferCancelled
	default:
	}
	if complete != nil {
		return complete(k, buf)
	}
	return len(buf), nil
}

// fakeXfers is the fake seam's asynchronous path over a fakePipe, with the
// same knobs: transfer k (in submission order) completes at once with
// p.complete(k, buf), or with block only when cancelled; with jitter every
// third completion is held back until the next one is reported (or it is
// the last outstanding), so the endpoint sees completions out of order.
// Its event goroutine plays libusb's event thread: it keeps completions
// one at a time, outside x.mu, and calls wake for one if the endpoint has
// armed the xfers, as the C callback does; reap hands what is kept to the
// endpoint. It ends in free. Unlike libusb's, which serves every endpoint
// of the context, it serves this endpoint only; the lab's tests run the
// real, shared one.
type fakeXfers struct {
	p           *fakePipe
	wake        func()
	mu          sync.Mutex
	cond        sync.Cond
	ready       []xferDone // completed, not yet kept
	held        xferDone
	hasHeld     bool
	outstanding int    // submitted, not yet in ready
	blocked     []bool // waiting for cancel
	stopped     bool
	exited      chan struct{} // closed when the event goroutine returns

	keptMu sync.Mutex
	kept   []xferDone // reported by the event goroutine, not yet reaped
	spare  []xferDone // kept's other buffer: reap allocates nothing
	armed  atomic.Bool
	wakes  atomic.Int64 // calls of wake
	arms   atomic.Int64 // calls of arm
	// beforeArm, if set, runs at the start of arm (the endpoint's lock
	// held): a test keeps a completion there, between a reap and the arm.
	beforeArm func()
}

func newFakeXfers(p *fakePipe, n int, wake func()) *fakeXfers {
	x := &fakeXfers{p: p, wake: wake, blocked: make([]bool, n), exited: make(chan struct{})}
	x.armed.Store(true)
	x.cond.L = &x.mu
	go x.events()
	return x
}

func (x *fakeXfers) submit(i int, buf []byte) error {
	p := x.p
	if p.failSubmit != nil {
		return p.failSubmit
	}
	k, block, complete := p.next(buf)
	x.mu.Lock()
	defer x.mu.Unlock()
	x.outstanding++
	if block {
		x.blocked[i] = true
		return nil
	}
	d := xferDone{i: i, n: len(buf)}
	if complete != nil {
		d.n, d.err = complete(k, buf)
	}
	if p.jitter && k%3 == 0 && !x.hasHeld {
		x.held, x.hasHeld = d, true
		x.cond.Signal()
		return nil
	}
	x.readyLocked(d)
	if x.hasHeld {
		x.hasHeld = false
		x.readyLocked(x.held)
	}
	return nil
}

func (x *fakeXfers) readyLocked(d xferDone) {
	x.ready = append(x.ready, d)
	x.outstanding--
	x.cond.Signal()
}

func (x *fakeXfers) cancel(i int) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.blocked[i] {
		x.blocked[i] = false
		x.readyLocked(xferDone{i: i, err: libusb.TransferCancelled})
	}
}

// usable panics after free, as the real xfers would fault.
func (x *fakeXfers) usable() {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.stopped {
		panic("fakeXfers: used after free")
	}
}

func (x *fakeXfers) reap(done func(xferDone)) {
	x.usable()
	x.keptMu.Lock()
	kept := x.kept
	x.kept, x.spare = x.spare[:0], nil
	x.keptMu.Unlock()
	for _, d := range kept {
		done(d)
	}
	x.keptMu.Lock()
	x.spare = kept[:0]
	x.keptMu.Unlock()
}

func (x *fakeXfers) arm() bool {
	x.usable()
	x.arms.Add(1)
	if x.beforeArm != nil {
		x.beforeArm()
	}
	x.armed.Store(true)
	x.keptMu.Lock()
	defer x.keptMu.Unlock()
	return len(x.kept) == 0
}

// keptLen is how many completions wait for a reap.
func (x *fakeXfers) keptLen() int {
	x.keptMu.Lock()
	defer x.keptMu.Unlock()
	return len(x.kept)
}

func (x *fakeXfers) events() {
	defer close(x.exited)
	x.mu.Lock()
	for {
		for len(x.ready) == 0 && !(x.hasHeld && x.outstanding == 1) && !x.stopped {
			x.cond.Wait()
		}
		if len(x.ready) == 0 && x.hasHeld {
			x.hasHeld = false
			x.readyLocked(x.held)
		}
		if len(x.ready) == 0 {
			x.mu.Unlock()
			return
		}
		d := x.ready[0]
		x.ready = x.ready[:copy(x.ready, x.ready[1:])]
		x.mu.Unlock()
		x.keptMu.Lock()
		x.kept = append(x.kept, d)
		x.keptMu.Unlock()
		if x.armed.Swap(false) {
			x.wakes.Add(1)
			x.wake()
		}
		x.mu.Lock()
	}
}

// free holds the endpoint to the seam's contract: nothing submitted is
// left unreported.
func (x *fakeXfers) free() {
	x.mu.Lock()
	x.keptMu.Lock()
	kept := len(x.kept)
	x.keptMu.Unlock()
	if x.outstanding != 0 || len(x.ready) != 0 || x.hasHeld || kept != 0 {
		x.mu.Unlock()
		panic(fmt.Sprintf("fakeXfers: free with %d transfers outstanding, %d unreported, held %t, %d unreaped", x.outstanding, len(x.ready), x.hasHeld, kept))
	}
	x.stopped = true
	x.cond.Broadcast()
	x.mu.Unlock()
	<-x.exited
}

// fakeStrings are string descriptors 1 (manufacturer), 2 (product), 3 (serial).
var fakeStrings = []string{"QEMU", "QEMU USB Network Interface", "1-0000:00:04.0-1"}

// Descriptor builders for a CDC-ECM device (QEMU usb-net's layout): config 1
// = comm interface 0 (2/6/0, interrupt IN 0x81) + data interface 1 (alt 0
// empty, alt 1 bulk IN 0x82 / OUT 0x02), 64-byte packets.
func ecmDescriptors(vid, pid uint16) (dev []byte, cfg []byte) {
	dev = []byte{18, hw.DescDevice, 0x00, 0x02, 0x02, 0, 0, 64, 0, 0, 0, 0, 0, 0, 1, 2, 3, 1}
	binary.LittleEndian.PutUint16(dev[8:], vid)
	binary.LittleEndian.PutUint16(dev[10:], pid)
	cfg = []byte{9, hw.DescConfig, 0, 0, 2, 1, 0, 0xc0, 50}
	cfg = append(cfg, 9, hw.DescInterface, 0, 0, 1, 0x02, 0x06, 0, 0)
	cfg = append(cfg, 7, hw.DescEndpoint, 0x81, 0x03, 16, 0, 32)
	cfg = append(cfg, 9, hw.DescInterface, 1, 0, 0, 0x0a, 0, 0, 0)
	cfg = append(cfg, 9, hw.DescInterface, 1, 1, 2, 0x0a, 0, 0, 0)
	cfg = append(cfg, 7, hw.DescEndpoint, 0x82, 0x02, 64, 0, 0)
	cfg = append(cfg, 7, hw.DescEndpoint, 0x02, 0x02, 64, 0, 0)
	binary.LittleEndian.PutUint16(cfg[2:], uint16(len(cfg)))
	return dev, cfg
}

func ecmInfo(bus, addr int, path []int, vid, pid uint16) devInfo {
	return devInfo{Bus: bus, Address: addr, Path: path, Vendor: vid, Product: pid, Speed: hw.SpeedFull,
		Configs: []cfgInfo{{Value: 1, Interfaces: []ifaceInfo{
			{Number: 0, Alt: 0, Class: 2, SubClass: 6},
			{Number: 1, Alt: 0, Class: 0x0a},
			{Number: 1, Alt: 1, Class: 0x0a},
		}}}}
}

func newECMDev(bus, addr int, path []int) *fakeDev {
	dd, cd := ecmDescriptors(0x0525, 0xa4a2)
	return &fakeDev{info: ecmInfo(bus, addr, path, 0x0525, 0xa4a2), desc: dd, configs: [][]byte{cd}, active: 1,
		pipes: map[uint8]*fakePipe{0x81: {}, 0x82: {}, 0x02: {}}}
}
