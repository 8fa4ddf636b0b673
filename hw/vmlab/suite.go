package vmlab

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"dongle/hw/vmlab/guest"
)

// SuiteTarget is one run of the conformance suite's test binary in the
// guest: the backend it selects and what stands on the far side of that
// device (the environment the specs' usb backend reads).
type SuiteTarget struct {
	Backend string   // "usb:0525:a4a2"
	Env     []string // KEY=VALUE for this run only
	// Setup is a guest shell command run just before this target's run
	// (its failure fails the target, which then does not run).
	Setup string
}

// SuiteTargets are the lab's two devices, as the conformance suite must
// see them:
//
//	usb:0525:a4a2  QEMU usb-net; the specs drive the host peer
//	               (DONGLE_PEER=usbnet-host: frames injected and captured on
//	               the host side of -netdev dgram), which also unplugs and
//	               replugs usb-net (QEMU's device_del/device_add). No link
//	               control: QEMU 7.2 cannot signal it, the backend says so.
//	usb:1209:0001  f_ecm gadget on dummy_hcd; its device-side netdev gecm0 is
//	               the wire-side peer (DONGLE_PEER=iface:gecm0: AF_PACKET,
//	               and link control by taking gecm0 down and up). The echo
//	               the guest's init starts on gecm0 is stopped first: the
//	               peer must see what the device sent, not have it reflected.
//	               Unplugged by unbinding its UDC (DONGLE_FAULTS=udc:ecm).
var SuiteTargets = []SuiteTarget{
	{Backend: "usb:0525:a4a2", Env: []string{"DONGLE_PEER=usbnet-host"}},
	{Backend: "usb:1209:0001", Env: []string{"DONGLE_PEER=iface:" + guest.ECMGadgetNetdev, "DONGLE_FAULTS=udc:ecm"}, Setup: guest.StopECMEcho},
}

// SuiteCount is one target's Ginkgo summary.
type SuiteCount struct {
	Backend                 string
	Selected, Total         int // "Will run N of M specs"
	Passed, Failed, Skipped int // Skipped: selected specs that skipped, with their reason
	ExitCode                int
}

func (c SuiteCount) String() string {
	return fmt.Sprintf("%s: %d passed, %d failed, %d skipped (of %d selected), exit %d",
		c.Backend, c.Passed, c.Failed, c.Skipped, c.Selected, c.ExitCode)
}

// SuiteResult is a whole lab suite run: one boot, every target.
type SuiteResult struct {
	Run     *Result
	Counts  []SuiteCount
	Build   time.Duration // go test -c
	Elapsed time.Duration // build + boot + every target
}

// OK reports whether every target ran and passed, and the kernel drivers
// were reattached.
func (s *SuiteResult) OK() bool {
	if s.Run == nil || s.Run.ExitCode != 0 || len(s.Run.DriverChanges()) > 0 || len(s.Counts) == 0 {
		return false
	}
	for _, c := range s.Counts {
		if c.ExitCode != 0 || c.Failed != 0 || c.Passed == 0 {
			return false
		}
	}
	return true
}

// Suite builds the conformance suite (go test -c of pkg, "./specs") in the
// module at root and runs it in one lab boot against every target, one
// test-binary run after the other, from the package directory (so failing
// specs' traces land in <pkg>/reports/traces on the host). args go to
// every run (Ginkgo flags, e.g. -ginkgo.junit-report=reports/lab-{backend}.xml;
// "{backend}" becomes "usb-0525-a4a2" and so on). Output streams to out.
func (l *Lab) Suite(ctx context.Context, root, pkg string, targets []SuiteTarget, args []string, out io.Writer) (*SuiteResult, error) {
	t0 := time.Now()
	bin := l.path("build", "specs.test")
	build := exec.CommandContext(ctx, "go", "test", "-c", "-o", bin, pkg)
	build.Dir = root
	build.Stdout, build.Stderr = out, out
	if err := build.Run(); err != nil {
		return nil, fmt.Errorf("lab suite: go test -c %s: %w", pkg, err)
	}
	sr := &SuiteResult{Build: time.Since(t0)}
	cfg, err := execConfig(ctx, ExecConfig{Bin: bin, Dir: filepath.Join(root, pkg)})
	if err != nil {
		return nil, err
	}
	cfg.Script = suiteScript(cfg.Script, targets, args)
	cfg.Timeout = 15 * time.Minute
	var buf bytes.Buffer
	cfg.Stdout = io.MultiWriter(out, &buf)
	sr.Run, err = l.Run(ctx, cfg)
	sr.Elapsed = time.Since(t0)
	sr.Counts = parseSuite(buf.String())
	return sr, err
}

