package rules

import (
	"fmt"
	"time"

	"dongle/usbnet"
)

// Poor aggregation: within one AggWindow, AggFrames or more RX frames
// and every bulk IN transfer carrying exactly one, on a driver whose
// device batches (usbnet.FlagMultiPacket). At that rate a chip with its
// bulk-in aggregation on puts several frames in a transfer; at light load
// one per transfer is normal, and CDC ECM is one per transfer by design.
const (
	AggWindow = time.Second
	AggFrames = 4000
)

var poorAggregationInfo = usbnet.RuleInfo{
	Name: "poor-aggregation", Severity: usbnet.SeverityWarning,
	Title:   "a device that can batch frames sends one frame per transfer under load",
	Trigger: "4000 or more RX frames within 1 s, every bulk IN transfer of them holding exactly one frame, on a driver whose device aggregates (AX88179, RTL8153, NCM, ASIX)",
	Causes: []string{
		"the chip's RX aggregation is off or its timeout zero (AX88179 bulk-in control, r8152 RX agg timer, NCM dwNtbInMaxSize set to one frame)",
		"the host's rx_urb_size too small to hold two frames",
	},
	Try: []string{
		"compare the aggregation registers (dongle diag) with the vendor driver's; raise rx_urb_size / SET_NTB_INPUT_SIZE",
		"expect lower throughput and more CPU per frame until it is fixed",
	},
}

type poorAggregation struct {
	start            time.Time
	first, last      cite
	frames, transfer int
	multi            bool
	hits             citeList // [first, last] transfer of each window
	windows          int
	maxFrames        int
}

func (r *poorAggregation) Info() usbnet.RuleInfo { return poorAggregationInfo }

func (r *poorAggregation) Observe(e *usbnet.Event) {
	if e.Kind != usbnet.EventTransfer || !e.In() || e.Frames == 0 {
		return
	}
	if r.start.IsZero() || e.Time.Sub(r.start) >= AggWindow {
		r.close()
		r.start, r.first, r.frames, r.transfer, r.multi = e.Time, cite{rec: e.Record, t: e.Time}, 0, 0, false
	}
	r.frames += e.Frames
	r.transfer++
	r.multi = r.multi || e.Frames > 1
	r.last = cite{rec: e.Record, t: e.Time}
}

// close judges the window ending.
func (r *poorAggregation) close() {
	if r.frames >= AggFrames && !r.multi {
		r.windows++
		r.maxFrames = max(r.maxFrames, r.frames)
		r.hits.add(cite{rec: r.first.rec, t: r.first.t, n: r.frames, what: 0})
		r.hits.add(cite{rec: r.last.rec, t: r.last.t, n: r.transfer, what: 1})
	}
}

func (r *poorAggregation) Verdict(time.Time) *usbnet.Finding {
	r.close()
	r.frames = 0
	if r.windows == 0 {
		return nil
	}
	f := usbnet.NewFinding(poorAggregationInfo, fmt.Sprintf("%d second(s) of load (up to %d frames/s) at one frame per bulk IN transfer", r.windows, r.maxFrames))
	r.hits.evidence(f, func(c cite) string {
		if c.what == 0 {
			return fmt.Sprintf("the first of %d RX frames in 1 s, each alone in its transfer", c.n)
		}
		return fmt.Sprintf("the last of those %d transfers", c.n)
	})
	return f
}
