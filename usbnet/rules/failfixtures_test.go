package rules_test

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"dongle/usbnet"
	"dongle/usbnet/decode"
	"dongle/usbnet/rules"
)

// expectation is one rule's entry of a failure fixture's evidence block.
type expectation struct {
	rule   string
	cite   []int
	lives  []life
	device string // "device: BUS.ADDR", for a capture of several adapters
}

// life is a "life: BUS.ADDR FIRST LAST" line: one life of the adapter.
type life struct {
	bus         uint16
	addr        uint8
	first, last int
}

// evidenceFence opens a fixture .md's evidence block (see
// /work/notes/rules.md): only the lines between it and the closing fence
// are read, each "key: value" with key rule, cite, life or device.
const evidenceFence = "```failure"

var errEvidence = errors.New("bad evidence block (see /work/notes/rules.md)")

// readExpectations reads the evidence block of a failure fixture's .md.
func readExpectations(path string) ([]expectation, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return parseExpectations(path, f)
}

// parseExpectations reads the one evidence block of r; anything in it
// that is not a known key with a well-formed value is an error.
func parseExpectations(name string, r io.Reader) ([]expectation, error) {
	var out []expectation
	blocks, in, line := 0, false, 0
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%s:%d: %w: %s", name, line, errEvidence, fmt.Sprintf(format, a...))
	}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line++
		text := sc.Text()
		if !in {
			if strings.TrimSpace(text) == evidenceFence {
				if blocks++; blocks > 1 {
					return nil, bad("a second evidence block")
				}
				in = true
			}
			continue
		}
		if text == "```" {
			in = false
			continue
		}
		if strings.TrimSpace(text) == "" {
			continue
		}
		key, val, ok := strings.Cut(text, ": ")
		if !ok {
			return nil, bad("%q is not \"key: value\"", text)
		}
		val = strings.TrimSpace(val)
		if key == "rule" {
			if val == "" || strings.ContainsAny(val, " \t") {
				return nil, bad("rule %q is not one rule name", val)
			}
			out = append(out, expectation{rule: val})
			continue
		}
		if len(out) == 0 {
			return nil, bad("%q before any rule line", text)
		}
		e := &out[len(out)-1]
		switch key {
		case "device":
			if _, _, err := decode.ParseDevice(val); err != nil || e.device != "" {
				return nil, bad("device %q is not one BUS.ADDR", val)
			}
			e.device = val
		case "cite":
			seen := map[int]bool{}
			for _, n := range e.cite {
				seen[n] = true
			}
			for _, w := range strings.Fields(val) {
				n, err := strconv.Atoi(w)
				if err != nil || n < 1 || seen[n] {
					return nil, bad("cite %q is not a new record number", w)
				}
				seen[n] = true
				e.cite = append(e.cite, n)
			}
		case "life":
			var l life
			var dev string
			if n, err := fmt.Sscanf(val, "%s %d %d", &dev, &l.first, &l.last); err != nil || n != 3 || len(strings.Fields(val)) != 3 || l.first < 1 || l.last < l.first {
				return nil, bad("life %q is not BUS.ADDR FIRST LAST", val)
			}
			bus, addr, err := decode.ParseDevice(dev)
			if err != nil {
				return nil, bad("life %q: %v", val, err)
			}
			l.bus, l.addr = bus, addr
			e.lives = append(e.lives, l)
		default:
			return nil, bad("unknown key %q", key)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	switch {
	case in:
		return nil, bad("evidence block not closed")
	case blocks == 0 || len(out) == 0:
		return nil, fmt.Errorf("%s: %w: no %s block with a rule line", name, errEvidence, evidenceFence)
	}
	for _, e := range out {
		if len(e.cite) == 0 {
			return nil, fmt.Errorf("%s: %w: rule %s cites no record", name, errEvidence, e.rule)
		}
	}
	return out, nil
}

