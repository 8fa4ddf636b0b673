package rules

import (
	"fmt"
	"time"

	"dongle/hw"
	"dongle/usbnet"
)

// The link needed the filter when the status endpoint was polled for
// FilterPoll or more with no link up before the host's last
// SET_ETHERNET_PACKET_FILTER ahead of the first link up, and the link
// came up within FilterLag of it. Linux's cdc_ether sets the filter as the interface opens, moments
// after it starts polling: a device that reports link on its own has done
// so long before FilterPoll.
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
	Trigger: "the status endpoint polled 1 s or more without a link up before a SET_ETHERNET_PACKET_FILTER, and the first link up within 1 s after that request",
	Causes: []string{
		"device firmware that enables its MAC (and its link notification) only once a packet filter is set, as some CDC ECM/NCM gadgets and phones do",
	},
	Try: []string{
		"make the host driver send SET_ETHERNET_PACKET_FILTER at bind (Linux's cdc_ether does, in usbnet_cdc_update_filter); a host that never sends it sees no link at all",
	},
}

type linkNeedsFilter struct {
	poll     cite // the first status endpoint submission
	upBefore bool
	filter   cite // the last successful filter request (its submission) before the link came up
	up       cite
	done     bool
}

func (r *linkNeedsFilter) Info() usbnet.RuleInfo { return linkNeedsFilterInfo }

func (r *linkNeedsFilter) Observe(e *usbnet.Event) {
	if r.done {
		return
	}
	switch {
	case e.Kind == usbnet.EventSubmit && e.Xfer == hw.XferInterrupt && e.In():
		if r.poll.rec == 0 {
			r.poll = cite{rec: e.Record, t: e.Time}
		}
	case e.Kind == usbnet.EventLink && e.Up:
		if r.filter.rec == 0 {
			r.upBefore, r.done = true, true
			return
		}
		r.up, r.done = cite{rec: e.Record, t: e.Time}, true
	case e.Kind == usbnet.EventComplete && e.HasSetup && e.Status == 0 &&
		e.Setup.RequestType == cdcClassIntf && e.Setup.Request == cdcSetPacketFilter:
		// The last filter before the link came up is the one it waited
		// for (cdc_ether sets one at bind, before polling, and again as
		// the interface opens).
		r.filter = cite{rec: e.SubmitRecord, t: e.Submitted, n: int(e.Setup.Value)}
		if r.filter.rec == 0 {
			r.filter = cite{rec: e.Record, t: e.Time, n: int(e.Setup.Value)}
		}
	}
}

func (r *linkNeedsFilter) Verdict(time.Time) *usbnet.Finding {
	if r.upBefore || r.poll.rec == 0 || r.filter.rec == 0 || r.up.rec == 0 {
		return nil
	}
	polled, lag := r.filter.t.Sub(r.poll.t), r.up.t.Sub(r.filter.t)
	if polled < FilterPoll || lag > FilterLag {
		return nil
	}
	f := usbnet.NewFinding(linkNeedsFilterInfo, fmt.Sprintf("no link in %v of polling; link up %v after SET_ETHERNET_PACKET_FILTER", polled.Round(time.Millisecond), lag.Round(time.Millisecond)))
	f.Cite(r.poll.rec, r.poll.t, "the status endpoint polled from here, no link up")
	f.Cite(r.filter.rec, r.filter.t, fmt.Sprintf("SET_ETHERNET_PACKET_FILTER(0x%02x)", r.filter.n))
	f.Cite(r.up.rec, r.up.t, "link up")
	return f
}
