package specs

import (
	"net"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// The filter specs look at what reaches the driver (rx_packets), not only at
// what the stack delivers: a frame the hardware filter drops never crosses
// the bus, and that is what they prove. A device whose filter drops less
// than its protocol says (Expectations.Filter: a finding about the device)
// is checked as it is, with the finding in the spec's report, and the spec
// fails if the device starts filtering (ErrFindingGone).
func filterSpecs(b Backend) {
	group := net.HardwareAddr{0x01, 0x00, 0x5e, 0x00, 0x00, 0xfb} // 224.0.0.251 (mDNS)
	other := net.HardwareAddr{0x02, 0x00, 0x00, 0x11, 0x22, 0x33}
	bcast := net.HardwareAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
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

	// eventuallyFiltered waits for the device's filter to settle on the
	// verdict for p (a filter change takes a control request).
	eventuallyFiltered := func(ctx SpecContext, h *Harness, p filterProbe, f func() []byte) {
		GinkgoHelper()
		var got bool
		Eventually(ctx, func() error {
			got = reaches(ctx, h, f())
			return filterVerdict(h.B.Name(), h.B.Expect().Filter, p, got)
		}).Should(Succeed())
		h.expectFiltered(p, got)
	}

	Describe("filters, observable on the wire", Label(string(CapLive), string(CapPeer)), func() {
		It("takes directed and broadcast frames and drops other stations' unicast", func(ctx SpecContext) {
			h := Setup(ctx, b)
			h.Up(ctx)
			Expect(reaches(ctx, h, Frame(h.Net.HardwareAddr(), PeerMAC, 100, 1))).To(BeTrue(), "directed to us")
			Expect(reaches(ctx, h, Frame(bcast, PeerMAC, 100, 2))).To(BeTrue(), "broadcast")
			h.expectFiltered(probeOtherUnicast, reaches(ctx, h, Frame(other, PeerMAC, 100, 3)))
		}, SpecTimeout(specTimeout))

		It("takes a multicast group only once it is subscribed", func(ctx SpecContext) {
			h := Setup(ctx, b)
			h.Up(ctx)
			h.expectFiltered(probeUnsubscribedGroup, reaches(ctx, h, Frame(group, PeerMAC, 100, 1)))
			Expect(h.Net.AddMulticast(group)).To(Succeed())
			Eventually(ctx, func() bool { return reaches(ctx, h, Frame(group, PeerMAC, 100, 2)) }).Should(BeTrue(), "subscribed group")
			Expect(h.Net.DelMulticast(group)).To(Succeed())
			// The group left again.
			seq := 3
			eventuallyFiltered(ctx, h, probeUnsubscribedGroup, func() []byte { seq++; return Frame(group, PeerMAC, 100, seq) })
		}, SpecTimeout(specTimeout))

		It("hears every frame in promiscuous mode, and stops when it is left", func(ctx SpecContext) {
			h := Setup(ctx, b)
			h.Up(ctx)
			h.Net.SetPromisc(1)
			Eventually(ctx, func() bool { return reaches(ctx, h, Frame(other, PeerMAC, 100, 1)) }).Should(BeTrue(), "another station's unicast, promiscuous")
			Expect(reaches(ctx, h, Frame(group, PeerMAC, 100, 2))).To(BeTrue(), "any multicast, promiscuous")
			h.Net.SetPromisc(-1)
			// Promiscuous mode left: filtered again, as the device filters.
			seq := 2
			eventuallyFiltered(ctx, h, probeUnsubscribedGroup, func() []byte { seq++; return Frame(group, PeerMAC, 100, seq) })
			h.expectFiltered(probeOtherUnicast, reaches(ctx, h, Frame(other, PeerMAC, 100, seq+1)))
		}, SpecTimeout(specTimeout))

		It("takes every multicast group in all-multicast mode, but not other stations' unicast", func(ctx SpecContext) {
			h := Setup(ctx, b)
			h.Up(ctx)
			h.Net.SetAllMulti(1)
			Eventually(ctx, func() bool { return reaches(ctx, h, Frame(group, PeerMAC, 100, 1)) }).Should(BeTrue(), "a group nobody subscribed")
			h.expectFiltered(probeOtherUnicast, reaches(ctx, h, Frame(other, PeerMAC, 100, 2)))
		}, SpecTimeout(specTimeout))
	})
}
