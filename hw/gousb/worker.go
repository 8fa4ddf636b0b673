package gousb

import (
	"context"
	"sync"
	"time"
)

// syncPath is Options.Sync: Workers goroutines, each running one gousb
// synchronous transfer (ReadContext/WriteContext: allocate, submit, wait,
// free) at a time, which keeps up to Workers transfers submitted:
//
//	worker: take ring[next] ─► ReadContext/WriteContext ─► completeLocked
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
// context, so gousb cancels it) and starts a new one for later Submits.
type syncPath struct {
	p        pipe
	submitMu sync.Mutex // held from taking a transfer until it is submitted
	work     sync.Cond  // on Endpoint.mu: a transfer is queued or the endpoint closes
	cancel   chan struct{}
}

func (e *Endpoint) startSync(p pipe, workers int) {
	sp := &syncPath{p: p, cancel: make(chan struct{})}
	sp.work.L = &e.mu
	e.sync = sp
	e.wg.Add(workers)
	for range workers {
		go (&worker{e: e}).run()
	}
}

func (sp *syncPath) cancelLocked() {
	close(sp.cancel)
	sp.cancel = make(chan struct{})
}

// worker runs one synchronous transfer at a time. It is also the
// context.Context of that transfer: see syncPath's doc for why Done
// releases submitMu.
type worker struct {
	e     *Endpoint
	armed bool            // holds submitMu; only touched by this worker's goroutine
	done  <-chan struct{} // the cancel channel current when the transfer was taken
}

func (w *worker) run() {
	e := w.e
	sp := e.sync
	defer e.wg.Done()
	for {
		sp.submitMu.Lock()
		e.mu.Lock()
		for e.next == e.tail && !e.closing {
			sp.work.Wait()
		}
		if e.closing {
			e.mu.Unlock()
			sp.submitMu.Unlock()
			sp.work.Broadcast() // the next worker waiting on submitMu will see closing too
			return
		}
		i := e.next
		e.next++
		buf := e.ring[i&uint(len(e.ring)-1)].t.Buf
		w.done = sp.cancel
		e.mu.Unlock()

		w.armed = true
		n, err := sp.p.transfer(w, buf)
		if w.armed { // never submitted (gousb failed before waiting)
			w.armed = false
			sp.submitMu.Unlock()
		}
		e.mu.Lock()
		if e.completeLocked(i, n, err) {
			e.wake()
		}
		e.mu.Unlock()
	}
}

func (w *worker) Deadline() (time.Time, bool) { return time.Time{}, false }

// Done is called by gousb right after the transfer was submitted.
func (w *worker) Done() <-chan struct{} {
	if w.armed {
		w.armed = false
		w.e.sync.submitMu.Unlock()
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
