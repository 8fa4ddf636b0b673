package gousb

import (
	"context"
	"fmt"
	"sync"

	"dongle/hw"
)

var _ hw.Endpoint = (*Endpoint)(nil)

// Endpoint is an open bulk or interrupt endpoint (hw.Endpoint over libusb).
//
// # The in-flight queue
//
// Every hw.Transfer goes through one ring, whatever carries it to the OS:
//
//	Submit ──► ring: [head ... next)  handed to the OS (or failed), in flight
//	                 [next ... tail)  queued: every OS slot is busy
//	Wait   ◄── ring[head] once done (so completion order == submission order)
//
// The default path (async.go) keeps Workers persistent libusb transfers
// per endpoint and submits from Submit itself, under the endpoint's lock,
// so bus order is submission order by construction; the transfer callback
// keeps each completion in C, and Wait (or Submit) reaps them.
// Options.Sync selects the older path (worker.go): Workers goroutines,
// each running one gousb synchronous transfer at a time, which allocates
// a libusb_transfer and a buffer per transfer on both sides of cgo. Both
// paths are held to the same tests.
//
// Cancel completes the queued transfers with ErrCancelled at once and asks
// the OS to cancel the submitted ones (LIBUSB_TRANSFER_CANCELLED →
// ErrCancelled, or their real status if they finished first).
//
// # Allocation
//
// Submit, the hand-off to the OS, the completion and Wait allocate nothing in
// steady state on the default path (the ring only grows; the libusb
// transfers and their C buffers are allocated when the endpoint opens, a
// buffer regrown only for a larger transfer than any before). On the Sync
// path gousb allocates per transfer, on the Go side a usbTransfer, its done
// channel, a finalizer and a map entry, and on the C side a libusb_transfer
// and a buffer. TestSubmitWaitAllocs proves the queue's share with
// testing.AllocsPerRun; BenchmarkEndpoint measures it against the fake seam.
type Endpoint struct {
	dev   *Device
	desc  hw.EndpointDesc
	iface int
	name  string

	errEmpty  error // preallocated: Wait with nothing in flight
	errClosed error

	mu      sync.Mutex
	ring    []slot // len is a power of two
	head    uint   // oldest transfer not yet returned by Wait
	next    uint   // first transfer not yet handed to the OS
	tail    uint   // where the next Submit goes
	gone    error  // set once a transfer failed with ErrNoDevice
	closing bool
	notify  chan struct{} // capacity 1: a transfer completed
	fn      func()        // Notify's; called by wake

	wg    sync.WaitGroup
	sync  *syncPath  // Options.Sync (worker.go)
	async *asyncPath // the default (async.go)
}

type slot struct {
	t    *hw.Transfer
	done bool
}

func newEndpoint(d *Device, desc hw.EndpointDesc, iface int) *Endpoint {
	name := fmt.Sprintf("%s: %s", d.name, desc)
	return &Endpoint{
		dev: d, desc: desc, iface: iface, name: name,
		errEmpty:  hw.Errorf(name, fmt.Errorf("%w: no transfer in flight", hw.ErrNotFound)),
		errClosed: hw.Errorf(name, hw.ErrClosed),
		ring:      make([]slot, 16),
		notify:    make(chan struct{}, 1),
	}
}

// Desc is the endpoint's descriptor.
func (e *Endpoint) Desc() hw.EndpointDesc { return e.desc }

