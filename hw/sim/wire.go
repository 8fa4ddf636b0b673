package sim

import (
	"context"
	"sync"
	"sync/atomic"
)

// Port is anything that takes Ethernet frames: a model's PHY side, a test's
// Capture, a Loopback. frame is only valid during the call.
type Port interface {
	Receive(frame []byte)
}

// Wire is an Ethernet cable with two ends. A frame sent into one end is
// delivered synchronously to the Port attached at the other (no goroutine,
// no copy), after the taps have seen it. A cut wire (SetCut) or an end with
// nothing attached drops frames.
//
//	model A ──End A══════wire══════End B── model B / Capture / Loopback
//	                        │ taps
type Wire struct {
	mu   sync.Mutex
	ends [2]End
	cut  bool
	taps atomic.Pointer[[]*tap]
	sent [2]atomic.Uint64
	lost [2]atomic.Uint64
}

type tap struct{ fn func(from *End, frame []byte) }

// End is one end of a Wire.
type End struct {
	w    *Wire
	i    int
	port Port
}

// NewWire returns an uncut wire with nothing attached.
func NewWire() *Wire {
	w := &Wire{}
	w.ends[0] = End{w: w, i: 0}
	w.ends[1] = End{w: w, i: 1}
	return w
}

// Connect returns a wire with a at end A and b at end B.
func Connect(a, b Port) *Wire {
	w := NewWire()
	w.A().Attach(a)
	w.B().Attach(b)
	return w
}

// A is the wire's first end.
func (w *Wire) A() *End { return &w.ends[0] }

// B is the wire's second end.
func (w *Wire) B() *End { return &w.ends[1] }

// SetCut cuts (true) or mends the wire.
func (w *Wire) SetCut(cut bool) {
	w.mu.Lock()
	w.cut = cut
	w.mu.Unlock()
}

// Tap calls fn with every frame sent on the wire, before delivery (also on
// a cut wire). fn must not keep frame. It returns a function removing the
// tap.
func (w *Wire) Tap(fn func(from *End, frame []byte)) (remove func()) {
	t := &tap{fn}
	w.mu.Lock()
	var old []*tap
	if p := w.taps.Load(); p != nil {
		old = *p
	}
	n := append(append([]*tap(nil), old...), t)
	w.taps.Store(&n)
	w.mu.Unlock()
	return func() {
		w.mu.Lock()
		defer w.mu.Unlock()
		var n []*tap
		if p := w.taps.Load(); p != nil {
			for _, x := range *p {
				if x != t {
					n = append(n, x)
				}
			}
		}
		w.taps.Store(&n)
	}
}

// Sent is the number of frames sent from end i (0 = A, 1 = B), and Lost how
// many of them were dropped (cut wire, nothing attached).
func (w *Wire) Sent(i int) uint64 { return w.sent[i&1].Load() }

// Lost is the number of frames from end i that were dropped.
func (w *Wire) Lost(i int) uint64 { return w.lost[i&1].Load() }

// Attach connects p to this end: p receives what the other end sends.
func (e *End) Attach(p Port) {
	e.w.mu.Lock()
	e.port = p
	e.w.mu.Unlock()
}

// Peer is the other end.
func (e *End) Peer() *End { return &e.w.ends[1-e.i] }

// Wire is the wire this end belongs to.
func (e *End) Wire() *Wire { return e.w }

// Send puts frame on the wire towards the other end and reports whether it
// was delivered.
func (e *End) Send(frame []byte) bool {
	w := e.w
	w.sent[e.i].Add(1)
	if p := w.taps.Load(); p != nil {
		for _, t := range *p {
			t.fn(e, frame)
		}
	}
	w.mu.Lock()
	cut, port := w.cut, w.ends[1-e.i].port
	w.mu.Unlock()
	if cut || port == nil {
		w.lost[e.i].Add(1)
		return false
	}
	port.Receive(frame)
	return true
}

// Loopback is a Port that sends every frame it receives back out of its end
// (a loopback plug).
type Loopback struct {
	e     *End
	count atomic.Uint64
}

// NewLoopback attaches a loopback plug to e.
func NewLoopback(e *End) *Loopback {
	l := &Loopback{e: e}
	e.Attach(l)
	return l
}

// Receive implements Port.
func (l *Loopback) Receive(frame []byte) {
	l.count.Add(1)
	l.e.Send(frame)
}

// Count is how many frames were looped back.
func (l *Loopback) Count() uint64 { return l.count.Load() }

// Capture is a Port that records copies of the frames it receives.
type Capture struct {
	mu     sync.Mutex
	frames [][]byte
	wake   chan struct{}
}

// NewCapture returns an empty capture; attach it with End.Attach.
func NewCapture() *Capture { return &Capture{wake: make(chan struct{}, 1)} }

// Receive implements Port.
func (c *Capture) Receive(frame []byte) {
	c.mu.Lock()
	c.frames = append(c.frames, append([]byte(nil), frame...))
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// Frames returns the frames received so far.
func (c *Capture) Frames() [][]byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([][]byte(nil), c.frames...)
}

// Len is the number of frames received.
func (c *Capture) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.frames)
}

// Reset forgets the frames received.
func (c *Capture) Reset() {
	c.mu.Lock()
	c.frames = nil
	c.mu.Unlock()
}

// WaitFor waits until at least n frames were received or ctx ends.
func (c *Capture) WaitFor(ctx context.Context, n int) ([][]byte, error) {
	for {
		if c.Len() >= n {
			return c.Frames(), nil
		}
		select {
		case <-c.wake:
		case <-ctx.Done():
			return c.Frames(), ctx.Err()
		}
	}
}
