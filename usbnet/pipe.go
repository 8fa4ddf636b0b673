package usbnet

import (
	"context"

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
//	submitter ──Submit──► hw.Endpoint ──Wait──► reaper ──completion──► d.done ──► bottom half
//	    └──── token ──► kick ───────────────────────┘
//
// hw.Endpoint.Wait fails with ErrNotFound when nothing is in flight, so the
// reaper must only wait for what was submitted: every successful Submit
// puts one token in kick (buffered to the most transfers the pipe can have
// in flight, so the send never blocks), and the reaper takes one token per
// Wait. When Stop closes quit, no Submit can happen any more; the reaper
// reaps what the remaining tokens account for and exits.
type pipe struct {
	kind pipeKind
	ep   hw.Endpoint
	kick chan struct{}
}

// completion is what the top half queues: a reaped transfer. It is sent by
// value on a channel whose capacity is every transfer the device owns, so
// the reapers never block and nothing is allocated.
type completion struct {
	kind pipeKind
	t    *hw.Transfer
}

func newPipe(kind pipeKind, ep hw.Endpoint, depth int) *pipe {
	return &pipe{kind: kind, ep: ep, kick: make(chan struct{}, depth)}
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
					d.reapOne(ctx, p)
				default:
					return
				}
			}
		}
		d.reapOne(ctx, p)
	}
}

func (d *Dev) reapOne(ctx context.Context, p *pipe) {
	t, err := p.ep.Wait(ctx)
	if err != nil || t == nil {
		// Nothing to reap after all (the token was stale). The backend
		// kept no transfer of ours, so there is nothing to hand on.
		return
	}
	d.done <- completion{p.kind, t}
}
