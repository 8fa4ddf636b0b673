package rules

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"dongle/hw"
	"dongle/usbnet"
)

// An error storm is StormCount URB failures within StormWindow: a healthy
// bus fails none, and a driver's one-off probe of an unsupported request
// is a stall on ep0, which is not counted (see stormy).
//
// A storm the device's life ends on is its disconnect, not a storm: a host
// controller fails every URB queued at an unplug (dummy_hcd with -EPROTO,
// then -ESHUTDOWN for the resubmitted one). When no URB succeeds after the
// storm and then a URB completes -ENODEV/-ESHUTDOWN or the adapter
// re-enumerates, those failures are device-vanished's evidence, and the
// storm is dropped (in a new life the rule looks afresh):
//
//	storm ──success──► confirmed (reported)
//	  │
//	  ├──-ENODEV/-ESHUTDOWN, no success since──► explained (dropped at the end unless a success follows)
//	  └──new life, no success since──► dropped; the rule starts over
const (
	StormCount  = 10
	StormWindow = time.Second
)

var errorStormInfo = usbnet.RuleInfo{
	Name: "error-storm", Severity: usbnet.SeverityCritical,
	Title:   "URBs failing in bursts with protocol, timeout or stall errors",
	Trigger: "10 URBs (bulk, interrupt, or control other than a stall) completing -EPROTO, -EILSEQ, -ETIMEDOUT, -ETIME, -EPIPE, -EOVERFLOW or -EREMOTEIO within 1 s",
	Causes: []string{
		"signal problems: a bad cable, a marginal hub or port, too little bus power",
		"the device did not come back properly from suspend/resume (firmware lost state)",
		"the host controller (xHCI) in trouble; the device resetting itself",
	},
	Try: []string{
		"another cable, port, or a powered hub; avoid front-panel ports",
		"disable USB autosuspend (echo on > power/control) and retest",
		"look at dmesg for xHCI errors and resets around the cited records",
	},
}

// stormy reports whether a failure counts toward a storm. A stall of a
// control request is the device refusing that request (drivers probe
// optional ones), and QEMU logs every failure on ep0 as -EREMOTEIO.
func stormy(e *usbnet.Event) bool {
	switch e.Status {
	case stEPROTO, stEILSEQ, stETIMEDOUT, stETIME, stEOVERFLOW:
		return true
	case stEPIPE, stEREMOTEIO:
		return e.Xfer != hw.XferControl
	}
	return false
}

type errorStorm struct {
	win    [StormCount]cite // ring of the last failures
	head   int
	filled int
	first  [StormCount]cite                // the window that made the storm
	more   [MaxCited - StormCount - 1]cite // the failures after it, as many as the cap leaves
	nmore  int
	fired  bool
	// confirmed: a URB succeeded after the storm fired; explained: the
	// device went (-ENODEV/-ESHUTDOWN) with none succeeding since.
	confirmed, explained bool
	total                int
	last                 cite
	counts               [8]struct { // by status: more slots than stormy statuses
		st int32
		n  int
	}
}

func (r *errorStorm) Info() usbnet.RuleInfo { return errorStormInfo }

func (r *errorStorm) Observe(e *usbnet.Event) {
	if r.fired && !r.confirmed {
		switch {
		case e.Kind == usbnet.EventLife && e.Life > 1:
			*r = errorStorm{} // the storm was the old life's end
			return
		case e.Kind == usbnet.EventComplete && e.Status == 0:
			r.confirmed = true
		case e.Kind == usbnet.EventComplete && gone(e.Status):
			r.explained = true
		}
	}
	if (e.Kind != usbnet.EventComplete && e.Kind != usbnet.EventSubmitError) || !stormy(e) {
		return
	}
	c := cite{rec: e.Record, t: e.Time, status: e.Status, n: int(e.Endpoint)}
	if r.fired {
		r.count(e.Status)
		r.total++
		if r.nmore < len(r.more) {
			r.more[r.nmore] = c
			r.nmore++
		}
		r.last = c
		return
	}
	r.win[r.head] = c
	r.head = (r.head + 1) % StormCount
	if r.filled < StormCount {
		r.filled++
	}
	oldest := r.win[r.head%StormCount]
	if r.filled == StormCount && e.Time.Sub(oldest.t) <= StormWindow {
		r.fired = true
		for i := 0; i < StormCount; i++ {
			r.first[i] = r.win[(r.head+i)%StormCount]
			r.count(r.first[i].status)
		}
		r.total = StormCount
		r.last = c
	}
}

func (r *errorStorm) count(st int32) {
	for i := range r.counts {
		if r.counts[i].st == st {
			r.counts[i].n++
			return
		}
		if r.counts[i].n == 0 {
			r.counts[i].st, r.counts[i].n = st, 1
			return
		}
	}
}

func (r *errorStorm) Verdict(time.Time) *usbnet.Finding {
	if !r.fired || (r.explained && !r.confirmed) {
		return nil
	}
	var by []string
	cs := r.counts
	sort.SliceStable(cs[:], func(i, j int) bool { return cs[i].n > cs[j].n })
	for _, c := range cs {
		if c.n > 0 {
			by = append(by, fmt.Sprintf("%s ×%d", statusName(c.st), c.n))
		}
	}
	span := r.first[StormCount-1].t.Sub(r.first[0].t)
	f := usbnet.NewFinding(errorStormInfo, fmt.Sprintf("%d failed URBs from record %d (the first %d within %v): %s",
		r.total, r.first[0].rec, StormCount, span.Round(time.Millisecond), strings.Join(by, ", ")))
	for _, c := range append(r.first[:], r.more[:r.nmore]...) {
		f.Cite(c.rec, c.t, fmt.Sprintf("endpoint %#02x completed %s", c.n, statusName(c.status)))
	}
	if r.last.rec != r.first[StormCount-1].rec && (r.nmore == 0 || r.last.rec != r.more[r.nmore-1].rec) {
		f.Cite(r.last.rec, r.last.t, fmt.Sprintf("the last failure: endpoint %#02x, %s", r.last.n, statusName(r.last.status)))
	}
	return f
}
