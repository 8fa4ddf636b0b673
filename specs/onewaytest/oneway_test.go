package onewaytest_test

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"

	. "github.com/onsi/ginkgo/v2"
	"github.com/onsi/ginkgo/v2/types"
	"github.com/onsi/gomega"

	"dongle/hw/sim"
	"dongle/hw/sim/ecm"
	"dongle/specs"
)

// Directions the broken cable mangles.
const (
	out  = "out"  // frames the device puts on the wire (host → wire)
	in   = "in"   // frames towards the device (wire → host)
	none = "none" // an intact cable: the control
)

// portFunc is a sim.Port from a function.
type portFunc func(frame []byte)

func (f portFunc) Receive(frame []byte) { f(frame) }

// mangle rewrites the source address, as a broken device or minidriver
// that overwrote it would.
func mangle(frame []byte) []byte {
	g := slices.Clone(frame)
	if len(g) >= 12 {
		copy(g[6:12], []byte{0x02, 0xde, 0xad, 0xbe, 0xef, 0x00})
	}
	return g
}

// capturePeer is a specs.Peer on a sim wire end.
type capturePeer struct {
	end  *sim.End
	capt *sim.Capture
}

func (p *capturePeer) Inject(frame []byte) error {
	if !p.end.Send(frame) {
		return fmt.Errorf("frame dropped")
	}
	return nil
}
func (p *capturePeer) Received(ctx context.Context, n int) ([][]byte, error) {
	return p.capt.WaitFor(ctx, n)
}
func (p *capturePeer) Reset() { p.capt.Reset() }

// brokenCable is the ECM gadget model with a cable that mangles one
// direction, and a peer or an echo at its far end.
type brokenCable struct {
	dir  string
	echo bool
}

var _ specs.Backend = brokenCable{}

func (b brokenCable) Name() string {
	far := "peer"
	if b.echo {
		far = "echo"
	}
	return "oneway-" + b.dir + "-" + far
}

func (b brokenCable) Caps() []specs.Cap {
	if b.echo {
		return []specs.Cap{specs.CapLive, specs.CapEcho}
	}
	return []specs.Cap{specs.CapLive, specs.CapPeer}
}

func (b brokenCable) Why(c specs.Cap) string { return "not this demonstration's" }

func (b brokenCable) Expect() specs.Expectations {
	return specs.Expectations{Driver: "cdc_ether", Vendor: 0x0525, Product: 0xa4a2, MaxPacket: 512, RxFrames: -1}
}

func (b brokenCable) Open(context.Context) (*specs.Target, error) {
	dev, m := ecm.NewDevice(ecm.Options{Flavor: ecm.Gadget})
	device, far := sim.NewWire(), sim.NewWire()
	m.Connect(device.A())
	device.B().Attach(portFunc(func(f []byte) {
		if b.dir == out {
			f = mangle(f)
		}
		far.A().Send(f)
	}))
	far.A().Attach(portFunc(func(f []byte) {
		if b.dir == in {
			f = mangle(f)
		}
		device.B().Send(f)
	}))
	t := &specs.Target{HW: dev, Close: dev.Close}
	if b.echo {
		sim.NewLoopback(far.B())
	} else {
		capt := sim.NewCapture()
		far.B().Attach(capt)
		t.Peer = &capturePeer{end: far.B(), capt: capt}
	}
	return t, nil
}

// failingT is Ginkgo's testing.T here: the specs are expected to fail,
// and the test judges which did from the report.
type failingT struct{ failed bool }

func (f *failingT) Fail() { f.failed = true }

var report types.Report

var _ = ReportAfterSuite("oneway", func(r Report) { report = r })

const (
	hostToWire = "leave the device intact (host → wire)"
	wireToHost = "arrive intact (wire → host)"
	roundTrip  = "come back through an echoing far side"
)

