package main

import (
	"encoding/json"
	"encoding/xml"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDiagVerdictFirst: diag's first line names the failure the trace
// shows, with its evidence, before the detail; JSON carries the findings;
// --timeline writes the SVG.
func TestDiagVerdictFirst(t *testing.T) {
	trace := filepath.Join("..", "..", "fixtures", "failure-rx-overflow.pcap")
	svg := filepath.Join(t.TempDir(), "timeline.svg")
	code, out, e := run(t, "diag", "--timeline", svg, trace)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, e)
	}
	lines := strings.Split(out, "\n")
	if !strings.HasPrefix(lines[0], "Verdict:  1 failure(s): rx-overflow") || !strings.HasPrefix(lines[1], "  [error] rx-overflow: 4 bulk IN URB(s)") ||
		!strings.Contains(lines[2], "record 61 ") || !strings.Contains(lines[2], "-75 EOVERFLOW") {
		t.Errorf("the verdict is not first:\n%s", strings.Join(lines[:6], "\n"))
	}
	if !strings.Contains(out, "likely causes: ") || !strings.Contains(out, "try: ") || !strings.Contains(out, "Timeline: ") ||
		!strings.Contains(out, "4 bulk IN URBs dropped, completed with an error status (-EOVERFLOW 4)") {
		t.Errorf("no causes, what to try or timeline:\n%s", out)
	}
	f, err := os.Open(svg)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	d := xml.NewDecoder(f)
	n := 0
	for {
		_, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("the timeline is not XML: %v", err)
		}
		n++
	}
	if n < 50 {
		t.Errorf("the timeline SVG has %d tokens", n)
	}

	code, out, e = run(t, "diag", "--json", trace)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, e)
	}
	var r struct {
		Verdict struct {
			Judged   bool `json:"judged"`
			Rules    int  `json:"rules"`
			Findings []struct {
				Rule     string `json:"rule"`
				Severity string `json:"severity"`
				Evidence []struct {
					Record int `json:"record"`
				} `json:"evidence"`
			} `json:"findings"`
		} `json:"verdict"`
		Timeline struct {
			Buckets []json.RawMessage
		} `json:"timeline"`
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatal(err)
	}
	v := r.Verdict
	if !v.Judged || v.Rules < 9 || len(v.Findings) != 1 || v.Findings[0].Rule != "rx-overflow" || v.Findings[0].Severity != "error" ||
		len(v.Findings[0].Evidence) != 4 || v.Findings[0].Evidence[0].Record != 61 || v.Findings[0].Evidence[3].Record != 67 || len(r.Timeline.Buckets) == 0 {
		t.Errorf("JSON verdict %+v, %d timeline buckets", v, len(r.Timeline.Buckets))
	}
}

// TestDiagHealthyAndLive: a healthy trace and a model's live run (its
// recording) are judged and found well.
func TestDiagHealthyAndLive(t *testing.T) {
	for _, arg := range []string{filepath.Join("..", "..", "fixtures", "usbmon-kernel-asix-ax88772b.pcap"), "sim:ax88179"} {
		code, out, e := run(t, "diag", arg)
		if code != 0 {
			t.Fatalf("%s: exit %d: %s", arg, code, e)
		}
		if first, _, _ := strings.Cut(out, "\n"); !strings.HasPrefix(first, "Verdict:  nothing wrong found (1") {
			t.Errorf("%s: first line %q", arg, first)
		}
	}
	code, _, e := run(t, "diag", "--timeline", filepath.Join(t.TempDir(), "no", "such", "dir.svg"), filepath.Join("..", "..", "fixtures", "usbmon-kernel-asix-ax88772b.pcap"))
	if code == 0 || !strings.Contains(e, "dir.svg") {
		t.Errorf("an unwritable --timeline: exit %d, %q", code, e)
	}
}

