package diag

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"

	"dongle/hw/usbmon"
	"dongle/usbnet"
	"dongle/usbnet/decode"
)

// The verdict: what the failure rules (usbnet/rules and the drivers' own)
// found in a trace, or in a live run's recording, printed before the
// detail.

// Verdict is the rules' judgement of a trace or a run.
type Verdict struct {
	// Judged is false when there was no trace to judge (Why says why).
	Judged bool   `json:"judged"`
	Why    string `json:"why,omitempty"`
	// Rules is how many rules looked; Findings the ones that fired, most
	// severe first.
	Rules    int              `json:"rules"`
	Findings []usbnet.Finding `json:"findings"`
}

// judge takes a decoded trace's findings and timeline into the report.
func (r *Report) judge(tr *decode.Trace) {
	r.Verdict = &Verdict{Judged: true, Rules: tr.Rules, Findings: tr.Findings}
	if r.Verdict.Findings == nil {
		r.Verdict.Findings = []usbnet.Finding{}
	}
	r.Timeline = tr.Timeline
}

// judgeRecording decodes a live run's recording (hw/record's pcap in buf)
// of the device at bus.addr bound by driver, and judges it.
func (r *Report) judgeRecording(buf []byte, bus int, addr int, driver string) {
	rd, err := usbmon.NewReader(bytes.NewReader(buf))
	if err != nil {
		r.Verdict = &Verdict{Why: "the run's recording: " + err.Error()}
		return
	}
	var recs []usbmon.Record
	for {
		rec, err := rd.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			r.Verdict = &Verdict{Why: "the run's recording: " + err.Error()}
			return
		}
		recs = append(recs, *rec.Clone())
	}
	tr, err := decode.Decode(recs, rd.LinkType(), decode.Options{Device: fmt.Sprintf("%d.%d", bus, addr), Driver: driver})
	if err != nil {
		r.Verdict = &Verdict{Why: "decoding the run's recording: " + err.Error()}
		return
	}
	r.judge(tr)
	r.Verdict.Why = fmt.Sprintf("judged on the recording of this run (%d records: descriptors, bind, self-test)", len(recs))
}

// printVerdict writes the verdict: the rules that fired, most severe
// first, each with its evidence, causes and what to try; or that none did.
func (v *Verdict) print(p func(string, ...any)) {
	if v == nil {
		return
	}
	if !v.Judged {
		p("Verdict:  not judged: %s", v.Why)
		return
	}
	if len(v.Findings) == 0 {
		p("Verdict:  nothing wrong found (%d failure rules, none fired)", v.Rules)
		if v.Why != "" {
			p("          %s", v.Why)
		}
		return
	}
	var names []string
	for _, f := range v.Findings {
		names = append(names, f.Rule)
	}
	p("Verdict:  %d failure(s): %s", len(v.Findings), strings.Join(names, ", "))
	if v.Why != "" {
		p("          %s", v.Why)
	}
	for _, f := range v.Findings {
		p("  [%s] %s: %s", f.Severity, f.Rule, f.Summary)
		// A long list shows its head and its tail: a rule's last
		// citations are often its conclusion (the last failure, where
		// the device came back).
		head, tail := len(f.Evidence), 0
		if head > EvidenceHead+EvidenceTail+1 {
			head, tail = EvidenceHead, EvidenceTail
		}
		for i, e := range f.Evidence {
			if i == head {
				p("      ... %d more records cited (--json lists them all)", len(f.Evidence)-head-tail)
			}
			if i >= head && i < len(f.Evidence)-tail {
				continue
			}
			p("      record %d (%s): %s", e.Record, e.Time.UTC().Format("15:04:05.000000"), e.What)
		}
		p("      likely causes: %s", strings.Join(f.Causes, "; "))
		p("      try: %s", strings.Join(f.Try, "; "))
	}
}

// EvidenceHead and EvidenceTail are how many of a finding's first and
// last cited records the text verdict prints when it cites more.
const (
	EvidenceHead = 8
	EvidenceTail = 3
)

// TimelineRows is how many intervals the text timeline prints at most.
const TimelineRows = 40

// WriteTimelineSVG draws the report's timeline (a trace's, or the live
// run's recording's); an error when there is none.
func (r *Report) WriteTimelineSVG(w io.Writer) error {
	if r.Timeline == nil || len(r.Timeline.Buckets) == 0 {
		return ErrNoTimeline
	}
	return r.Timeline.WriteSVG(w, "dongle diag: "+r.Source)
}

// ErrNoTimeline: the report has no trace to draw a timeline of.
var ErrNoTimeline = errors.New("no timeline: the report holds no trace of the device")
