package specs

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

func linkSpecs(b Backend) {
	e := b.Expect()
	Describe("link", Label(string(CapLive)), func() {
		It("comes up after open, with the link speed reported", func(ctx SpecContext) {
			h := Setup(ctx, b)
			h.Up(ctx)
			if e.LinkMbps != 0 {
				Eventually(ctx, h.Net.Speed).WithPolling(5 * time.Millisecond).Should(Equal(e.LinkMbps))
			}
		}, SpecTimeout(specTimeout))

		It("goes down and up with the far side, delivering nothing while down", Label(string(CapLinkControl)), func(ctx SpecContext) {
			h := Setup(ctx, b)
			h.Up(ctx)
			me := h.Net.HardwareAddr()

			Expect(h.T.Link(false)).To(Succeed())
			Eventually(ctx, h.Net.Carrier).WithPolling(5*time.Millisecond).Should(BeFalse(), "carrier off after link down")
			rx := h.Net.Stats().RxPackets.Load()
			switch {
			case h.T.Peer != nil:
				// The far side keeps talking; the device must not pass it up.
				for i := 0; i < 5; i++ {
					h.T.Peer.Inject(Frame(me, PeerMAC, 100, i))
				}
			case has(b, CapEcho):
				// Without carrier the stack does not even try to send.
				Expect(h.Send(Frame(me, me, 100, 0))).NotTo(Succeed(), "xmit without carrier")
			}
			h.NoFrameWithin(200 * time.Millisecond)
			Expect(h.Net.Stats().RxPackets.Load()).To(Equal(rx), "frames received while the link was down")

			Expect(h.T.Link(true)).To(Succeed())
			Eventually(ctx, h.Net.Carrier).WithPolling(5*time.Millisecond).Should(BeTrue(), "carrier on after link up")
			f := Frame(me, PeerMAC, 100, 99)
			switch {
			case h.T.Peer != nil:
				Eventually(ctx, func() error { return h.T.Peer.Inject(f) }).Should(Succeed())
			case has(b, CapEcho):
				f = Frame(me, me, 100, 99)
				Expect(h.Send(f)).To(Succeed())
			default:
				return
			}
			Expect(h.Receive(ctx)).To(BeFrame(f))
		}, SpecTimeout(specTimeout))
	})
}
