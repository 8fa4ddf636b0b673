package record

import (
	"context"
	"sync"

	"dongle/hw"
	"dongle/hw/usbmon"
)

// Endpoint records the transfers of a bulk or interrupt endpoint.
//
// Ids ride along in a FIFO: hw.Endpoint.WaitBatch returns transfers in
// submission order, so the oldest id is always the one of the first
// transfer it returned. The FIFO is pending[head:]; its array is reused
// (compacted when full), so steady traffic allocates nothing.
type Endpoint struct {
	d    *Device
	ep   hw.Endpoint
	desc hw.EndpointDesc
	xt   usbmon.XferType

	mu      sync.Mutex // held across the wrapped Submit so FIFO order is submission order
	pending []inflight
	head    int
}

type inflight struct {
	id uint64
	t  *hw.Transfer
}

var _ hw.Endpoint = (*Endpoint)(nil)

// Desc is the wrapped endpoint's descriptor.
func (e *Endpoint) Desc() hw.EndpointDesc { return e.desc }

func (e *Endpoint) base() usbmon.Record {
	r := usbmon.Record{XferType: e.xt, Endpoint: e.desc.Address, FlagSetup: usbmon.FlagNoSetup}
	if e.xt == usbmon.XferInterrupt {
		r.Interval = int32(e.desc.Interval)
	}
	return r
}

// Submit logs an 'S' (with OUT data) and submits t; a refused submission
// is logged as an 'E' with its status.
func (e *Endpoint) Submit(t *hw.Transfer) error {
	r := e.base()
	r.Length = uint32(len(t.Buf))
	if e.desc.In() {
		r.FlagData = usbmon.FlagDataIn
	} else {
		r.Data = t.Buf
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	id := e.d.submit(&r)
	if err := e.ep.Submit(t); err != nil {
		er := e.base()
		er.ID, er.Type, er.Status, er.FlagData = id, usbmon.Error, usbmon.StatusOf(err), usbmon.FlagDataOut
		e.d.complete(&er)
		return err
	}
	if len(e.pending) == cap(e.pending) && e.head != 0 {
		n := copy(e.pending, e.pending[e.head:])
		clear(e.pending[n:])
		e.pending, e.head = e.pending[:n], 0
	}
	e.pending = append(e.pending, inflight{id, t})
	return nil
}

// Wait reaps the oldest transfer with the wrapped endpoint's Wait and logs
// its 'C' as WaitBatch logs each of a batch. (It does not go through
// WaitBatch: a one-element out handed to an interface method would escape,
// an allocation per transfer.)
func (e *Endpoint) Wait(ctx context.Context) (*hw.Transfer, error) {
	t, err := e.ep.Wait(ctx)
	if err != nil {
		return nil, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.d.mu.Lock()
	defer e.d.mu.Unlock()
	e.logLocked(t)
	return t, nil
}

// WaitBatch reaps with the wrapped endpoint's WaitBatch, so a run of
// completions reaches the caller as the backend delivered it, and logs
// each transfer's 'C' in the order returned, timestamped as it is logged,
// exactly as Wait logs one: under one lock pair for the whole batch.
func (e *Endpoint) WaitBatch(ctx context.Context, out []*hw.Transfer) (int, error) {
	n, err := e.ep.WaitBatch(ctx, out)
	if err != nil {
		return n, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.d.mu.Lock()
	defer e.d.mu.Unlock()
	for _, t := range out[:n] {
		e.logLocked(t)
	}
	return n, nil
}

// logLocked logs the 'C' of t, just reaped. e.mu and e.d.mu held.
func (e *Endpoint) logLocked(t *hw.Transfer) {
	r := e.completion(t, e.popLocked(t))
	e.d.emit(&r)
}

// completion is the 'C' record of URB id, which t completed.
func (e *Endpoint) completion(t *hw.Transfer, id uint64) usbmon.Record {
	r := e.base()
	r.ID, r.Type, r.Status = id, usbmon.Complete, usbmon.StatusOf(t.Err)
	r.Length = uint32(max(t.N, 0))
	if e.desc.In() {
		if t.N > 0 && t.N <= len(t.Buf) {
			r.Data = t.Buf[:t.N]
		}
	} else {
		r.FlagData = usbmon.FlagDataOut
	}
	return r
}

// popLocked removes and returns t's id: the FIFO's front, unless a backend
// returned transfers out of order (a backend bug, but the trace should
// still pair). 0 if t was never submitted here. Called with e.mu held.
func (e *Endpoint) popLocked(t *hw.Transfer) uint64 {
	for i := e.head; i < len(e.pending); i++ {
		if p := e.pending[i]; p.t == t {
			copy(e.pending[e.head+1:i+1], e.pending[e.head:i])
			e.pending[e.head] = inflight{}
			e.head++
			if e.head == len(e.pending) {
				e.pending, e.head = e.pending[:0], 0
			}
			return p.id
		}
	}
	return 0
}

// Cancel is passed through; the cancelled transfers' 'C' records (status
// -ENOENT) are written when Wait returns them.
func (e *Endpoint) Cancel() { e.ep.Cancel() }

// Notify is passed through: the recorder holds nothing back, and logs a
// transfer's 'C' when WaitBatch returns it, poll or not.
func (e *Endpoint) Notify(fn func()) { e.ep.Notify(fn) }

// InFlight is the wrapped endpoint's.
func (e *Endpoint) InFlight() int { return e.ep.InFlight() }

// Close closes the wrapped endpoint.
func (e *Endpoint) Close() error { return e.ep.Close() }
