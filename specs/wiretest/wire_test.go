package wiretest_test

import (
	"slices"
	"strings"
	"testing"

	. "github.com/onsi/ginkgo/v2"
	"github.com/onsi/ginkgo/v2/types"

	"dongle/hw/sim/ifwire/vethtest"
	"dongle/specs"
)

var report types.Report

var _ = ReportAfterSuite("wiretest", func(r Report) { report = r })

// TestSuiteThroughVeth runs every spec of two models (a CDC ECM gadget
// and an AX88179) with their wire on a veth and the iface peer on its
// other end, then checks that the peer's specs ran there rather than
// skipped: a peer that failed to register or to open would make them skip
// or fail.
func TestSuiteThroughVeth(t *testing.T) {
	peerEnd, modelEnd := vethtest.Veth(t)
	t.Setenv("DONGLE_PEER", "iface:"+peerEnd)
	o := specs.OptionsFromFlags()
	o.Backends = []string{"sim:ecm-gadget@" + modelEnd, "sim:ax88179@" + modelEnd}
	if !specs.Run(t, o) {
		t.Fatal("the suite failed through the veth (see the Ginkgo output)")
	}
	ran := map[string]int{}
	for _, s := range report.SpecReports {
		labels := s.Labels()
		if s.State == types.SpecStateSkipped && s.Failure.Message != "" && strings.Contains(s.Failure.Message, "needs-peer") {
			t.Errorf("skipped for want of a peer: %s: %s", s.FullText(), s.Failure.Message)
		}
		if s.State != types.SpecStatePassed {
			continue
		}
		for _, c := range []string{"needs-peer", "needs-link-control", "needs-faults"} {
			if slices.Contains(labels, c) {
				ran[c]++
			}
		}
	}
	// Two backends: the size edges alone are dozens of needs-peer specs
	// each; link control and the error specs a few each.
	if ran["needs-peer"] < 40 || ran["needs-link-control"] < 2 || ran["needs-faults"] < 2 {
		t.Errorf("specs that passed through the veth: %v; want the peer's, link control's and the faults' to run", ran)
	}
	t.Logf("passed through the veth: %v", ran)
}
