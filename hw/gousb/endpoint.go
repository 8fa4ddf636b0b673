package gousb

import (
	"context"
	"fmt"
	"sync"
	"time"

	"dongle/hw"
)

var _ hw.Endpoint = (*Endpoint)(nil)

// Endpoint is an open bulk or interrupt endpoint (hw.Endpoint over libusb).
//
// # The in-flight queue
//
// gousb offers a synchronous transfer (ReadContext/WriteContext: allocate,
// submit, wait, free) and streams. Streams do not fit hw's URB model: a
// WriteStream cannot send a zero-length packet (Write(nil) sends nothing),
// reports an error on some later Write instead of on the transfer that
// failed, and dies on the first error; a ReadStream has one fixed buffer
// size and keeps re-submitting on its own. So each Endpoint runs Workers
// goroutines, each doing one synchronous transfer at a time, which keeps up
// to Workers transfers submitted to the kernel (the device never waits for
// the host to queue the next IN transfer):
//
//	Submit ──► ring: [head ... next)  taken by workers, in flight
//	                 [next ... tail)  queued, not yet submitted
//	worker: take ring[next] ─► ReadContext/WriteContext ─► mark done
//	Wait   ◄── ring[head] once done (so completion order == submission order)
//
// Bus order equals submission order: a worker holds submitMu from taking a
// transfer until gousb has submitted it to the kernel. gousb's wait calls
// ctx.Done() exactly then (after libusb_submit_transfer, before blocking),
// and each worker's context is the worker itself, whose Done releases
// submitMu. If the submit fails, Done is never called and the worker
// releases submitMu when the call returns. Without this two workers could
// submit in either order and IN data could land in the wrong transfer.
//
// Cancel closes the current cancel channel (every running transfer's
// context, so gousb cancels it: LIBUSB_TRANSFER_CANCELLED → ErrCancelled),
// completes the queued ones with ErrCancelled at once, and starts a new
// channel for later Submits.
//
// # Allocation
//
// Submit, the worker hand-off and Wait allocate nothing in steady state (the
// ring only grows). gousb's synchronous transfer itself allocates per call,
// on the Go side a usbTransfer, its done channel, a finalizer and a map
// entry, and on the C side a libusb_transfer and a buffer, and copies the
// data in (OUT) or out (IN); gousb v1.1.3 exposes no way to reuse a
// transfer with caller-chosen buffers and per-transfer status (streams
// reuse theirs, see above for why they do not fit). BenchmarkEndpoint
// measures this package's share against the fake seam.
type Endpoint struct {
	dev   *Device
	desc  hw.EndpointDesc
	iface int
	name  string
	p     pipe

	errEmpty  error // preallocated: Wait with nothing in flight
	errClosed error

	submitMu sync.Mutex // held from taking a transfer until it is submitted

	mu      sync.Mutex
	work    sync.Cond // signalled when a transfer is queued or the endpoint closes
	ring    []slot    // len is a power of two
	head    uint      // oldest transfer not yet returned by Wait
	next    uint      // first transfer not yet taken by a worker
	tail    uint      // where the next Submit goes
	cancel  chan struct{}
	gone    error // set once a transfer failed with ErrNoDevice
	closing bool
	notify  chan struct{} // capacity 1: a transfer completed

	wg      sync.WaitGroup
	workers []*worker
}

type slot struct {
	t    *hw.Transfer
	done bool
}

func newEndpoint(d *Device, desc hw.EndpointDesc, iface int, p pipe, workers int) *Endpoint {
	name := fmt.Sprintf("%s: %s", d.name, desc)
	e := &Endpoint{
		dev: d, desc: desc, iface: iface, name: name, p: p,
		errEmpty:  hw.Errorf(name, fmt.Errorf("%w: no transfer in flight", hw.ErrNotFound)),
		errClosed: hw.Errorf(name, hw.ErrClosed),
		ring:      make([]slot, 16),
		cancel:    make(chan struct{}),
		notify:    make(chan struct{}, 1),
	}
	e.work.L = &e.mu
	e.workers = make([]*worker, workers)
	e.wg.Add(workers)
	for i := range e.workers {
		w := &worker{e: e}
		e.workers[i] = w
		go w.run()
	}
	return e
}

