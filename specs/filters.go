package specs

import (
	"net"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// The filter specs look at what reaches the driver (rx_packets), not only at
// what the stack delivers: a frame the hardware filter drops never crosses
// the bus, and that is what they prove.
func filterSpecs(b Backend) {
	group := net.HardwareAddr{0x01, 0x00, 0x5e, 0x00, 0x00, 0xfb} // 224.0.0.251 (mDNS)
	other := net.HardwareAddr{0x02, 0x00, 0x00, 0x11, 0x22, 0x33}
	bcast := net.HardwareAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
	// Another station's unicast outside promiscuous mode: dropped by a
	// device that filters on its own address, passed by one that does not
	// (and the spec checks that it is passed, so a change is noticed).
	e := b.Expect()
	otherPasses, otherWhy := e.PassesOtherUnicast != "", "unicast to another station"
	if otherPasses {
		otherWhy += ", which this device passes: " + e.PassesOtherUnicast
	}

	// reaches injects f and reports whether the driver received it.
	reaches := func(ctx SpecContext, h *Harness, f []byte) bool {
		GinkgoHelper()
		rx := h.RxTestPackets()
		Expect(h.T.Peer.Inject(f)).To(Succeed())
		select {
		case got := <-h.Rx:
			Expect(got).To(BeFrame(f))
			return true
		case <-time.After(300 * time.Millisecond):
			// Other stations' frames on a real wire are left out (RxOthers).
			Eventually(h.RxTestPackets).WithTimeout(100*time.Millisecond).Should(Equal(rx), "the frame reached the driver but was not delivered")
			return false
		case <-ctx.Done():
			Fail("spec timed out")
			return false
		}
	}

	Describe("filters, observable on the wire", Label(string(CapLive), string(CapPeer), string(CapRxFilter)), func() {
		It("takes directed and broadcast frames and drops other stations' unicast", Label(string(CapUnicastFilter)), func(ctx SpecContext) {
			h := Setup(ctx, b)
			h.Up(ctx)
			Expect(reaches(ctx, h, Frame(h.Net.HardwareAddr(), PeerMAC, 100, 1))).To(BeTrue(), "directed to us")
			Expect(reaches(ctx, h, Frame(bcast, PeerMAC, 100, 2))).To(BeTrue(), "broadcast")
			Expect(reaches(ctx, h, Frame(other, PeerMAC, 100, 3))).To(Equal(otherPasses), otherWhy)
		}, SpecTimeout(specTimeout))

		It("takes a multicast group only once it is subscribed", func(ctx SpecContext) {
			h := Setup(ctx, b)
			h.Up(ctx)
			Expect(reaches(ctx, h, Frame(group, PeerMAC, 100, 1))).To(BeFalse(), "unsubscribed group")
			Expect(h.Net.AddMulticast(group)).To(Succeed())
			Eventually(ctx, func() bool { return reaches(ctx, h, Frame(group, PeerMAC, 100, 2)) }).Should(BeTrue(), "subscribed group")
			Expect(h.Net.DelMulticast(group)).To(Succeed())
			Eventually(ctx, func() bool { return reaches(ctx, h, Frame(group, PeerMAC, 100, 3)) }).Should(BeFalse(), "group left again")
		}, SpecTimeout(specTimeout))

		It("hears every frame in promiscuous mode, and stops when it is left", Label(string(CapUnicastFilter)), func(ctx SpecContext) {
			h := Setup(ctx, b)
			h.Up(ctx)
			h.Net.SetPromisc(1)
			Eventually(ctx, func() bool { return reaches(ctx, h, Frame(other, PeerMAC, 100, 1)) }).Should(BeTrue(), "another station's unicast, promiscuous")
			Expect(reaches(ctx, h, Frame(group, PeerMAC, 100, 2))).To(BeTrue(), "any multicast, promiscuous")
			h.Net.SetPromisc(-1)
			// An unsubscribed group is dropped again on every device.
			Eventually(ctx, func() bool { return reaches(ctx, h, Frame(group, PeerMAC, 100, 3)) }).Should(BeFalse(), "promiscuous left: an unsubscribed group")
			Expect(reaches(ctx, h, Frame(other, PeerMAC, 100, 4))).To(Equal(otherPasses), "promiscuous left: "+otherWhy)
		}, SpecTimeout(specTimeout))

		It("takes every multicast group in all-multicast mode, but not other stations' unicast", Label(string(CapUnicastFilter)), func(ctx SpecContext) {
			h := Setup(ctx, b)
			h.Up(ctx)
			h.Net.SetAllMulti(1)
			Eventually(ctx, func() bool { return reaches(ctx, h, Frame(group, PeerMAC, 100, 1)) }).Should(BeTrue(), "a group nobody subscribed")
			Expect(reaches(ctx, h, Frame(other, PeerMAC, 100, 2))).To(Equal(otherPasses), otherWhy)
		}, SpecTimeout(specTimeout))
	})
}