func TestPeerTellsTheDirectionEchoCannot(t *testing.T) {
	var backends []specs.Backend
	for _, d := range []string{out, in, none} {
		backends = append(backends, brokenCable{dir: d}, brokenCable{dir: d, echo: true})
	}
	specs.Define(backends)
	suite, reporter := GinkgoConfiguration()
	suite.LabelFilter = specs.LabelFilter(backends, "")
	suite.FocusStrings = []string{regexp.QuoteMeta(hostToWire), regexp.QuoteMeta(wireToHost), regexp.QuoteMeta(roundTrip)}
	reporter.Succinct = true
	gomega.RegisterFailHandler(Fail)
	ft := &failingT{}
	RunSpecs(ft, "one-way mangling", suite, reporter)

	// outcome[backend][table] = passed, failed; msgs[backend][size] = the
	// round trip's failure message.
	type count struct{ passed, failed int }
	outcome := map[string]map[string]*count{}
	msgs := map[string]map[string]string{}
	for _, s := range report.SpecReports {
		if s.LeafNodeType != types.NodeTypeIt || len(s.ContainerHierarchyTexts) < 3 {
			continue
		}
		backend, table := s.ContainerHierarchyTexts[0], s.ContainerHierarchyTexts[len(s.ContainerHierarchyTexts)-1]
		if !strings.HasPrefix(backend, "oneway-") || (table != hostToWire && table != wireToHost && table != roundTrip) {
			continue // another backend's, or not focused
		}
		if s.State == types.SpecStateSkipped {
			continue // the other far side's table (a peer's backend has no echo), checked below by "did not run"
		}
		if outcome[backend] == nil {
			outcome[backend], msgs[backend] = map[string]*count{}, map[string]string{}
		}
		if outcome[backend][table] == nil {
			outcome[backend][table] = &count{}
		}
		switch s.State {
		case types.SpecStatePassed:
			outcome[backend][table].passed++
		case types.SpecStateFailed:
			outcome[backend][table].failed++
			if table == roundTrip {
				msgs[backend][s.LeafNodeText] = s.Failure.Message
			}
			if table == hostToWire && !strings.Contains(s.Failure.Message, "first difference at byte 6") {
				t.Errorf("%s %s: failure does not point at the source address: %s", backend, s.LeafNodeText, s.Failure.Message)
			}
		default:
			t.Errorf("%s %s %s: %s", backend, table, s.LeafNodeText, s.State)
		}
	}
	if !ft.failed {
		t.Error("the suite passed against broken cables")
	}
	// pass and fail say what each table must do against each backend:
	// every entry passes, or every entry fails.
	expect := func(backend, table string, fails bool) {
		t.Helper()
		c := outcome[backend][table]
		switch {
		case c == nil || c.passed+c.failed == 0:
			t.Errorf("%s: %q did not run", backend, table)
		case fails && c.passed > 0:
			t.Errorf("%s: %q passed %d of %d entries; every one must fail", backend, table, c.passed, c.passed+c.failed)
		case !fails && c.failed > 0:
			t.Errorf("%s: %q failed %d of %d entries; every one must pass", backend, table, c.failed, c.passed+c.failed)
		}
	}
	// The peer names the direction.
	expect("oneway-out-peer", hostToWire, true)
	expect("oneway-out-peer", wireToHost, false)
	expect("oneway-in-peer", hostToWire, false)
	expect("oneway-in-peer", wireToHost, true)
	expect("oneway-none-peer", hostToWire, false)
	expect("oneway-none-peer", wireToHost, false)
	// The echo sees a round trip fail, the same way for either direction.
	expect("oneway-out-echo", roundTrip, true)
	expect("oneway-in-echo", roundTrip, true)
	expect("oneway-none-echo", roundTrip, false)
	if len(msgs["oneway-out-echo"]) == 0 || len(msgs["oneway-out-echo"]) != len(msgs["oneway-in-echo"]) {
		t.Errorf("round-trip failures: %d mangling out, %d mangling in", len(msgs["oneway-out-echo"]), len(msgs["oneway-in-echo"]))
	}
	for size, m := range msgs["oneway-out-echo"] {
		if msgs["oneway-in-echo"][size] != m {
			t.Errorf("%s: the echo's failures differ by direction, so it could tell them apart:\n out: %s\n in:  %s", size, m, msgs["oneway-in-echo"][size])
		}
	}
}
