package rules

import (
	"fmt"
	"time"

	"dongle/usbnet"
)

// Poor aggregation: AggRun or more bulk IN transfers in a row, each
// holding exactly one frame and each within AggGap of the one before (a
// rate of 4000 frames/s or more), on a driver whose device batches
// (usbnet.FlagMultiPacket). Frames coming that close together were
// waiting in the device together: a chip with its bulk-in aggregation on
// (or an NCM device with room in its NTB) puts them in one transfer. At
// light load one per transfer is normal, and CDC ECM is one per transfer
// by design. The rate is judged over a run, not a whole second: a lab
// burst of 40 full-size frames (fixtures/failure-poor-aggregation.pcap:
// cdc_ncm's NTBs at 2048 bytes, 39 one-datagram NTBs 16..95 µs apart) is
// as telling as a second of load, and a TCG guest cannot keep one up.
const (
	AggGap = 250 * time.Microsecond
	AggRun = 32
)

var poorAggregationInfo = usbnet.RuleInfo{
	Name: "poor-aggregation", Severity: usbnet.SeverityWarning,
	Title:   "a device that can batch frames sends one frame per transfer under load",
	Trigger: "32 or more bulk IN transfers in a row, each holding exactly one frame and each within 250 µs of the one before (4000 frames/s or more), on a driver whose device aggregates (AX88179, RTL8153, NCM, ASIX)",
	Causes: []string{
		"the chip's RX aggregation is off or its timeout zero (AX88179 bulk-in control, r8152 RX agg timer, NCM dwNtbInMaxSize set to one frame)",
		"the host's rx_urb_size (NCM: SET_NTB_INPUT_SIZE) too small to hold two frames",
	},
	Try: []string{
		"compare the aggregation registers (dongle diag) with the vendor driver's; raise rx_urb_size / SET_NTB_INPUT_SIZE",
		"expect lower throughput and more CPU per frame until it is fixed",
	},
}

type poorAggregation struct {
	run    citeList // the current run's transfers (the first MaxCited)
	last   time.Time
	hits   citeList // the transfers of the runs that fired
	runs   int
	maxRun int
	rate   float64 // frames/s of the longest run
}

func (r *poorAggregation) Info() usbnet.RuleInfo { return poorAggregationInfo }

func (r *poorAggregation) Observe(e *usbnet.Event) {
	if e.Kind != usbnet.EventTransfer || !e.In() || e.Frames == 0 {
		return
	}
	if e.Frames > 1 { // the device batches: the run was light load
		r.run = citeList{}
		return
	}
	if r.run.total > 0 && e.Time.Sub(r.last) > AggGap {
		r.close()
	}
	if r.run.total == 0 {
		r.run.add(cite{rec: e.Record, t: e.Time, what: 1})
	} else {
		r.run.add(cite{rec: e.Record, t: e.Time, n: int(e.Time.Sub(r.last).Microseconds())})
	}
	r.last = e.Time
}

// close judges the run ending.
func (r *poorAggregation) close() {
	if n := r.run.total; n >= AggRun {
		r.runs++
		if n > r.maxRun {
			r.maxRun = n
			if d := r.last.Sub(r.run.c[0].t); d > 0 {
				r.rate = float64(n-1) / d.Seconds()
			}
		}
		for _, c := range r.run.list() {
			r.hits.add(c)
		}
	}
	r.run = citeList{}
}

func (r *poorAggregation) Verdict(time.Time) *usbnet.Finding {
	r.close()
	if r.runs == 0 {
		return nil
	}
	f := usbnet.NewFinding(poorAggregationInfo, fmt.Sprintf("%d run(s) of one-frame bulk IN transfers under load (the longest %d transfers, %.0f frames/s)", r.runs, r.maxRun, r.rate))
	r.hits.evidence(f, func(c cite) string {
		if c.what == 1 {
			return "one frame alone in its transfer: a run begins"
		}
		return fmt.Sprintf("one frame alone in its transfer, %d µs after the last", c.n)
	})
	return f
}