// checkCites holds a finding to the records a fixture lists: a rule cites
// only listed records, and (as it keeps at most rules.MaxCited) at least
// min(listed, rules.MaxCited) distinct ones of them: all, when the list is
// within its cap.
func checkCites(f *usbnet.Finding, want []int) []string {
	listed := map[int]bool{}
	for _, n := range want {
		listed[n] = true
	}
	var errs []string
	cited := map[int]bool{}
	for _, ev := range f.Evidence {
		if !listed[ev.Record] {
			errs = append(errs, fmt.Sprintf("cites record %d (%s), which the .md does not list", ev.Record, ev.What))
			continue
		}
		cited[ev.Record] = true
	}
	if need := min(len(want), rules.MaxCited); len(cited) < need {
		var missing []string
		for _, n := range want {
			if !cited[n] {
				missing = append(missing, strconv.Itoa(n))
			}
		}
		errs = append(errs, fmt.Sprintf("cites %d of the listed records, wants at least %d (not cited: %s)", len(cited), need, strings.Join(missing, " ")))
	}
	return errs
}

// checkLives holds the trace's lives to a fixture's life lines.
func checkLives(tr *decode.Trace, want []life) []string {
	if len(want) == 0 {
		return nil
	}
	var got []life
	for _, l := range tr.Lives {
		got = append(got, life{bus: l.Bus, addr: l.Address, first: l.First, last: l.Last})
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		return []string{fmt.Sprintf("lives %v, the .md says %v ({bus addr first last})", got, want)}
	}
	return nil
}

// TestFailureFixtures decodes every fixtures/failure-*.pcap: the rules its
// .md names fire, no other, each citing the records the .md lists
// (checkCites), and the adapter's lives are those its life lines give.
func TestFailureFixtures(t *testing.T) {
	known := map[string]bool{}
	for _, i := range catalogue(t) {
		known[i.Name] = true
	}
	mds, _ := filepath.Glob(fixturePath("failure-*.md"))
	pcaps, _ := filepath.Glob(fixturePath("failure-*.pcap"))
	if len(pcaps) == 0 {
		t.Fatal("no fixtures/failure-*.pcap")
	}
	for _, p := range pcaps {
		if _, err := os.Stat(strings.TrimSuffix(p, ".pcap") + ".md"); err != nil {
			t.Errorf("%s has no .md saying what it shows", filepath.Base(p))
		}
	}
	for _, md := range mds {
		name := filepath.Base(md)
		t.Run(name, func(t *testing.T) {
			exps, err := readExpectations(md)
			if err != nil {
				t.Fatal(err)
			}
			pcap := strings.TrimSuffix(md, ".md") + ".pcap"
			named := map[string]bool{}
			for _, e := range exps {
				named[e.rule] = true
			}
			for i, e := range exps {
				if !known[e.rule] {
					t.Errorf("%s names rule %q, which no rule of the catalogue is", name, e.rule)
					continue
				}
				if i == 0 && name != "failure-"+e.rule+".md" {
					t.Errorf("%s shows %s first: name it failure-%s", name, e.rule, e.rule)
				}
				tr, err := decode.ReadFile(pcap, decode.Options{Device: e.device})
				if err != nil {
					t.Fatalf("%s: %v", filepath.Base(pcap), err)
				}
				for _, msg := range checkLives(tr, e.lives) {
					t.Errorf("%s: %s", filepath.Base(pcap), msg)
				}
				for _, f := range tr.Findings {
					if !named[f.Rule] {
						t.Errorf("%s: %s fires too (%s), which the .md does not name", filepath.Base(pcap), f.Rule, f.Summary)
					}
				}
				f := finding(tr, e.rule)
				if f == nil {
					t.Errorf("%s: %s does not fire (findings: %v)", filepath.Base(pcap), e.rule, tr.Findings)
					continue
				}
				for _, msg := range checkCites(f, e.cite) {
					t.Errorf("%s: %s %s", filepath.Base(pcap), e.rule, msg)
				}
			}
		})
	}
}

