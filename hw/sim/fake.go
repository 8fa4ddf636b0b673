package sim

import (
	"context"
	"fmt"

	"dongle/hw"
)

// Fake is a scripted device in the style of gousb's fakelibusb: the engine
// does descriptors, standard requests, ownership and faults as for any
// model, but bulk and interrupt transfers are not moved by packet rules.
// Each submitted transfer is handed to the test (Next), which completes it
// with the data and status it chooses. Use it for a driver's error paths.
//
//	f := sim.NewFake(&sim.Static{Device: dev, Configs: cfgs}, hw.Info{})
//	p, _ := f.Next(ctx)              // the driver submitted something
//	p.CompleteIn(frame, nil)         // ... and gets frame back
//
// Control requests go to the Model as usual (Static.ControlFunc).
type Fake struct {
	*Device
	queue []*Pending
	wake  chan struct{}
}

// NewFake is New for a scripted device.
func NewFake(m Model, info hw.Info) *Fake {
	f := &Fake{wake: make(chan struct{}, 1)}
	f.Device = New(m, info)
	f.Device.fake = f
	return f
}

// Pending is one submitted transfer waiting for the test to complete it.
type Pending struct {
	f    *Fake
	e    *epState
	t    *hw.Transfer
	sent []byte
	done bool
}

func (f *Fake) enqueueLocked(e *epState, t *hw.Transfer) {
	p := &Pending{f: f, e: e, t: t}
	if !e.in() {
		p.sent = append([]byte(nil), t.Buf...)
	}
	f.queue = append(f.queue, p)
	select {
	case f.wake <- struct{}{}:
	default:
	}
}

// dropLocked forgets the pending transfers of e (completed by a fault or
// Cancel).
func (f *Fake) dropLocked(e *epState) {
	q := f.queue[:0]
	for _, p := range f.queue {
		if p.e == e {
			p.done = true
			continue
		}
		q = append(q, p)
	}
	for i := len(q); i < len(f.queue); i++ {
		f.queue[i] = nil
	}
	f.queue = q
}

// Next returns the oldest submitted transfer the test has not taken yet, on
// any endpoint, waiting for one until ctx ends.
func (f *Fake) Next(ctx context.Context) (*Pending, error) {
	for {
		f.mu.Lock()
		if len(f.queue) > 0 {
			p := f.queue[0]
			f.queue[0] = nil
			f.queue = f.queue[1:]
			f.mu.Unlock()
			return p, nil
		}
		f.mu.Unlock()
		select {
		case <-f.wake:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// Queued is the number of submitted transfers not yet taken by Next.
func (f *Fake) Queued() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.queue)
}

// Endpoint is the transfer's endpoint address.
func (p *Pending) Endpoint() uint8 { return p.e.addr }

// In reports whether it is an IN transfer.
func (p *Pending) In() bool { return p.e.in() }

// Len is the transfer's buffer length (bytes asked for IN, sent for OUT).
func (p *Pending) Len() int { return len(p.t.Buf) }

// Sent is a copy of the data an OUT transfer carries (nil for IN).
func (p *Pending) Sent() []byte { return p.sent }

// CompleteIn completes an IN transfer with data: N is len(data), or, if data
// does not fit, the buffer is filled and the status is ErrOverflow. A
// non-nil err is the status instead (reduced to its Errno, wrapped with the
// endpoint's name).
func (p *Pending) CompleteIn(data []byte, err error) error {
	if !p.e.in() {
		return hw.Errorf(p.e.name+": CompleteIn on an OUT transfer", hw.ErrInvalid)
	}
	p.f.mu.Lock()
	defer p.f.mu.Unlock()
	if p.done {
		return hw.Errorf(p.e.name+": transfer already completed", hw.ErrNotFound)
	}
	p.t.N = copy(p.t.Buf, data)
	if err == nil && len(data) > len(p.t.Buf) {
		err = hw.ErrOverflow
	}
	return p.finishLocked(err)
}

// Complete completes the transfer with N = n (Buf[:n] is whatever is in it)
// and status err (nil, or reduced to its Errno).
func (p *Pending) Complete(n int, err error) error {
	p.f.mu.Lock()
	defer p.f.mu.Unlock()
	if p.done {
		return hw.Errorf(p.e.name+": transfer already completed", hw.ErrNotFound)
	}
	if n < 0 || n > len(p.t.Buf) {
		return hw.Errorf(fmt.Sprintf("%s: Complete(%d) on a %d-byte transfer", p.e.name, n, len(p.t.Buf)), hw.ErrInvalid)
	}
	p.t.N = n
	return p.finishLocked(err)
}

func (p *Pending) finishLocked(err error) error {
	p.done = true
	e := p.e
	for i := e.ndone; i < e.count; i++ {
		s := &e.slots[(e.head+i)%len(e.slots)]
		if s.t == p.t && !s.done {
			e.finishLocked(s, hw.StatusOf(err))
			return nil
		}
	}
	return hw.Errorf(e.name+": transfer no longer in flight", hw.ErrNotFound)
}