// Desc is the endpoint's descriptor.
func (e *Endpoint) Desc() hw.EndpointDesc { return e.desc }

// Submit queues t; a worker submits it to the kernel as soon as one is
// free. An OUT transfer with an empty Buf sends a zero-length packet.
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
	e.work.Signal()
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

// Wait returns the oldest submitted transfer once it has completed.
func (e *Endpoint) Wait(ctx context.Context) (*hw.Transfer, error) {
	for {
		e.mu.Lock()
		if e.head == e.tail {
			e.mu.Unlock()
			return nil, e.errEmpty
		}
		mask := uint(len(e.ring) - 1)
		if s := &e.ring[e.head&mask]; s.done {
			t := s.t
			*s = slot{}
			e.head++
			if e.head != e.tail && e.ring[e.head&mask].done {
				e.wake() // let another waiter (or the next loop) see it
			}
			e.mu.Unlock()
			return t, nil
		}
		e.mu.Unlock()
		select {
		case <-e.notify:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

func (e *Endpoint) wake() {
	select {
	case e.notify <- struct{}{}:
	default:
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
	close(e.cancel)
	e.cancel = make(chan struct{})
}

// InFlight is the number of submitted transfers not yet returned by Wait.
func (e *Endpoint) InFlight() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return int(e.tail - e.head)
}

// Close stops the workers (waiting for them: no goroutine outlives Close).
// It fails with ErrBusy while transfers are in flight.
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
	e.work.Broadcast()
	e.mu.Unlock()
	e.wg.Wait()
	e.dev.endpointClosed(e)
	return nil
}

// complete records the outcome of transfer number i.
func (e *Endpoint) complete(i uint, t *hw.Transfer, n int, err error) {
	t.N = max(n, 0)
	if err != nil {
		t.Err = wrap(e.name, err)
	}
	e.mu.Lock()
	if err != nil && e.gone == nil && hw.StatusOf(t.Err) == hw.ErrNoDevice {
		e.gone = t.Err
	}
	e.ring[i&uint(len(e.ring)-1)].done = true
	if i == e.head {
		e.wake()
	}
	e.mu.Unlock()
}

// worker runs one synchronous transfer at a time. It is also the
// context.Context of that transfer: see Endpoint's doc for why Done
// releases submitMu.
type worker struct {
	e     *Endpoint
	armed bool            // holds e.submitMu; only touched by this worker's goroutine
	done  <-chan struct{} // the cancel channel current when the transfer was taken
}

func (w *worker) run() {
	e := w.e
	defer e.wg.Done()
	for {
		e.submitMu.Lock()
		e.mu.Lock()
		for e.next == e.tail && !e.closing {
			e.work.Wait()
		}
		if e.closing {
			e.mu.Unlock()
			e.submitMu.Unlock()
			e.work.Broadcast() // the next worker waiting on submitMu will see closing too
			return
		}
		i := e.next
		e.next++
		t := e.ring[i&uint(len(e.ring)-1)].t
		w.done = e.cancel
		e.mu.Unlock()

		w.armed = true
		n, err := e.p.transfer(w, t.Buf)
		if w.armed { // never submitted (gousb failed before waiting)
			w.armed = false
			e.submitMu.Unlock()
		}
		e.complete(i, t, n, err)
	}
}

func (w *worker) Deadline() (time.Time, bool) { return time.Time{}, false }

// Done is called by gousb right after the transfer was submitted.
func (w *worker) Done() <-chan struct{} {
	if w.armed {
		w.armed = false
		w.e.submitMu.Unlock()
	}
	return w.done
}

func (w *worker) Err() error {
	select {
	case <-w.done:
		return context.Canceled
	default:
		return nil
	}
}

func (w *worker) Value(any) any { return nil }