// Submit queues t and hands it to the OS at once if an OS slot is free.
// An OUT transfer with an empty Buf sends a zero-length packet.
func (e *Endpoint) Submit(t *hw.Transfer) error {
	if t == nil {
		panic("gousb: Submit(nil) on " + e.name)
	}
	if e.desc.In() && len(t.Buf) == 0 {
		return hw.Errorf(e.name, fmt.Errorf("%w: IN transfer with an empty buffer", hw.ErrInvalid))
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closing {
		return e.errClosed
	}
	if e.gone != nil {
		return e.gone
	}
	if e.tail-e.head == uint(len(e.ring)) {
		e.grow()
	}
	t.N, t.Err = 0, nil
	e.ring[e.tail&uint(len(e.ring)-1)] = slot{t: t}
	e.tail++
	if e.async != nil {
		e.async.reapLocked() // frees the xfers the OS is done with
		e.async.startLocked()
	} else {
		e.sync.work.Signal()
	}
	return nil
}

// grow doubles the ring keeping every index's slot (index & mask).
func (e *Endpoint) grow() {
	old, om := e.ring, uint(len(e.ring)-1)
	e.ring = make([]slot, 2*len(old))
	nm := uint(len(e.ring) - 1)
	for i := e.head; i != e.tail; i++ {
		e.ring[i&nm] = old[i&om]
	}
}

// Wait returns the oldest submitted transfer once it has completed. It is
// WaitBatch with room for one: the one-element array stays on Wait's stack
// (WaitBatch does not let out escape), so Wait allocates nothing either, and
// the queue logic (empty check, slot clearing, waking the next waiter) lives
// in one place.
func (e *Endpoint) Wait(ctx context.Context) (*hw.Transfer, error) {
	var one [1]*hw.Transfer
	if _, err := e.WaitBatch(ctx, one[:]); err != nil {
		return nil, err
	}
	return one[0], nil
}

// WaitBatch is Wait for a batch: it blocks until the oldest submitted
// transfer has completed, then returns it and every transfer after it that
// has completed too (up to len(out)), oldest first, in out[:n]. One lock
// and at most one wake-up serve the whole batch, where Wait costs one of
// each per transfer; with a done ctx it is a poll, and usbnet's bottom
// half, woken through Notify, reaps with nothing else. The errors are
// Wait's; out must not be empty.
func (e *Endpoint) WaitBatch(ctx context.Context, out []*hw.Transfer) (int, error) {
	if len(out) == 0 {
		panic("gousb: WaitBatch with an empty out on " + e.name)
	}
	for {
		e.mu.Lock()
		n, err := e.takeLocked(out)
		e.mu.Unlock()
		if n > 0 || err != nil {
			return n, err
		}
		select {
		case <-e.notify:
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
}

// takeLocked reaps what the OS completed and moves the done run at the
// head into out. When it leaves nothing done at the head (the head is
// pending, or nothing is in flight), whether or not out is full, it arms
// the xfers, so that the next completion calls wake; a completion that
// came before the arm is reaped and taken at once instead. n is 0 and err
// nil while the head is pending. After Close there is nothing to reap and
// the xfers are freed. e.mu held.
func (e *Endpoint) takeLocked(out []*hw.Transfer) (n int, err error) {
	mask := uint(len(e.ring) - 1)
	for {
		if e.async != nil && !e.closing {
			e.async.reapLocked()
		}
		for n < len(out) && e.head != e.tail {
			s := &e.ring[e.head&mask]
			if !s.done {
				break
			}
			out[n] = s.t
			*s = slot{}
			e.head++
			n++
		}
		if e.head != e.tail && e.ring[e.head&mask].done {
			e.wakeWaiter() // out was full: let the next call see the rest at once
			return n, nil
		}
		// The head is pending or nothing is in flight, whatever out held:
		// arm, or another waiter (or fn) would hear of nothing more.
		if e.async == nil || e.closing || e.async.x.arm() {
			break
		}
	}
	if n == 0 && e.head == e.tail {
		return 0, e.errEmpty
	}
	return n, nil
}

// wake tells Wait's caller, and Notify's fn, that the done run at the
// head grew. e.mu held.
func (e *Endpoint) wake() {
	e.wakeWaiter()
	if e.fn != nil {
		e.fn()
	}
}

func (e *Endpoint) wakeWaiter() {
	select {
	case e.notify <- struct{}{}:
	default:
	}
}

// Notify implements hw.Endpoint: fn is called, with e.mu held, where a
// completion wakes Wait: on libusb's event thread for the first completion
// after the caller has taken everything (see takeLocked), or in Submit,
// WaitBatch and Cancel for what they complete themselves (a queued
// transfer cancelled, or a submit that failed).
//
// A completion since the last arm went to whoever was told then (a Wait,
// or the old fn), so a new fn arms the xfers itself, and is called at once
// if a completion is already there to take.
func (e *Endpoint) Notify(fn func()) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.fn = fn
	if fn == nil || e.closing {
		return
	}
	kept := e.async != nil && !e.async.x.arm()
	if kept || (e.head != e.tail && e.ring[e.head&uint(len(e.ring)-1)].done) {
		fn()
	}
}

// Cancel completes every transfer in flight as soon as possible: queued ones
// at once, submitted ones once libusb has cancelled them (ErrCancelled), or
// with their real status if they finished first.
func (e *Endpoint) Cancel() {
	e.mu.Lock()
	defer e.mu.Unlock()
	mask := uint(len(e.ring) - 1)
	for i := e.next; i != e.tail; i++ {
		s := &e.ring[i&mask]
		s.t.N, s.t.Err = 0, wrap(e.name, hw.ErrCancelled)
		s.done = true
	}
	if e.next != e.tail {
		e.next = e.tail
		e.wake()
	}
	if e.async != nil {
		e.async.cancelLocked()
	} else {
		e.sync.cancelLocked()
	}
}

// InFlight is the number of submitted transfers not yet returned by Wait.
func (e *Endpoint) InFlight() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return int(e.tail - e.head)
}

// Close stops the endpoint's goroutines on the Sync path (waiting for
// them: none outlives Close) and frees its libusb transfers. It fails with
// ErrBusy while transfers are in flight, so every completion is reaped
// before the transfers are freed (freeing waits out a callback still
// making its wake-up).
func (e *Endpoint) Close() error {
	e.mu.Lock()
	if e.closing {
		e.mu.Unlock()
		return e.errClosed
	}
	if n := e.tail - e.head; n > 0 {
		e.mu.Unlock()
		return hw.Errorf(e.name, fmt.Errorf("%w: %d transfers in flight (Cancel and Wait for them first)", hw.ErrBusy, n))
	}
	e.closing = true
	if e.sync != nil {
		e.sync.work.Broadcast()
	}
	e.mu.Unlock()
	e.wg.Wait()
	if e.async != nil {
		e.async.x.free()
	}
	e.dev.endpointClosed(e)
	return nil
}

// completeLocked records the outcome of transfer number i and reports
// whether the done run at the head grew (i is the head): the caller wakes
// whoever waits, unless the xfers do (async.go). e.mu held.
func (e *Endpoint) completeLocked(i uint, n int, err error) bool {
	s := &e.ring[i&uint(len(e.ring)-1)]
	s.t.N = max(n, 0)
	if err != nil {
		s.t.Err = wrap(e.name, err)
		if e.gone == nil && hw.StatusOf(s.t.Err) == hw.ErrNoDevice {
			e.gone = s.t.Err
		}
	}
	s.done = true
	return i == e.head
}
