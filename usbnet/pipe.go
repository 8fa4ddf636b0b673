package usbnet

import (
	"context"
	"sync"

	"dongle/hw"
)

// pipeKind says which endpoint a completion came from.
type pipeKind uint8

const (
	pipeRx pipeKind = iota
	pipeTx
	pipeStatus
)

// A pipe is one open endpoint as the bottom half reaps it. Its completions
// wake the bottom half directly, from the thread that completed them; the
// bottom half then polls every pipe:
//
//	libusb's event thread ──hw.Endpoint.Notify fn──► d.done.kick ──► bottom half ──WaitBatch(polled)──► work
//
// There is no goroutine between the endpoint and the bottom half: under
// QEMU's TCG a goroutine wake-up costs more than a frame's bookkeeping, and
// a completion now pays one on its way to the work, not two (a reaper per
// pipe used to wait in WaitBatch and hand its batch on). Counters.RxReaps
// and RxMaxBatch show what the bulk IN polls got.
type pipe struct {
	kind  pipeKind
	ep    hw.Endpoint
	batch []*hw.Transfer // the bottom half's: what one WaitBatch returned
}

// completion is a reaped transfer, and which pipe it came from.
type completion struct {
	kind pipeKind
	t    *hw.Transfer
}

// newPipe makes the pipe for ep, room for depth transfers in one poll, and
// points ep's completions at wake.
func newPipe(kind pipeKind, ep hw.Endpoint, depth int, wake func()) *pipe {
	ep.Notify(wake)
	return &pipe{kind: kind, ep: ep, batch: make([]*hw.Transfer, depth)}
}

// polled is a done context: WaitBatch with it never blocks (a poll).
var polled = func() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}()

// reap appends every transfer p has completed to b, oldest first: it polls
// until a poll returns nothing, so a wrapper that returns fewer than it
// could (one at a time) still gives up everything it holds. A poll's error
// (nothing in flight, the oldest still pending) only ends the run.
func (d *Dev) reap(p *pipe, b []completion) []completion {
	for {
		n, _ := p.ep.WaitBatch(polled, p.batch)
		if n == 0 {
			return b
		}
		for _, t := range p.batch[:n] {
			b = append(b, completion{p.kind, t})
		}
		clear(p.batch[:n])
		if p.kind == pipeRx {
			d.counters.RxReaps.Add(1)
			// Only the bottom half writes RxMaxBatch: no compare-and-swap.
			d.counters.RxMaxBatch.Store(max(d.counters.RxMaxBatch.Load(), uint64(n)))
		}
	}
}

// doneQueue is what wakes the bottom half (Linux schedules usbnet's
// tasklet from each URB's completion handler), and the few completions
// no endpoint returns: a ZLP whose Submit failed after its frame's went
// through is completed by hand (submitTxLocked).
//
//	Notify fns, push, close ──kick (capacity 1)──► bottom half: take, then poll every pipe
//
// A kick already pending absorbs the next ones: one wake-up serves every
// completion before the bottom half looks. q has room for every transfer
// the device owns, so push never allocates.
type doneQueue struct {
	mu     sync.Mutex
	q      []completion
	closed bool // Stop has cancelled everything: the bottom half ends once it is all reaped
	kick   chan struct{}
}

func newDoneQueue(total int) *doneQueue {
	return &doneQueue{q: make([]completion, 0, total), kick: make(chan struct{}, 1)}
}

func (dq *doneQueue) push(kind pipeKind, t *hw.Transfer) {
	dq.mu.Lock()
	dq.q = append(dq.q, completion{kind, t})
	dq.mu.Unlock()
	dq.signal()
}

// signal wakes the bottom half. It is every pipe's Notify fn, so it runs
// on libusb's event thread with the endpoint's lock held: it never blocks.
func (dq *doneQueue) signal() {
	select {
	case dq.kick <- struct{}{}:
	default:
	}
}

// close says Stop has cancelled every transfer and nothing will be
// submitted or pushed any more.
func (dq *doneQueue) close() {
	dq.mu.Lock()
	dq.closed = true
	dq.mu.Unlock()
	dq.signal()
}

// take appends the pushed completions to b and reports whether the queue
// was closed. Read before the pipes are polled, closed means that what the
// poll misses is still in flight, cancelled, and will kick.
func (dq *doneQueue) take(b []completion) ([]completion, bool) {
	dq.mu.Lock()
	b = append(b, dq.q...)
	clear(dq.q)
	dq.q = dq.q[:0]
	closed := dq.closed
	dq.mu.Unlock()
	return b, closed
}
