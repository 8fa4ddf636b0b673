package specs

import (
	"fmt"
	"net"

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
	// reaches injects f, then a marker frame directed to us, which every
	// filter passes, and reports whether f reached the driver. Frames from
	// the peer arrive in the order they were put on the wire, so f came
	// through if and only if it is delivered before the marker: no fixed
	// silence decides "dropped", however slow the path (the lab's peers
	// under TCG), and a late f cannot be taken for the next probe.
	marker := 1 << 30
	reaches := func(ctx SpecContext, h *Harness, f []byte) bool {
		GinkgoHelper()
		// The test frames delivered so far, counted where the stack's
		// tap sees them: RxTestPackets would count another station's
		// frame that the driver has counted and the tap not yet.
		rx := h.RxTest.Load()
		marker++
		m := Frame(h.Net.HardwareAddr(), PeerMAC, 60, marker)
		Expect(h.T.Peer.Inject(f)).To(Succeed())
		Expect(h.T.Peer.Inject(m)).To(Succeed())
		got := false
		for {
			select {
			case r := <-h.Rx:
				switch FrameSeq(r) {
				case marker:
					Expect(r).To(BeFrame(m))
					// What reached the driver was delivered: the marker,
					// and f exactly when it came through (other stations'
					// frames on a real wire are left out, RxOthers).
					want := rx + 1
					if got {
						want++
					}
					// Equal, eventually: another station's frame between
					// the driver's count and the tap makes it one high for
					// that moment; one high for good is a test frame that
					// reached the driver and was not delivered.
					Eventually(ctx, h.RxTestPackets).Should(Equal(want), "this run's frames that reached the driver (rx_packets less other stations'): more is one that was not delivered")
					return got
				case FrameSeq(f):
					Expect(r).To(BeFrame(f))
					got = true
				default:
					// A frame of an earlier probe of this spec, delivered
					// after its own marker was given up on: not possible
					// in order, so it is a fault of the device or peer.
					Fail(fmt.Sprintf("frame seq %d arrived while waiting for seq %d and its marker %d", FrameSeq(r), FrameSeq(f), marker))
				}
			case <-ctx.Done():
				Fail(fmt.Sprintf("the marker frame (seq %d) sent after seq %d never arrived", marker, FrameSeq(f)))
				return false
			}
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