// suiteScript turns Exec's one-binary script into one run per target. Each
// run gets only its own far-side variables (a DONGLE_LINK_CMD meant for the
// gadget must not reach usb-net's run).
func suiteScript(single string, targets []SuiteTarget, args []string) string {
	pre, _, _ := strings.Cut(single, "/mnt/lab/test.bin")
	var b strings.Builder
	b.WriteString(pre)
	b.WriteString("rc=0\n")
	for _, t := range targets {
		fmt.Fprintf(&b, "echo %s\n", Quote("LAB-SUITE-START "+t.Backend))
		if t.Setup != "" {
			// A failed setup ends this target with its status; the
			// binary does not run, so its summary is missing too.
			fmt.Fprintf(&b, "if ! ( %s ); then r=97; rc=$r; echo \"LAB-SUITE-END %s rc=$r\"; else\n", t.Setup, t.Backend)
		}
		b.WriteString("env -u DONGLE_PEER -u DONGLE_FAULTS -u DONGLE_LINK_CMD -u DONGLE_EXPECT_MAC -u DONGLE_BACKEND")
		for _, kv := range t.Env {
			b.WriteString(" " + Quote(kv))
		}
		b.WriteString(" /mnt/lab/test.bin -test.count=1 -ginkgo.no-color " + Quote("--backend="+t.Backend))
		for _, a := range args {
			b.WriteString(" " + Quote(strings.ReplaceAll(a, "{backend}", strings.ReplaceAll(t.Backend, ":", "-"))))
		}
		fmt.Fprintf(&b, "\nr=$?; [ $r = 0 ] || rc=$r\necho \"LAB-SUITE-END %s rc=$r\"\n", t.Backend)
		if t.Setup != "" {
			b.WriteString("fi\n")
		}
	}
	b.WriteString("exit $rc\n")
	return b.String()
}

var (
	suiteStart  = regexp.MustCompile(`LAB-SUITE-START (\S+)`)
	suiteEnd    = regexp.MustCompile(`LAB-SUITE-END (\S+) rc=(\d+)`)
	suiteWill   = regexp.MustCompile(`Will run (\d+) of (\d+) specs`)
	suiteTotals = regexp.MustCompile(`(\d+) Passed \| (\d+) Failed \| \d+ Pending \| (\d+) Skipped`)
)

// parseSuite reads the per-target Ginkgo summaries from the guest output.
func parseSuite(out string) []SuiteCount {
	var counts []SuiteCount
	var cur *SuiteCount
	for _, line := range strings.Split(out, "\n") {
		if m := suiteStart.FindStringSubmatch(line); m != nil {
			counts = append(counts, SuiteCount{Backend: m[1], ExitCode: -1})
			cur = &counts[len(counts)-1]
			continue
		}
		if cur == nil {
			continue
		}
		if m := suiteWill.FindStringSubmatch(line); m != nil {
			cur.Selected, _ = strconv.Atoi(m[1])
			cur.Total, _ = strconv.Atoi(m[2])
		}
		if m := suiteTotals.FindStringSubmatch(line); m != nil {
			cur.Passed, _ = strconv.Atoi(m[1])
			cur.Failed, _ = strconv.Atoi(m[2])
			cur.Skipped = cur.Selected - cur.Passed - cur.Failed
		}
		if m := suiteEnd.FindStringSubmatch(line); m != nil && m[1] == cur.Backend {
			cur.ExitCode, _ = strconv.Atoi(m[2])
		}
	}
	return counts
}

// writeSuiteSummary prints the counts and the verdict.
func writeSuiteSummary(w io.Writer, s *SuiteResult) {
	for _, c := range s.Counts {
		fmt.Fprintf(w, "lab suite: %s\n", c)
	}
	if s.Run != nil {
		fmt.Fprintf(w, "lab suite: %s\n", s.Run.Summary())
		if ch := s.Run.DriverChanges(); len(ch) > 0 {
			fmt.Fprintf(w, "lab suite: FAIL: kernel drivers NOT reattached: %s\n", strings.Join(ch, "; "))
		}
	}
	fmt.Fprintf(w, "lab suite: build %.1fs, total %.1fs\n", s.Build.Seconds(), s.Elapsed.Seconds())
}
