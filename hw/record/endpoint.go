package record

import (
	"context"
	"sync"

	"dongle/hw"
	"dongle/hw/usbmon"
)

// Endpoint records the transfers of a bulk or interrupt endpoint.
//
// Ids ride along in a FIFO: hw.Endpoint.Wait returns transfers in
// submission order, so the oldest id is always the one Wait just returned.
type Endpoint struct {
	d    *Device
	ep   hw.Endpoint
	desc hw.EndpointDesc
	xt   usbmon.XferType

	mu      sync.Mutex // held across the wrapped Submit so FIFO order is submission order
	pending []inflight
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
	e.pending = append(e.pending, inflight{id, t})
	return nil
}

// Wait reaps the oldest transfer and logs its 'C'.
func (e *Endpoint) Wait(ctx context.Context) (*hw.Transfer, error) {
	t, err := e.ep.Wait(ctx)
	if err != nil {
		return t, err
	}
	e.mu.Lock()
	var id uint64
	if len(e.pending) > 0 && e.pending[0].t == t {
		id = e.pending[0].id
		e.pending = e.pending[1:]
	} else {
		id = e.find(t)
	}
	e.mu.Unlock()
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
	e.d.complete(&r)
	return t, nil
}

// find removes and returns t's id when a backend returned transfers out of
// order (a backend bug, but the trace should still pair); called with e.mu
// held and the front not matching.
func (e *Endpoint) find(t *hw.Transfer) uint64 {
	for i, p := range e.pending {
		if p.t == t {
			e.pending = append(e.pending[:i], e.pending[i+1:]...)
			return p.id
		}
	}
	return 0
}

// Cancel is passed through; the cancelled transfers' 'C' records (status
// -ENOENT) are written when Wait returns them.
func (e *Endpoint) Cancel() { e.ep.Cancel() }

// InFlight is the wrapped endpoint's.
func (e *Endpoint) InFlight() int { return e.ep.InFlight() }

// Close closes the wrapped endpoint.
func (e *Endpoint) Close() error { return e.ep.Close() }