// TestDiagRules prints the catalogue: every rule, with its trigger,
// causes and what to try.
func TestDiagRules(t *testing.T) {
	code, out, e := run(t, "diag", "--rules")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, e)
	}
	for _, r := range []string{"tx-timeout [critical]", "error-storm", "link-flap", "device-vanished", "halt-not-cleared", "rx-starvation",
		"register-access", "ntb-oversize", "checksum-fail", "link-needs-filter", "poor-aggregation [warning]", "rx-overflow [error]"} {
		if !strings.Contains(out, "\n"+r) && !strings.HasPrefix(out, r) {
			t.Errorf("the catalogue lacks %q", r)
		}
	}
	if strings.Count(out, "  fires on: ") != 12 || strings.Count(out, "checksum-fail [") != 1 {
		t.Errorf("want 12 rules, each once:\n%s", out)
	}
}

// TestDiagOneAdapterTwoLives: the lab's capture of a gadget unbound and
// bound again mid-traffic is one adapter with two lives (same VID:PID and
// serial, not overlapping), judged without --device.
func TestDiagOneAdapterTwoLives(t *testing.T) {
	trace := filepath.Join("..", "..", "fixtures", "failure-device-vanished.pcap")
	code, out, e := run(t, "diag", "--json", trace)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, e)
	}
	var r struct {
		Trace struct {
			Lives []struct {
				Address int `json:"address"`
				First   int `json:"first_record"`
				Last    int `json:"last_record"`
			} `json:"lives"`
		} `json:"trace"`
		Verdict struct {
			Findings []struct {
				Rule string `json:"rule"`
			} `json:"findings"`
		} `json:"verdict"`
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatal(err)
	}
	l := r.Trace.Lives
	if len(l) != 2 || l[0].Address != 3 || l[0].First != 28 || l[0].Last != 1159 || l[1].Address != 4 || l[1].First != 1200 || l[1].Last != 2338 {
		t.Errorf("lives %+v", l)
	}
	found := false
	for _, f := range r.Verdict.Findings {
		found = found || f.Rule == "device-vanished"
	}
	if !found {
		t.Errorf("findings %+v: no device-vanished", r.Verdict.Findings)
	}
}

// TestCommittedTimeline: the timeline picture the README shows is what
// `dongle diag --timeline` draws of that fixture today (from the module
// root: go run ./cmd/dongle diag --timeline
// fixtures/failure-device-vanished.timeline.svg
// fixtures/failure-device-vanished.pcap).
func TestCommittedTimeline(t *testing.T) {
	t.Chdir(filepath.Join("..", ".."))
	svg := filepath.Join(t.TempDir(), "timeline.svg")
	if code, _, e := run(t, "diag", "--timeline", svg, filepath.Join("fixtures", "failure-device-vanished.pcap")); code != 0 {
		t.Fatalf("exit %d: %s", code, e)
	}
	got, err := os.ReadFile(svg)
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile(filepath.Join("fixtures", "failure-device-vanished.timeline.svg"))
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want) {
		t.Errorf("fixtures/failure-device-vanished.timeline.svg is not what diag --timeline draws now: regenerate it (see the comment)")
	}
}

// TestVerdictEvidenceHeadAndTail: a long citation list prints its first
// and its last records (device-vanished's tail names where the device came
// back), with the count left out between them.
func TestVerdictEvidenceHeadAndTail(t *testing.T) {
	code, out, e := run(t, "diag", filepath.Join("..", "..", "fixtures", "failure-device-vanished.pcap"))
	if code != 0 {
		t.Fatalf("exit %d: %s", code, e)
	}
	verdict := out[:strings.Index(out, "Source:")]
	for _, w := range []string{"record 1091 (", "record 1099 (", "... 7 more records cited", "record 1159 (", "record 1200 (21:28:42.917949): life 2 begins at 3.4"} {
		if !strings.Contains(verdict, w) {
			t.Errorf("the verdict lacks %q:\n%s", w, verdict)
		}
	}
	if strings.Contains(verdict, "record 1100 (") {
		t.Errorf("the verdict prints the middle of the list:\n%s", verdict)
	}
}
