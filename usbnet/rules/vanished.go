package rules

import (
	"fmt"
	"time"

	"dongle/hw"
	"dongle/usbnet"
)

var deviceVanishedInfo = usbnet.RuleInfo{
	Name: "device-vanished", Severity: usbnet.SeverityCritical,
	Title:   "the device disappeared from the bus mid-traffic",
	Trigger: "a URB completing (or failing to submit) -ESHUTDOWN/-ENODEV after the device moved data, with no URB completing successfully at that address after it (the failures just before it, with no success between, are its evidence too); or the adapter (same VID:PID and serial) enumerating again at a new address after it moved data",
	Causes: []string{
		"the device reset or crashed (firmware watchdog, brown-out: the port cannot power it under load)",
		"the hub or host controller dropped it (xHCI died, port disabled after errors)",
		"it was unplugged, or a driver or tool reset it (usb_reset_device, a mode switch)",
	},
	Try: []string{
		"a powered hub or a port that gives enough current; another cable",
		"dmesg around the gap: 'USB disconnect', xHCI 'HC died', over-current",
		"if it comes back at a new address: look for what preceded it (TX timeouts, error storms)",
	},
}

// A URB finding the device gone is also what every URB of an interface
// gets when its configuration changes or its driver unbinds (usbcore
// disables the endpoints: -ESHUTDOWN); the device was gone only if it
// never completed a URB successfully at that address again. A host
// controller does not fail every URB of a departing device -ESHUTDOWN:
// dummy_hcd completes the URBs queued when the device disconnects
// -EPROTO, and only what is submitted after -ESHUTDOWN
// (fixtures/failure-device-vanished.pcap: 61 -EPROTO, then one
// -ESHUTDOWN). So the failures of a life's tail (no success after them)
// are kept, and count when the tail holds a gone status or the adapter
// comes back as a new life; a tail of other errors that the trace merely
// ends on is not a vanished device.
type deviceVanished struct {
	moved  bool     // a bulk transfer succeeded in this life
	maybe  citeList // failures not (yet) followed by a success
	gone   bool     // maybe holds a gone status
	lost   citeList
	lives  citeList // [previous life's last record, new life's first] pairs
	maxGap time.Duration
}

func (r *deviceVanished) Info() usbnet.RuleInfo { return deviceVanishedInfo }

func (r *deviceVanished) Observe(e *usbnet.Event) {
	switch e.Kind {
	case usbnet.EventComplete, usbnet.EventSubmitError:
		if e.Status == 0 && e.Kind == usbnet.EventComplete {
			r.maybe, r.gone = citeList{}, false // still there
			if e.Xfer == hw.XferBulk && e.Length > 0 {
				r.moved = true
			}
		}
		if r.moved && e.Status != 0 && !cancelled(e.Status) {
			r.maybe.add(cite{rec: e.Record, t: e.Time, status: e.Status, n: int(e.Endpoint)})
			r.gone = r.gone || gone(e.Status)
		}
	case usbnet.EventLife:
		r.settle(r.moved)
		if r.moved { // the first life begins before anything moved
			r.lives.add(cite{rec: e.PrevRecord, t: e.Time.Add(-e.Gap), n: e.Life - 1})
			r.lives.add(cite{rec: e.Record, t: e.Time, n: e.Life, status: int32(e.Bus)<<8 | int32(e.Address)})
			r.maxGap = max(r.maxGap, e.Gap)
		}
		r.moved = false
	}
}

// settle keeps the failures a life ended with when it ended because the
// device went: a gone status among them, or (ended) a new life after.
func (r *deviceVanished) settle(ended bool) {
	if r.gone || ended {
		for _, c := range r.maybe.list() {
			r.lost.add(c)
		}
		r.lost.total += r.maybe.total - r.maybe.n
	}
	r.maybe, r.gone = citeList{}, false
}

func (r *deviceVanished) Verdict(time.Time) *usbnet.Finding {
	r.settle(false)
	if r.lost.total == 0 && r.lives.total == 0 {
		return nil
	}
	s := fmt.Sprintf("%d URB(s) failed as the device went", r.lost.total)
	if r.lives.total > 0 {
		s += fmt.Sprintf("; it came back %d time(s) at a new address (longest gap %v)", r.lives.total/2, r.maxGap.Round(time.Millisecond))
	}
	f := usbnet.NewFinding(deviceVanishedInfo, s)
	r.lost.evidence(f, func(c cite) string {
		return fmt.Sprintf("endpoint %#02x: %s", c.n, statusName(c.status))
	})
	r.lives.evidence(f, func(c cite) string {
		if c.status == 0 {
			return fmt.Sprintf("the last record of life %d", c.n)
		}
		return fmt.Sprintf("life %d begins at %d.%d", c.n, c.status>>8, c.status&0xff)
	})
	return f
}
