package cdcecm_test

import (
	"net"
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"dongle/hw/sim/ecm"
	"dongle/usbnet"
	"dongle/usbnet/cdcecm"
)

var (
	mcA = net.HardwareAddr{0x01, 0x00, 0x5e, 0x00, 0x00, 0xfb}
	mcB = net.HardwareAddr{0x33, 0x33, 0x00, 0x00, 0x00, 0x01}
	mcC = net.HardwareAddr{0x01, 0x80, 0xc2, 0x00, 0x00, 0x0e}
)

const (
	dirBcast = cdcecm.FilterDirected | cdcecm.FilterBroadcast
	promisc  = cdcecm.FilterPromiscuous
	allMulti = cdcecm.FilterAllMulticast
	multi    = cdcecm.FilterMulticast
)

var _ = Describe("receive filter (SET_ETHERNET_PACKET_FILTER)", func() {
	It("replaces the device's default filter with DIRECTED|BROADCAST on open", func() {
		r := newRig(ecm.Options{})
		bits, _ := r.m.Filter()
		Expect(bits).To(Equal(ecm.DefaultFilter))
		r.open()
		bits, _ = r.m.Filter()
		Expect(bits).To(Equal(dirBcast))
	})

	DescribeTable("the device receives Linux's bits for each flag combination",
		func(mcFilters uint16, promiscOn, allmultiOn bool, list []net.HardwareAddr, want uint16, wantList int) {
			r := newRig(ecm.Options{MCFilters: mcFilters}).open()
			if promiscOn {
				r.d.Net.SetPromisc(1)
			}
			if allmultiOn {
				r.d.Net.SetAllMulti(1)
			}
			for _, a := range list {
				Expect(r.d.Net.AddMulticast(a)).To(Succeed())
			}
			// SetMulticastList runs on the caller's control path: the
			// device has the filter when the call returns.
			bits, mc := r.m.Filter()
			Expect(bits).To(Equal(want), "wValue %#04x, want %#04x", bits, want)
			Expect(mc).To(HaveLen(wantList))
			for i := range mc {
				Expect(net.HardwareAddr(mc[i][:])).To(Equal(list[i]))
			}
			Expect(r.d.Counters().RxModeErrors.Load()).To(BeZero())
		},
		Entry("nothing", uint16(0), false, false, nil, dirBcast, 0),
		Entry("PROMISC", uint16(0), true, false, nil, dirBcast|promisc, 0),
		Entry("ALLMULTI", uint16(0), false, true, nil, dirBcast|allMulti, 0),
		Entry("PROMISC+ALLMULTI", uint16(0), true, true, nil, dirBcast|promisc|allMulti, 0),
		Entry("one group, no device filters", uint16(0), false, false, []net.HardwareAddr{mcA}, dirBcast|allMulti, 0),
		Entry("PROMISC and a group, no device filters", uint16(0), true, false, []net.HardwareAddr{mcA}, dirBcast|promisc|allMulti, 0),
		Entry("two groups fitting 4 device filters", uint16(4), false, false, []net.HardwareAddr{mcA, mcB}, dirBcast|multi, 2),
		Entry("three groups in 3 filters", uint16(3), false, false, []net.HardwareAddr{mcA, mcB, mcC}, dirBcast|multi, 3),
		Entry("three groups overflowing 2 filters", uint16(2), false, false, []net.HardwareAddr{mcA, mcB, mcC}, dirBcast|allMulti, 2),
		Entry("ALLMULTI wins over filters", uint16(4), false, true, []net.HardwareAddr{mcA}, dirBcast|allMulti, 0),
		Entry("PROMISC with groups in filters", uint16(4), true, false, []net.HardwareAddr{mcA}, dirBcast|promisc|multi, 1),
	)

	It("goes back to DIRECTED|BROADCAST when the flags are dropped", func() {
		r := newRig(ecm.Options{}).open()
		r.d.Net.SetPromisc(1)
		Expect(r.m.Filter()).To(Equal(dirBcast | promisc))
		r.d.Net.SetPromisc(-1)
		Expect(r.m.Filter()).To(Equal(dirBcast))
		Expect(r.d.Net.AddMulticast(mcA)).To(Succeed())
		Expect(r.m.Filter()).To(Equal(dirBcast | allMulti))
		Expect(r.d.Net.DelMulticast(mcA)).To(Succeed())
		Expect(r.m.Filter()).To(Equal(dirBcast))
	})

	It("computes the bits as a pure function too", func() {
		Expect(cdcecm.PacketFilter(usbnet.RxMode{}, false)).To(Equal(dirBcast))
		Expect(cdcecm.PacketFilter(usbnet.RxMode{Multicast: []net.HardwareAddr{mcA}}, true)).To(Equal(dirBcast | multi))
		Expect(cdcecm.PacketFilter(usbnet.RxMode{Promisc: true, Multicast: []net.HardwareAddr{mcA}}, false)).To(Equal(dirBcast | promisc | allMulti))
	})
})

func TestFilterBits(t *testing.T) {
	if got := cdcecm.FilterBits(0x1f); got != "PROMISCUOUS|ALL_MULTICAST|DIRECTED|BROADCAST|MULTICAST" {
		t.Error(got)
	}
	if got := cdcecm.FilterBits(0); got != "none" {
		t.Error(got)
	}
	if got := cdcecm.FilterBits(0x0c | 0x100); got != "DIRECTED|BROADCAST|0x100" {
		t.Error(got)
	}
}
