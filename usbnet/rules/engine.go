package rules

import (
	"sort"
	"time"

	"dongle/usbnet"
)

// Generic returns fresh instances of the generic rules. batches says
// whether the device aggregates frames in a transfer (the driver's
// usbnet.FlagMultiPacket): only then is one frame per transfer poor.
func Generic(batches bool) []usbnet.Rule {
	rs := []usbnet.Rule{
		&txTimeout{}, &errorStorm{}, &linkFlap{}, &deviceVanished{}, &haltNotCleared{},
		&rxStarve{}, &registerAccess{}, &linkNeedsFilter{}, &rxOverflow{},
	}
	if batches {
		rs = append(rs, &poorAggregation{})
	}
	return rs
}

// ForDriver returns the rules for a trace decoded with drv (nil: no
// driver): the generic ones and the driver's own (usbnet.RuleSource), c
// being what the trace shows of the device.
func ForDriver(drv usbnet.Minidriver, c *usbnet.Capture) []usbnet.Rule {
	batches := drv != nil && drv.Flags()&usbnet.FlagMultiPacket != 0
	rs := Generic(batches)
	if src, ok := drv.(usbnet.RuleSource); ok {
		rs = append(rs, src.FailureRules(c)...)
	}
	return rs
}

// Catalogue is every failure mode drivers and the generic rules know, by
// name (a name two drivers implement, as checksum-fail, once), in the
// order of Generic then of drivers.
func Catalogue(drivers []usbnet.Minidriver) []usbnet.RuleInfo {
	var out []usbnet.RuleInfo
	seen := map[string]bool{}
	add := func(rs []usbnet.Rule) {
		for _, r := range rs {
			if i := r.Info(); !seen[i.Name] {
				seen[i.Name] = true
				out = append(out, i)
			}
		}
	}
	add(Generic(true))
	for _, d := range drivers {
		if src, ok := d.(usbnet.RuleSource); ok {
			add(src.FailureRules(nil))
		}
	}
	return out
}

// Engine feeds a trace's events to its rules and its Timeline.
type Engine struct {
	rules []usbnet.Rule
	tl    *Timeline
	end   time.Time
}

// NewEngine runs rs (and a Timeline) over the events Observe is given.
func NewEngine(rs []usbnet.Rule) *Engine {
	return &Engine{rules: rs, tl: NewTimeline()}
}

// Observe hands one event to every rule and to the timeline.
func (g *Engine) Observe(e *usbnet.Event) {
	for _, r := range g.rules {
		r.Observe(e)
	}
	g.tl.Observe(e)
	if e.Time.After(g.end) {
		g.end = e.Time
	}
}

// Timeline is the trace's timeline so far.
func (g *Engine) Timeline() *Timeline { return g.tl }

// Findings asks every rule for its verdict (once, after the last event):
// the rules that fired, most severe first, then by their first cited
// record.
func (g *Engine) Findings() []usbnet.Finding {
	var out []usbnet.Finding
	for _, r := range g.rules {
		if f := r.Verdict(g.end); f != nil {
			out = append(out, *f)
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Severity != out[j].Severity {
			return out[i].Severity > out[j].Severity
		}
		return firstRecord(&out[i]) < firstRecord(&out[j])
	})
	return out
}

func firstRecord(f *usbnet.Finding) int {
	m := 0
	for _, e := range f.Evidence {
		if m == 0 || e.Record < m {
			m = e.Record
		}
	}
	return m
}
