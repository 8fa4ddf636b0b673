package rules_test

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"dongle/usbnet/decode"
)

// noFixtureYet are the rules no fixtures/failure-<rule>.pcap shows yet,
// each with where its capture is to come from. The lab captures are made
// on branch failfix (issue 21); the lead removes a rule from this table
// when its fixture is merged (TestEveryRuleHasAFixture fails until then).
var noFixtureYet = map[string]string{
	"tx-timeout":       "failfix: ffsmodel stops reading bulk OUT under the kernel's asix/ax88179_178a",
	"error-storm":      "failfix: a USB/IP model completing URBs -EPROTO on command",
	"link-flap":        "failfix: ffsmodel's cable pulled and replugged (ASIX models)",
	"device-vanished":  "failfix: UDC unbind/bind of a gadget, or QEMU device_del/device_add, during traffic",
	"halt-not-cleared": "failfix: ffsmodel halts bulk IN under a host that does not clear halts",
	"register-access":  "failfix: the USB/IP RTL8153 model answering a register read short or with an error",
	"ntb-oversize":     "failfix: the NCM model over USB/IP sending an oversize NTB on command",
	"checksum-fail":    "failfix: the RTL8153 or AX88179 model marking a frame's checksum bad on command",
	// link-needs-filter, rx-starvation, poor-aggregation, rx-overflow:
	// synthetic fixtures written by TestWriteFailureFixtures.
}

// expectation is one evidence block of a failure fixture's .md.
type expectation struct {
	rule   string
	cite   []int
	device string // "device: BUS.ADDR", for a capture of several adapters
}

// readExpectations reads the "rule: X" / "cite: N N" (and optional
// "device: B.A") lines of a failure fixture's .md.
func readExpectations(path string) ([]expectation, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []expectation
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		key, val, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		val = strings.TrimSpace(val)
		switch key {
		case "rule":
			out = append(out, expectation{rule: val})
		case "cite", "device":
			if len(out) == 0 {
				return nil, fmt.Errorf("%s: %q before any rule line", path, line)
			}
			e := &out[len(out)-1]
			if key == "device" {
				e.device = val
				continue
			}
			for _, w := range strings.Fields(val) {
				n, err := strconv.Atoi(w)
				if err != nil || n < 1 {
					return nil, fmt.Errorf("%s: cite %q is not a record number", path, w)
				}
				e.cite = append(e.cite, n)
			}
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: %w", path, errNoRuleLine)
	}
	return out, sc.Err()
}

var errNoRuleLine = errors.New("no \"rule: NAME\" line (see /work/notes/rules.md)")

// TestFailureFixtures decodes every fixtures/failure-*.pcap: the rule its
// .md names fires and cites every record the .md lists.
func TestFailureFixtures(t *testing.T) {
	known := map[string]bool{}
	for _, i := range catalogue(t) {
		known[i.Name] = true
	}
	mds, _ := filepath.Glob(fixturePath("failure-*.md"))
	pcaps, _ := filepath.Glob(fixturePath("failure-*.pcap"))
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
			for _, e := range exps {
				if !known[e.rule] {
					t.Errorf("%s names rule %q, which no rule of the catalogue is", name, e.rule)
					continue
				}
				if !strings.HasPrefix(name, "failure-"+e.rule) && len(exps) == 1 {
					t.Errorf("%s shows %s: name it failure-%s", name, e.rule, e.rule)
				}
				if len(e.cite) == 0 {
					t.Errorf("%s: rule %s cites no record", name, e.rule)
				}
				tr, err := decode.ReadFile(pcap, decode.Options{Device: e.device})
				if err != nil {
					t.Fatalf("%s: %v", filepath.Base(pcap), err)
				}
				f := finding(tr, e.rule)
				if f == nil {
					t.Errorf("%s: %s does not fire (findings: %v)", filepath.Base(pcap), e.rule, tr.Findings)
					continue
				}
				for _, n := range e.cite {
					if !f.Cites(n) {
						t.Errorf("%s: %s does not cite record %d (cites %v)", filepath.Base(pcap), e.rule, n, f.Evidence)
					}
				}
			}
		})
	}
}

// TestEveryRuleHasAFixture: every rule of the catalogue has a
// fixtures/failure-<rule>.pcap, or is in noFixtureYet (and a rule there
// that has one must leave the table).
func TestEveryRuleHasAFixture(t *testing.T) {
	known := map[string]bool{}
	for _, i := range catalogue(t) {
		known[i.Name] = true
		_, err := os.Stat(fixturePath("failure-" + i.Name + ".pcap"))
		has := err == nil
		_, waiting := noFixtureYet[i.Name]
		switch {
		case !has && !waiting:
			t.Errorf("rule %s has no fixtures/failure-%s.pcap and is not in noFixtureYet", i.Name, i.Name)
		case has && waiting:
			t.Errorf("rule %s has its fixture now: remove it from noFixtureYet", i.Name)
		}
	}
	for r := range noFixtureYet {
		if !known[r] {
			t.Errorf("noFixtureYet lists %s, which is no rule", r)
		}
	}
}
