package main

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/onsi/ginkgo/v2/types"

	"dongle/specs"
	"dongle/usbnet/catalog"
)

func init() {
	register("test", "the conformance suite against a backend (--backend=sim:ecm, usb, trace:FILE); --junit/--json FILE write reports for CI", runTest)
}

// failRecorder is the GinkgoTestingT of the binary: it remembers failure.
type failRecorder struct{ failed bool }

func (f *failRecorder) Fail() { f.failed = true }

// runSuite is a seam: the suite can run only once per process (Ginkgo's
// global state), so tests of the command replace it.
var runSuite = func(t *failRecorder, o specs.Options) bool { return specs.Run(t, o) }

func runTest(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("test", stderr)
	backend := fs.String("backend", "", "comma-separated backends: sim, "+strings.Join(catalog.Selectors(), ", ")+", trace, trace:FILE, usb, usb:VID:PID, sim:MODEL@IFACE (default: every model and fixture trace)")
	peer := fs.String("peer", "", "the far side of a real adapter's wire: iface:NAME (the host NIC cabled to it; AF_PACKET, needs CAP_NET_RAW or root) or echo (env DONGLE_PEER)")
	driver := fs.String("driver", "", "bind only this driver: "+catalog.Names()+" (env "+catalog.DriverEnv+"); cdc_ether drives a Realtek adapter's CDC ECM configuration")
	focus := fs.String("focus", "", "run only specs whose description matches this regular expression")
	label := fs.String("label-filter", "", "Ginkgo label filter, and-ed with the backend selection")
	verbose := fs.Bool("v", false, "verbose: every spec's name")
	junit := fs.String("junit", "", "write a JUnit XML report to FILE (its testsuite is named after the backends)")
	jsonReport := fs.String("json", "", "write Ginkgo's JSON report to FILE (its SuiteDescription names the backends)")
	if _, err := parse(fs, args); err != nil {
		return 2
	}
	o := specs.Options{Suite: types.NewDefaultSuiteConfig(), Reporter: types.NewDefaultReporterConfig()}
	if *backend != "" {
		o.Backends = strings.Split(*backend, ",")
	}
	if *focus != "" {
		o.Suite.FocusStrings = []string{*focus}
	}
	o.Suite.LabelFilter = *label
	o.Peer = *peer
	o.Driver = *driver
	o.Reporter.Verbose = *verbose
	o.Reporter.JUnitReport = *junit
	o.Reporter.JSONReport = *jsonReport
	start := time.Now()
	var t failRecorder
	ok := runSuite(&t, o) && !t.failed
	sel := *backend
	if sel == "" {
		sel = "every model and fixture trace"
	}
	if !ok {
		fmt.Fprintf(stdout, "dongle test: FAIL against %s after %v (failing specs' traces are in %s; replay them with 'dongle replay')\n", sel, time.Since(start).Round(time.Millisecond), specs.ReportDir)
		return 1
	}
	fmt.Fprintf(stdout, "dongle test: PASS against %s in %v\n", sel, time.Since(start).Round(time.Millisecond))
	return 0
}
