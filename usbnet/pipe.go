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

// A pipe is one open endpoint and its reaper: the top half.
//
//	submitter ──Submit──► hw.Endpoint ──WaitBatch──► reaper ──batch──► d.done ──kick──► bottom half
//	    └──── token ──► kick ───────────────────────┘
//
// hw.Endpoint.WaitBatch fails with ErrNotFound when nothing is in flight,
// so the reaper must only wait for what was submitted: every successful
// Submit puts one token in kick (buffered to the most transfers the pipe
// can have in flight, so the send never blocks), and the reaper takes one
// token per transfer it reaps. When Stop closes quit, no Submit can happen any more;
// the reaper reaps what the remaining tokens account for and exits.
//
// Every hw.Endpoint reaps in batches (hw.Endpoint.WaitBatch: the oldest
// transfer once done and every completed one after it), so the reaper
// takes a batch per wake-up and the batch goes to the bottom half with one
// lock and at most one wake-up: under QEMU's TCG each goroutine wake-up
// costs more than the bookkeeping of a frame, so hand-offs are paid per
// batch, never per transfer. Counters.RxReaps and RxMaxBatch show what the
// bulk IN reaper got.
type pipe struct {
	kind  pipeKind
	ep    hw.Endpoint
	kick  chan struct{}
	batch []*hw.Transfer // the reaper's: what one WaitBatch returned
}

// completion is what the top half queues: a reaped transfer. The queue
// has room for every transfer the device owns, so the reapers never block
// and nothing is allocated.
type completion struct {
	kind pipeKind
	t    *hw.Transfer
}

func newPipe(kind pipeKind, ep hw.Endpoint, depth int) *pipe {
	return &pipe{kind: kind, ep: ep, kick: make(chan struct{}, depth), batch: make([]*hw.Transfer, depth)}
}

// submit hands t to the endpoint and accounts a token for the reaper.
// Called with d.mu held.
func (p *pipe) submit(t *hw.Transfer) error {
	if err := p.ep.Submit(t); err != nil {
		return err
	}
	p.kick <- struct{}{}
	return nil
}

// reap is the pipe's top half: it only moves completed transfers to the
// bottom half.
func (d *Dev) reap(p *pipe) {
	defer d.reapers.Done()
	ctx := context.Background()
	for {
		select {
		case <-p.kick:
		case <-d.quit:
			// No more submissions: reap what is still accounted for.
			for {
				select {
				case <-p.kick:
					d.reapSome(ctx, p)
				default:
					return
				}
			}
		}
		d.reapSome(ctx, p)
	}
}

// reapSome reaps the transfer one token (already taken) accounts for and
// every transfer completed after it, taking their tokens too. A transfer
// can complete before its submitter has put its token (Submit returns,
// then the token follows), so those receives may wait a moment, but never
// for long: the token is on its way.
func (d *Dev) reapSome(ctx context.Context, p *pipe) {
	n, err := p.ep.WaitBatch(ctx, p.batch)
	if err != nil || n == 0 {
		// Nothing to reap after all (the token was stale). The backend
		// kept no transfer of ours, so there is nothing to hand on.
		return
	}
	for range n - 1 {
		<-p.kick
	}
	if p.kind == pipeRx {
		d.counters.RxReaps.Add(1)
		// Only this reaper writes RxMaxBatch: no compare-and-swap needed.
		d.counters.RxMaxBatch.Store(max(d.counters.RxMaxBatch.Load(), uint64(n)))
	}
	d.done.pushBatch(p.kind, p.batch[:n])
	clear(p.batch[:n])
}

// doneQueue is the top half → bottom half queue (the completions Linux's
// usbnet keeps on dev->done and schedules the tasklet for): the reapers
// append under mu and kick the bottom half, which swaps the whole queue
// for its spare slice and works through it without the lock.
//
//	reapers ──push──► q ──kick (capacity 1)──► bottom half: q, spare = spare[:0], q
//
// Both slices have room for every transfer the device owns, so neither
// side allocates, and a kick already pending absorbs the next ones: one
// wake-up serves every completion queued before the bottom half looks.
type doneQueue struct {
	mu     sync.Mutex
	q      []completion
	spare  []completion
	closed bool // no push will come: the bottom half ends once q is empty
	kick   chan struct{}
}

func newDoneQueue(total int) *doneQueue {
	return &doneQueue{q: make([]completion, 0, total), spare: make([]completion, 0, total),
		kick: make(chan struct{}, 1)}
}

func (dq *doneQueue) push(kind pipeKind, t *hw.Transfer) {
	dq.mu.Lock()
	dq.q = append(dq.q, completion{kind, t})
	dq.mu.Unlock()
	dq.signal()
}

func (dq *doneQueue) pushBatch(kind pipeKind, ts []*hw.Transfer) {
	dq.mu.Lock()
	for _, t := range ts {
		dq.q = append(dq.q, completion{kind, t})
	}
	dq.mu.Unlock()
	dq.signal()
}

func (dq *doneQueue) signal() {
	select {
	case dq.kick <- struct{}{}:
	default:
	}
}

// close says no push will follow (every reaper has exited).
func (dq *doneQueue) close() {
	dq.mu.Lock()
	dq.closed = true
	dq.mu.Unlock()
	dq.signal()
}

// take waits for completions and returns all of them; the slice is the
// caller's until the next take. It returns nil, false once the queue is
// closed and empty.
func (dq *doneQueue) take() ([]completion, bool) {
	for {
		dq.mu.Lock()
		if len(dq.q) > 0 {
			b := dq.q
			clear(dq.spare) // the last batch, done with: drop its transfer pointers
			dq.q, dq.spare = dq.spare[:0], b
			dq.mu.Unlock()
			return b, true
		}
		closed := dq.closed
		dq.mu.Unlock()
		if closed {
			return nil, false
		}
		<-dq.kick
	}
}