// TestEveryRuleHasAFixture: every rule of the catalogue has a
// fixtures/failure-<rule>.pcap (and its .md, which TestFailureFixtures
// reads).
func TestEveryRuleHasAFixture(t *testing.T) {
	for _, i := range catalogue(t) {
		if _, err := os.Stat(fixturePath("failure-" + i.Name + ".pcap")); err != nil {
			t.Errorf("rule %s has no fixtures/failure-%s.pcap", i.Name, i.Name)
		}
	}
}

// TestParseExpectations: only the evidence block is read, and junk in it
// is refused, naming the line.
func TestParseExpectations(t *testing.T) {
	good := "device: `ffsmodel` in prose\nrule: not-this one\n```failure\nrule: device-vanished\ncite: 3 5\ncite: 9\nlife: 3.3 1 4\nlife: 3.4 7 9\n```\ncite: 11\n"
	exps, err := parseExpectations("good", strings.NewReader(good))
	if err != nil {
		t.Fatal(err)
	}
	want := []expectation{{rule: "device-vanished", cite: []int{3, 5, 9}, lives: []life{{3, 3, 1, 4}, {3, 4, 7, 9}}}}
	if fmt.Sprint(exps) != fmt.Sprint(want) {
		t.Errorf("got %+v, want %+v", exps, want)
	}
	for name, md := range map[string]string{
		"no block":        "rule: x\ncite: 1\n",
		"unclosed":        "```failure\nrule: x\ncite: 1\n",
		"two blocks":      "```failure\nrule: x\ncite: 1\n```\n```failure\nrule: y\ncite: 2\n```\n",
		"unknown key":     "```failure\nrule: x\ncite: 1\nnote: y\n```\n",
		"prose":           "```failure\nrule: x\ncite: 1\nthe records\n```\n",
		"cite first":      "```failure\ncite: 1\nrule: x\n```\n",
		"not a number":    "```failure\nrule: x\ncite: 1 2a\n```\n",
		"record 0":        "```failure\nrule: x\ncite: 0\n```\n",
		"twice":           "```failure\nrule: x\ncite: 1 1\n```\n",
		"no cite":         "```failure\nrule: x\n```\n",
		"two rule names":  "```failure\nrule: x y\ncite: 1\n```\n",
		"bad life":        "```failure\nrule: x\ncite: 1\nlife: 3.3 5\n```\n",
		"life backwards":  "```failure\nrule: x\ncite: 1\nlife: 3.3 5 4\n```\n",
		"life device":     "```failure\nrule: x\ncite: 1\nlife: 3 1 4\n```\n",
		"bad device":      "```failure\nrule: x\ncite: 1\ndevice: ffsmodel\n```\n",
		"no rule at all":  "```failure\n```\n",
		"indented key":    "```failure\n rule: x\ncite: 1\n```\n",
		"life extra word": "```failure\nrule: x\ncite: 1\nlife: 3.3 1 4 5\n```\n",
	} {
		if _, err := parseExpectations(name, strings.NewReader(md)); !errors.Is(err, errEvidence) {
			t.Errorf("%s: err %v, want errEvidence", name, err)
		}
	}
}

// TestCheckCites: a finding cites only listed records, and all of them
// up to the cap.
func TestCheckCites(t *testing.T) {
	f := func(recs ...int) *usbnet.Finding {
		var fd usbnet.Finding
		for _, r := range recs {
			fd.Evidence = append(fd.Evidence, usbnet.Evidence{Record: r})
		}
		return &fd
	}
	var many, first []int
	for i := 1; i <= rules.MaxCited+5; i++ {
		many = append(many, i)
		if i <= rules.MaxCited {
			first = append(first, i)
		}
	}
	for name, c := range map[string]struct {
		f    *usbnet.Finding
		want []int
		ok   bool
	}{
		"all":                {f(3, 5, 5), []int{3, 5}, true},
		"one missing":        {f(3), []int{3, 5}, false},
		"one not listed":     {f(3, 5, 7), []int{3, 5}, false},
		"capped":             {f(first...), many, true},
		"one short of a cap": {f(first[1:]...), many, false},
	} {
		if errs := checkCites(c.f, c.want); (len(errs) == 0) != c.ok {
			t.Errorf("%s: %v", name, errs)
		}
	}
}
