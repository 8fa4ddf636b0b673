package main

import (
	"encoding/json"
	"encoding/xml"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestTestReports runs the real suite (once: Ginkgo's state is global to
// the process; the other tests of the command replace runSuite) against
// one backend, one spec, and checks both reports are written and name the
// backend.
func TestTestReports(t *testing.T) {
	dir := t.TempDir()
	junit, js := filepath.Join(dir, "junit.xml"), filepath.Join(dir, "report.json")
	code, out, errOut := run(t, "test", "--backend=sim:ecm", "--focus=binds", "--junit", junit, "--json", js)
	if code != 0 {
		t.Fatalf("exit %d: %s %s", code, out, errOut)
	}
	b, err := os.ReadFile(junit)
	if err != nil {
		t.Fatal(err)
	}
	var suites struct {
		Suites []struct {
			Name  string `xml:"name,attr"`
			Tests int    `xml:"tests,attr"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal(b, &suites); err != nil {
		t.Fatalf("JUnit report: %v", err)
	}
	if len(suites.Suites) != 1 || suites.Suites[0].Name != "dongle conformance (sim:ecm)" || suites.Suites[0].Tests == 0 {
		t.Errorf("JUnit testsuites %+v, want one named \"dongle conformance (sim:ecm)\" with tests", suites.Suites)
	}
	b, err = os.ReadFile(js)
	if err != nil {
		t.Fatal(err)
	}
	var reports []struct {
		SuiteDescription string
		SuiteSucceeded   bool
		SpecReports      []struct{ LeafNodeText string }
	}
	if err := json.Unmarshal(b, &reports); err != nil {
		t.Fatalf("JSON report: %v", err)
	}
	if len(reports) != 1 || reports[0].SuiteDescription != "dongle conformance (sim:ecm)" || !reports[0].SuiteSucceeded {
		t.Fatalf("JSON report %+v", reports)
	}
	ran := 0
	for _, s := range reports[0].SpecReports {
		if strings.Contains(s.LeafNodeText, "binds") {
			ran++
		}
	}
	if ran == 0 {
		t.Errorf("the JSON report holds no spec matching the focus")
	}
}
