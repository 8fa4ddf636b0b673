package vmlab

import (
	"os/exec"
	"strings"
	"testing"
)

// TestSuiteScriptSetup runs the per-target script with sh (the test
// binary replaced by echo): a target's Setup runs before its run, and a
// failed Setup ends that target with status 97 without running it, while
// the next target still runs.
func TestSuiteScriptSetup(t *testing.T) {
	targets := []SuiteTarget{
		{Backend: "usb:1:1", Setup: "echo SETUP-ONE"},
		{Backend: "usb:2:2", Setup: "false"},
		{Backend: "usb:3:3", Env: []string{"DONGLE_PEER=iface:x"}},
	}
	script := suiteScript("/mnt/lab/test.bin", targets, nil)
	script = strings.ReplaceAll(script, "/mnt/lab/test.bin", "echo RUN")
	out, err := exec.Command("sh", "-c", script).CombinedOutput()
	ee, ok := err.(*exec.ExitError)
	if !ok || ee.ExitCode() != 97 {
		t.Fatalf("script exit %v, want 97 (a failed setup); output:\n%s", err, out)
	}
	got := string(out)
	for _, want := range []string{
		"SETUP-ONE\nRUN -test.count=1 -ginkgo.no-color --backend=usb:1:1\n",
		"LAB-SUITE-END usb:1:1 rc=0",
		"LAB-SUITE-END usb:2:2 rc=97",
		"RUN -test.count=1 -ginkgo.no-color --backend=usb:3:3",
		"LAB-SUITE-END usb:3:3 rc=0",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "--backend=usb:2:2") {
		t.Errorf("the target whose setup failed ran:\n%s", got)
	}
	if c := parseSuite(got); len(c) != 3 || c[1].ExitCode != 97 {
		t.Errorf("parseSuite: %+v", c)
	}
}
