package rules

import (
	"fmt"
	"time"

	"dongle/hw"
	"dongle/usbnet"
)

// Starvation: bulk IN had no URB outstanding for StarveGap or more after
// a successful completion (not after ifdown's unlinks), and the URB that
// ended the gap came back with data within StarveQuick: the device had
// data waiting while the host was not reading. StarveEpisodes of them
// fire the rule (one could be data arriving by chance just then). Only
// URBs whose submission the capture shows are counted: a completion of
// one submitted before it began voids the gap it falls in, and only a
// host-side log (usbnet.Event.HostView) is judged. StarveQuick leaves a
// host controller the few (micro)frames it takes to serve a URB queued
// when data is already waiting: dummy_hcd's 1 ms frame timer completed a
// 490-byte IN that had waited for 1 s 2.06 ms after its submission
// (fixtures/failure-rx-starvation.pcap, records 64/65).
const (
	StarveGap      = 100 * time.Millisecond
	StarveQuick    = 5 * time.Millisecond
	StarveEpisodes = 2
)

var rxStarvationInfo = usbnet.RuleInfo{
	Name: "rx-starvation", Severity: usbnet.SeverityError,
	Title:   "the host stopped reading bulk IN while the device had data",
	Trigger: "2 gaps of 100 ms or more with no bulk IN URB outstanding (after a successful completion), each ended by a URB that completed with data within 5 ms",
	Causes: []string{
		"the host resubmits RX URBs only after the stack consumed the frames (a slow consumer, a full RX queue, a throttled bottom half)",
		"too few RX URBs queued (a userspace driver with one transfer in flight)",
		"RX paused by the driver after an error (EVENT_RX_PAUSED, EVENT_RX_MEMORY) and resumed late",
	},
	Try: []string{
		"queue more RX URBs (usbnet queues 10 or more), resubmit from the completion",
		"look at the host's RX drop counters and CPU load when the gaps happen",
	},
}

type rxStarve struct {
	out     [16]int       // bulk IN URBs outstanding, by endpoint number
	idle    [16]cite      // when (and where) the last one completed OK
	gapFrom [16]cite      // a gap being judged: its start
	gapSub  [16]cite      // and the submission that ended it
	hits    citeList      // [idle from, submission, quick completion] triples
	longest time.Duration // of the episodes
}

func (r *rxStarve) Info() usbnet.RuleInfo { return rxStarvationInfo }

func (r *rxStarve) Observe(e *usbnet.Event) {
	if e.Xfer != hw.XferBulk || !e.In() {
		return
	}
	i := int(e.Endpoint & 0x0f)
	switch e.Kind {
	case usbnet.EventSubmit:
		if !e.HostView {
			r.idle[i], r.gapSub[i] = cite{}, cite{}
			return // a device-side log: its submissions are the device's answers
		}
		if r.out[i] == 0 && r.idle[i].rec != 0 && e.Time.Sub(r.idle[i].t) >= StarveGap {
			r.gapFrom[i], r.gapSub[i] = r.idle[i], cite{rec: e.Record, t: e.Time}
		}
		r.idle[i] = cite{}
		r.out[i]++
	case usbnet.EventComplete, usbnet.EventSubmitError:
		if e.SubmitRecord == 0 {
			// A URB submitted before the capture began: how many are
			// outstanding is not known, and no gap seen so far was one.
			r.idle[i], r.gapSub[i] = cite{}, cite{}
			return
		}
		if r.out[i] > 0 {
			r.out[i]--
		}
		if g := r.gapSub[i]; g.rec != 0 {
			if e.Status == 0 && e.Length > 0 && e.Time.Sub(g.t) <= StarveQuick {
				gap := g.t.Sub(r.gapFrom[i].t)
				r.longest = max(r.longest, gap)
				r.hits.add(cite{rec: r.gapFrom[i].rec, t: r.gapFrom[i].t, n: int(gap / time.Millisecond), what: 0})
				r.hits.add(cite{rec: g.rec, t: g.t, what: 1})
				r.hits.add(cite{rec: e.Record, t: e.Time, n: e.Length, what: 2})
			}
			r.gapSub[i] = cite{}
		}
		if r.out[i] == 0 && e.Status == 0 && e.Kind == usbnet.EventComplete {
			r.idle[i] = cite{rec: e.Record, t: e.Time}
		}
	}
}

func (r *rxStarve) Verdict(time.Time) *usbnet.Finding {
	if r.hits.total < 3*StarveEpisodes {
		return nil
	}
	f := usbnet.NewFinding(rxStarvationInfo, fmt.Sprintf("%d gap(s) with no bulk IN URB outstanding while the device had data (longest %v)", r.hits.total/3, r.longest.Round(time.Millisecond)))
	r.hits.evidence(f, func(c cite) string {
		switch c.what {
		case 0:
			return fmt.Sprintf("the last bulk IN URB completed; none outstanding for %d ms", c.n)
		case 1:
			return "bulk IN URB submitted after the gap"
		}
		return fmt.Sprintf("it completed at once with %d bytes", c.n)
	})
	return f
}
