package replay

import (
	"context"
	"fmt"

	"dongle/hw"
	"dongle/hw/usbmon"
)

// xfer is a transfer in flight on a replayed endpoint.
type xfer struct {
	t         *hw.Transfer
	done      bool
	cancelled bool
	// strict replay: the recorded completion and its record index
	comp    *usbmon.Record
	compIdx int
}

// endpoint is an open bulk or interrupt endpoint of a replayed device.
//
//	q: [ x0 x1 x2 ... ]   submission order; WaitBatch pops the done run from x0
type endpoint struct {
	c      *core
	desc   hw.EndpointDesc
	iface  int
	name   string
	q      []*xfer
	closed bool
	notify func() // Notify's: called by completeLocked
	// errEmpty is WaitBatch's error with nothing in flight, made once: a
	// poller (usbnet's bottom half) meets it on every pass.
	errEmpty error
}

var _ hw.Endpoint = (*endpoint)(nil)

func (e *endpoint) Desc() hw.EndpointDesc { return e.desc }

func (e *endpoint) Submit(t *hw.Transfer) error {
	c := e.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if e.closed {
		return hw.Errorf(e.name+": submit", hw.ErrClosed)
	}
	if err := c.errLocked(": submit"); err != nil {
		return err
	}
	t.N, t.Err = 0, nil
	x := &xfer{t: t, compIdx: -1}
	e.q = append(e.q, x)
	if err := c.beh.submit(e, x); err != nil {
		e.q = e.q[:len(e.q)-1]
		return err
	}
	c.broadcastLocked()
	return nil
}

// Wait is WaitBatch with room for one (the array stays on the stack).
func (e *endpoint) Wait(ctx context.Context) (*hw.Transfer, error) {
	var one [1]*hw.Transfer
	if _, err := e.WaitBatch(ctx, one[:]); err != nil {
		return nil, err
	}
	return one[0], nil
}

// WaitBatch takes the done run at the head of q under one lock.
func (e *endpoint) WaitBatch(ctx context.Context, out []*hw.Transfer) (int, error) {
	if len(out) == 0 {
		panic("replay: WaitBatch with an empty out on " + e.name)
	}
	c := e.c
	for {
		c.mu.Lock()
		if len(e.q) == 0 {
			c.mu.Unlock()
			return 0, e.errEmpty
		}
		n := 0
		for n < len(out) && n < len(e.q) && e.q[n].done {
			out[n] = e.q[n].t
			e.q[n] = nil
			n++
		}
		if n > 0 {
			e.q = e.q[n:]
			c.mu.Unlock()
			return n, nil
		}
		ch := c.changed
		c.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
}

func (e *endpoint) Cancel() {
	c := e.c
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, x := range e.q {
		x.cancelled = true
	}
	c.beh.cancel(e)
	c.broadcastLocked()
}

func (e *endpoint) InFlight() int {
	e.c.mu.Lock()
	defer e.c.mu.Unlock()
	return len(e.q)
}

func (e *endpoint) Close() error {
	c := e.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if e.closed {
		return hw.Errorf(e.name+": close", hw.ErrClosed)
	}
	if len(e.q) > 0 {
		return hw.Errorf(fmt.Sprintf("%s: close: %d transfers in flight", e.name, len(e.q)), hw.ErrBusy)
	}
	e.closed = true
	if c.open[e.desc.Address] == e {
		delete(c.open, e.desc.Address)
	}
	return nil
}

// completeLocked finishes x with err (nil for success), keeping x.t.N.
func (e *endpoint) completeLocked(x *xfer, err error) {
	if x.done {
		return
	}
	x.done = true
	if err != nil {
		x.t.Err = hw.Errorf(e.name, err)
	}
	if e.notify != nil {
		e.notify()
	}
}

// Notify implements hw.Endpoint: fn is called with the replay's lock held,
// after every completion.
func (e *endpoint) Notify(fn func()) {
	e.c.mu.Lock()
	e.notify = fn
	e.c.mu.Unlock()
}

// completeAllLocked finishes every transfer still pending with err.
func (e *endpoint) completeAllLocked(err error) {
	for _, x := range e.q {
		e.completeLocked(x, err)
	}
}
