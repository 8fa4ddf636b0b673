package usbnet

import (
	"dongle/hw"
)

// Deferred events (Linux's EVENT_* bits for usbnet_deferred_kevent): work
// that needs a control transfer or may sleep, so it runs on the kevent
// worker, never in the bottom half or under d.mu.
const (
	evRxHalt uint32 = 1 << iota
	evTxHalt
	evStatusHalt
	evLinkReset
	evThrottle
)

// defer_ is usbnet_defer_kevent: set the bit and wake the worker. It
// never blocks and is safe from any goroutine, with or without d.mu.
func (d *Dev) defer_(ev uint32) {
	d.kflags.Or(ev)
	select {
	case d.kkick <- struct{}{}:
	default:
	}
}

// kevent is the worker goroutine. It runs while the device is open.
func (d *Dev) kevent() {
	defer d.kwg.Done()
	for {
		select {
		case <-d.kquit:
			return
		default:
		}
		if f := d.kflags.Swap(0); f != 0 {
			d.runEvents(f)
			continue
		}
		select {
		case <-d.kkick:
		case <-d.kquit:
			return
		}
	}
}

// clearHalt clears a halt; on failure it retries after the throttle
// delay, unless the device is gone.
func (d *Dev) clearHalt(e hw.EndpointDesc, ev uint32) bool {
	if err := d.HW.ClearHalt(e.Address); err != nil {
		if hw.StatusOf(err) == hw.ErrNoDevice {
			d.markGone()
			return false
		}
		d.kflags.Or(ev)
		d.mu.Lock()
		d.throttle()
		d.mu.Unlock()
		return false
	}
	return true
}

func (d *Dev) runEvents(f uint32) {
	d.ctl.Lock()
	defer d.ctl.Unlock()
	if d.gone.Load() {
		return
	}
	if f&evTxHalt != 0 && d.clearHalt(d.Out, evTxHalt) {
		d.counters.TxHaltsCleared.Add(1)
		d.mu.Lock()
		d.txHalted = false
		wake := d.txStopped && len(d.txFree) > 0 && d.runningLocked()
		if wake {
			d.txStopped = false
		}
		d.mu.Unlock()
		if wake {
			d.Net.WakeQueue()
		}
		if d.agg != nil {
			d.aggResume()
		}
	}
	if f&evRxHalt != 0 && d.clearHalt(d.In, evRxHalt) {
		d.counters.RxHaltsCleared.Add(1)
		d.mu.Lock()
		d.rxHalted = false
		d.resubmitParkedLocked()
		d.mu.Unlock()
	}
	if f&evStatusHalt != 0 && d.clearHalt(d.Status, evStatusHalt) {
		d.counters.StatusHaltsCleared.Add(1)
		d.mu.Lock()
		d.stHalted = false
		if d.st.parked {
			d.submitStatusLocked()
		}
		d.mu.Unlock()
	}
	if f&evThrottle != 0 {
		d.mu.Lock()
		if !d.rxHalted {
			d.resubmitParkedLocked()
		}
		if d.status != nil && d.st.parked && !d.stHalted {
			d.submitStatusLocked()
		}
		d.mu.Unlock()
	}
	if f&evLinkReset != 0 {
		d.counters.LinkResets.Add(1)
		d.linkMu.Lock()
		downs := d.linkDowns
		d.linkMu.Unlock()
		err := d.Driver.LinkReset(d)
		if err != nil {
			d.counters.LinkResetErrors.Add(1)
		}
		// The link came up (LinkChange with needReset) and has not gone
		// down since: the chip is set up for it now, so the carrier
		// comes on. A failed LinkReset leaves the carrier off: the
		// device is not set up for the link it reported. A link that
		// went down while LinkReset ran gets no carrier from it: the
		// chip was set up for a link that has gone, and one that came
		// back up has set evLinkReset again, whose LinkReset sets the
		// chip up for the link as it is now.
		d.linkMu.Lock()
		if d.linkDowns == downs && d.linkUpPending.CompareAndSwap(true, false) && err == nil && !d.gone.Load() {
			d.Net.CarrierOn()
		}
		d.linkMu.Unlock()
	}
}

// resubmitParkedLocked resubmits every parked RX transfer. d.mu held.
func (d *Dev) resubmitParkedLocked() {
	parked := d.rxParked
	d.rxParked = d.rxParked[:0]
	for i, s := range parked {
		parked[i] = nil
		d.submitRxLocked(s)
	}
}
