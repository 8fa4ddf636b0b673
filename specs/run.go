package specs

import (
	"flag"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"

	. "github.com/onsi/ginkgo/v2"
	"github.com/onsi/ginkgo/v2/types"
	. "github.com/onsi/gomega"

	"dongle/usbnet/catalog"
)

// Options choose what the suite runs against.
type Options struct {
	// Backends are selectors: "sim:ecm", "sim", "trace", "trace:FILE",
	// "usb", "usb:0b95:1790", "usb:1.4". Empty: every sim backend and
	// every fixture trace.
	Backends []string
	// Peer is the far side of a real adapter's wire, a --peer SPEC
	// (peer.go); empty: --peer, else DONGLE_PEER.
	Peer string
	// Driver forces one minidriver (a catalog name or alias) for real
	// adapters and models alike: "cdc_ether" drives a Realtek adapter's
	// CDC ECM configuration instead of r8152's vendor one. Empty:
	// --driver, else DONGLE_DRIVER, else every driver.
	Driver string
	// Suite and Reporter are Ginkgo's own configuration (label filters,
	// focus, randomisation, reports); the backend filter is and-ed with
	// Suite.LabelFilter.
	Suite    types.SuiteConfig
	Reporter types.ReporterConfig
}

var backendFlag = flag.String("backend", "", "comma-separated backends: sim, "+strings.Join(catalog.Selectors(), ", ")+", trace, trace:FILE, usb, usb:VID:PID, usb:BUS.ADDR, sim:MODEL@IFACE (a model whose wire is a host interface) (default: every sim backend and fixture trace; env DONGLE_BACKEND)")

var driverFlag = flag.String("driver", "", "bind only this driver: "+catalog.Names()+" (env "+catalog.DriverEnv+"); cdc_ether drives a Realtek adapter's CDC ECM configuration")

// driverChoice is Options.Driver, set by Run; it wins over --driver.
var driverChoice string

// DriverSelection is the driver the user forced: Options.Driver, else
// --driver, else DONGLE_DRIVER, else "" (every driver, as Probe matches).
func DriverSelection() string {
	if driverChoice != "" {
		return driverChoice
	}
	if *driverFlag != "" {
		return *driverFlag
	}
	return os.Getenv(catalog.DriverEnv)
}

// OptionsFromFlags reads --backend (or DONGLE_BACKEND) and Ginkgo's flags.
func OptionsFromFlags() Options {
	o := Options{}
	sel := *backendFlag
	if sel == "" {
		sel = os.Getenv("DONGLE_BACKEND")
	}
	if sel != "" {
		o.Backends = strings.Split(sel, ",")
	}
	o.Suite, o.Reporter = GinkgoConfiguration()
	return o
}

// Resolve turns selectors into backends.
func Resolve(sels []string) ([]Backend, error) {
	sims := SimBackends()
	traces, err := FixtureBackends()
	if err != nil {
		return nil, err
	}
	if len(sels) == 0 {
		return append(sims, traces...), nil
	}
	known := []string{"sim", "trace"}
	for _, b := range append(append([]Backend{}, sims...), traces...) {
		known = append(known, b.Name())
	}
	var out []Backend
	seen := map[string]bool{}
	add := func(b Backend) {
		if !seen[b.Name()] {
			seen[b.Name()] = true
			out = append(out, b)
		}
	}
	for _, s := range sels {
		s = strings.TrimSpace(s)
		switch {
		case s == "sim":
			for _, b := range sims {
				add(b)
			}
		case s == "trace":
			for _, b := range traces {
				add(b)
			}
		case strings.HasPrefix(s, "sim:") && strings.Contains(s, "@"):
			b, err := WireBackend(s)
			if err != nil {
				return nil, err
			}
			add(b)
		case s == "usb" || strings.HasPrefix(s, "usb:"):
			b, err := USBBackend(s)
			if err != nil {
				return nil, err
			}
			add(b)
		case strings.HasPrefix(s, "trace:"):
			found := false
			for _, b := range traces {
				if b.Name() == s {
					add(b)
					found = true
				}
			}
			if !found {
				b, err := TraceBackend(strings.TrimPrefix(s, "trace:"))
				if err != nil {
					return nil, err
				}
				add(b)
			}
		default:
			found := false
			for _, b := range sims {
				if b.Name() == s {
					add(b)
					found = true
				}
			}
			if !found {
				return nil, errNoBackend(s, known)
			}
		}
	}
	return out, nil
}

var defineOnce sync.Once

// Define builds one container of specs per backend, labelled with the
// backend's label. It must run before RunSpecs, once.
func Define(backends []Backend) {
	defineOnce.Do(func() {
		for _, b := range backends {
			describeBackend(b)
		}
	})
}

// LabelFilter is the Ginkgo label filter selecting exactly these backends,
// and-ed with the user's own filter.
func LabelFilter(backends []Backend, user string) string {
	var parts []string
	for _, b := range backends {
		parts = append(parts, BackendLabel(b.Name()))
	}
	f := "(" + strings.Join(parts, " || ") + ")"
	if strings.TrimSpace(user) != "" {
		f += " && (" + user + ")"
	}
	return f
}

// Run is the whole suite: resolve the backends, define their specs, turn
// the selection into a label filter and run. t is a *testing.T under go
// test, or anything with Fail() (the dongle binary's own).
func Run(t GinkgoTestingT, o Options) bool {
	if o.Peer != "" {
		peerChoice = o.Peer
	}
	if o.Driver != "" {
		driverChoice = o.Driver
	}
	backends, err := Resolve(o.Backends)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		t.Fail()
		return false
	}
	RegisterFailHandler(Fail)
	// Every known backend's specs are defined, so that a plain label filter
	// (ginkgo --label-filter=backend-sim-ax88179) selects among them too;
	// the selection itself is the label filter below.
	all, err := Resolve(nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		t.Fail()
		return false
	}
	for _, b := range backends {
		if !slices.ContainsFunc(all, func(x Backend) bool { return x.Name() == b.Name() }) {
			all = append(all, b)
		}
	}
	Define(all)
	o.Suite.LabelFilter = LabelFilter(backends, o.Suite.LabelFilter)
	return RunSpecs(t, SuiteName(backends), o.Suite, o.Reporter)
}

// SuiteName is the suite's description, which names the backends it runs
// against, so that a CI report (JUnit's testsuite name, the JSON report's
// SuiteDescription) says what the specs ran on: "dongle conformance
// (sim:ecm)".
func SuiteName(backends []Backend) string {
	names := make([]string, len(backends))
	for i, b := range backends {
		names[i] = b.Name()
	}
	return "dongle conformance (" + strings.Join(names, ", ") + ")"
}
