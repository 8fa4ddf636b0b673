package rules

import (
	"fmt"
	"time"

	"dongle/hw"
	"dongle/usbnet"
)

// HaltGrace is how long a host may take to clear a halt: Linux's usbnet
// clears it from its kevent work, within milliseconds. A halt in the last
// HaltGrace of a capture is not judged.
const HaltGrace = time.Second

var haltNotClearedInfo = usbnet.RuleInfo{
	Name: "halt-not-cleared", Severity: usbnet.SeverityCritical,
	Title:   "a bulk endpoint halted and the host never cleared it",
	Trigger: "a bulk URB completing -EPIPE and no successful CLEAR_FEATURE(ENDPOINT_HALT) for that endpoint (nor SET_CONFIGURATION/SET_INTERFACE, nor a re-enumeration) in the 1 s or more of capture after it",
	Causes: []string{
		"the host stack does not handle -EPIPE on bulk (usbnet's EVENT_RX_HALT/EVENT_TX_HALT clear it; a userspace driver must call libusb_clear_halt)",
		"the device stalls the endpoint on an internal error (FIFO overrun, bad framing from the host)",
	},
	Try: []string{
		"clear the halt (libusb_clear_halt / usb_clear_halt) and resubmit; check that the driver does",
		"find what the host sent just before the stall: a malformed TX transfer, an oversize NTB",
	},
}

type haltNotCleared struct {
	halted [32]cite     // by endpoint number and direction; rec 0: not halted
	after  [32]citeList // the URBs failing -EPIPE on it since (the cap shared with the halt's own)
}

func epIndex(ep uint8) int { return int(ep&0x0f) | int(ep>>7)<<4 }

func (r *haltNotCleared) Info() usbnet.RuleInfo { return haltNotClearedInfo }

func (r *haltNotCleared) Observe(e *usbnet.Event) {
	switch {
	case e.Kind == usbnet.EventLife:
		r.clearAll()
	case e.Kind != usbnet.EventComplete:
	case e.Xfer == hw.XferBulk && e.Status == stEPIPE:
		i := epIndex(e.Endpoint)
		if r.halted[i].rec == 0 {
			r.halted[i] = cite{rec: e.Record, t: e.Time, n: int(e.Endpoint)}
		} else {
			r.after[i].add(cite{rec: e.Record, t: e.Time})
		}
	case e.Xfer == hw.XferControl && e.HasSetup && e.Status == 0:
		s := e.Setup
		switch {
		case s.RequestType == hw.RecipEndpoint && s.Request == hw.ReqClearFeature && s.Value == 0:
			i := epIndex(uint8(s.Index))
			r.halted[i], r.after[i] = cite{}, citeList{}
		case s.RequestType == 0 && s.Request == hw.ReqSetConfiguration, s.RequestType == hw.RecipInterface && s.Request == hw.ReqSetInterface:
			r.clearAll()
		}
	}
}

func (r *haltNotCleared) clearAll() {
	r.halted, r.after = [32]cite{}, [32]citeList{}
}

func (r *haltNotCleared) Verdict(end time.Time) *usbnet.Finding {
	var f *usbnet.Finding
	n := 0
	for i, c := range r.halted {
		if c.rec == 0 || end.Sub(c.t) < HaltGrace {
			continue
		}
		if f == nil {
			f = usbnet.NewFinding(haltNotClearedInfo, "")
		}
		n++
		f.Cite(c.rec, c.t, fmt.Sprintf("endpoint %#02x halted (-32 EPIPE), not cleared in the %v after; %d more URBs failed on it", c.n, end.Sub(c.t).Round(time.Millisecond), r.after[i].total))
		for _, a := range r.after[i].list()[:min(r.after[i].n, MaxCited-1)] {
			f.Cite(a.rec, a.t, fmt.Sprintf("endpoint %#02x still halted: -32 EPIPE again", c.n))
		}
	}
	if f != nil {
		f.Summary = fmt.Sprintf("%d bulk endpoint(s) halted and never cleared", n)
	}
	return f
}
