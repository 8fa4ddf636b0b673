package wiretest_test

import (
	"encoding/binary"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

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
	// Other stations talk on both sides of the cable all along: towards
	// the device and towards the peer.
	stop := noise(t, peerEnd, modelEnd)
	defer stop()
	o := specs.OptionsFromFlags()
	o.Backends = []string{"sim:ecm-gadget@" + modelEnd, "sim:ax88179@" + modelEnd}
	o.Peer = "iface:" + peerEnd // what dongle test --peer sets
	if !specs.Run(t, o) {
		t.Fatal("the suite failed through the veth (see the Ginkgo output)")
	}
	stop()
	ran := map[string]int{}
	ignored := 0
	for _, s := range report.SpecReports {
		for _, e := range s.ReportEntries {
			if e.Name == "ignored-frames" {
				ignored++
			}
		}
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
	// The noise reached the peers and the stack, and was left out.
	if ignored == 0 {
		t.Error("no spec reports ignored frames, yet other stations talked all along")
	}
	t.Logf("passed through the veth: %v; %d specs ignored other stations' frames", ran, ignored)
}

// noise sends other stations' frames into both interfaces every few
// milliseconds until stop: a broadcast ARP request, LLDP, an STP BPDU
// (802.3 length field), an IPv6 all-nodes multicast, and a test frame of
// another run (TestEtherType, another tag).
func noise(t *testing.T, ifaces ...string) (stop func()) {
	t.Helper()
	src := net.HardwareAddr{0x02, 0x00, 0x00, 0x99, 0x99, 0x99}
	mk := func(dst net.HardwareAddr, typ uint16) []byte {
		f := make([]byte, 64)
		copy(f, dst)
		copy(f[6:], src)
		binary.BigEndian.PutUint16(f[12:], typ)
		return f
	}
	other := specs.Frame(net.HardwareAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, src, 100, 1)
	binary.BigEndian.PutUint32(other[14:], specs.RunTag()^0xffffffff)
	frames := [][]byte{
		mk(net.HardwareAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, 0x0806),
		mk(net.HardwareAddr{0x01, 0x80, 0xc2, 0x00, 0x00, 0x0e}, 0x88cc),
		mk(net.HardwareAddr{0x01, 0x80, 0xc2, 0x00, 0x00, 0x00}, 0x0026),
		mk(net.HardwareAddr{0x33, 0x33, 0x00, 0x00, 0x00, 0x01}, 0x86dd),
		other,
	}
	var fds []int
	for _, name := range ifaces {
		ifi, err := net.InterfaceByName(name)
		if err != nil {
			t.Fatal(err)
		}
		fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		if err := unix.Bind(fd, &unix.SockaddrLinklayer{Ifindex: ifi.Index}); err != nil {
			t.Fatal(err)
		}
		fds = append(fds, fd)
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-done:
				return
			case <-tick.C:
			}
			for _, fd := range fds {
				// ENETDOWN while a spec holds the link down is expected.
				_ = unix.Send(fd, frames[i%len(frames)], 0)
			}
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() {
			close(done)
			wg.Wait()
			for _, fd := range fds {
				unix.Close(fd)
			}
		})
	}
}
