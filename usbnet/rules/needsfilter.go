package rules

import (
	"fmt"
	"time"

	"dongle/hw"
	"dongle/usbnet"
)

// The link needed the filter when, in a span without link (from the
// first poll of the status endpoint, or from the link going down), the
// host polled FilterPoll or more before its last
// SET_ETHERNET_PACKET_FILTER of the span, and the link came up within
// FilterLag of it. Linux's cdc_ether sets the filter as the interface
// opens, moments after it starts polling, and not on a cable's return: a
// device that reports link on its own has done so long before FilterPoll,
// or without a filter at all. A device that withholds link until the
// filter does so again after each link down
// (fixtures/failure-link-needs-filter.pcap: the link down at record 108,
// 2.1 s of polling, the filter at 117, the link up 1.2 ms after it).
const (
	FilterPoll = time.Second
	FilterLag  = time.Second
)

// CDC's SET_ETHERNET_PACKET_FILTER (class request to the interface).
const (
	cdcSetPacketFilter = 0x43
	cdcClassIntf       = hw.DirOut | hw.TypeClass | hw.RecipInterface
)

var linkNeedsFilterInfo = usbnet.RuleInfo{
	Name: "link-needs-filter", Severity: usbnet.SeverityWarning,
	Title:   "the device reports no link until the host sets its packet filter",
	Trigger: "the status endpoint polled 1 s or more without link (from the first poll, or from the link going down) before a SET_ETHERNET_PACKET_FILTER, and the link up within 1 s after that request",
	Causes: []string{
		"device firmware that enables its MAC (and its link notification) only once a packet filter is set, as some CDC ECM/NCM gadgets and phones do",
	},
	Try: []string{
		"make the host driver send SET_ETHERNET_PACKET_FILTER at bind (Linux's cdc_ether does, in usbnet_cdc_update_filter); a host that never sends it sees no link at all",
	},
}

type linkNeedsFilter struct {
	since  cite // the span without link: its first poll, or the link down
	up     bool // the link is up (the span ended)
	filter cite // the last successful filter request (its submission) of the span
	hits   citeList
	polled time.Duration // of the first hit
	lag    time.Duration
}

func (r *linkNeedsFilter) Info() usbnet.RuleInfo { return linkNeedsFilterInfo }

func (r *linkNeedsFilter) Observe(e *usbnet.Event) {
	switch {
	case e.Kind == usbnet.EventLife: // enumerated again: no link until it says so
		r.up, r.since, r.filter = false, cite{}, cite{}
	case e.Kind == usbnet.EventSubmit && e.Xfer == hw.XferInterrupt && e.In():
		if r.since.rec == 0 && !r.up {
			r.since = cite{rec: e.Record, t: e.Time}
		}
	case e.Kind == usbnet.EventLink && !e.Up:
		if r.up && r.since.rec == 0 {
			r.since = cite{rec: e.Record, t: e.Time, what: 1}
		}
		r.up = false
	case e.Kind == usbnet.EventLink && e.Up:
		if r.up {
			return
		}
		r.up = true
		if r.since.rec != 0 && r.filter.rec != 0 {
			polled, lag := r.filter.t.Sub(r.since.t), e.Time.Sub(r.filter.t)
			if polled >= FilterPoll && lag <= FilterLag {
				if r.hits.total == 0 {
					r.polled, r.lag = polled, lag
				}
				r.hits.add(r.since)
				r.hits.add(r.filter)
				r.hits.add(cite{rec: e.Record, t: e.Time, what: 3})
			}
		}
		r.since, r.filter = cite{}, cite{}
	case e.Kind == usbnet.EventComplete && e.HasSetup && e.Status == 0 &&
		e.Setup.RequestType == cdcClassIntf && e.Setup.Request == cdcSetPacketFilter:
		if r.since.rec == 0 || r.up {
			return // no span without link polled: not one the link waited for
		}
		// The last filter before the link came up is the one it waited
		// for (cdc_ether sets one at bind, before polling, and again as
		// the interface opens).
		r.filter = cite{rec: e.SubmitRecord, t: e.Submitted, n: int(e.Setup.Value), what: 2}
		if r.filter.rec == 0 {
			r.filter = cite{rec: e.Record, t: e.Time, n: int(e.Setup.Value), what: 2}
		}
	}
}

func (r *linkNeedsFilter) Verdict(time.Time) *usbnet.Finding {
	if r.hits.total == 0 {
		return nil
	}
	f := usbnet.NewFinding(linkNeedsFilterInfo, fmt.Sprintf("no link in %v of polling; link up %v after SET_ETHERNET_PACKET_FILTER", r.polled.Round(time.Millisecond), r.lag.Round(time.Millisecond)))
	if n := r.hits.total / 3; n > 1 {
		f.Summary += fmt.Sprintf(" (%d times)", n)
	}
	r.hits.evidence(f, func(c cite) string {
		switch c.what {
		case 0:
			return "the status endpoint polled from here, no link up"
		case 1:
			return "link down; the status endpoint polled from here, no link up"
		case 2:
			return fmt.Sprintf("SET_ETHERNET_PACKET_FILTER(0x%02x)", c.n)
		}
		return "link up"
	})
	return f
}
