package specs

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

func mtuSpecs(b Backend) {
	Describe("MTU change", func() {
		It("refuses an MTU above what the device takes", func(ctx SpecContext) {
			h := Setup(ctx, b)
			Expect(h.Net.SetMTU(h.Dev.HardMTU - 14 + 1)).NotTo(Succeed())
			Expect(h.Net.MTU()).To(Equal(1500))
		}, SpecTimeout(specTimeout))

		It("carries full frames at a smaller MTU", Label(string(CapLive), string(CapPeer)), func(ctx SpecContext) {
			h := Setup(ctx, b)
			Expect(h.Net.SetMTU(1000)).To(Succeed())
			Expect(h.Net.MTU()).To(Equal(1000))
			h.Up(ctx)
			f := Frame(PeerMAC, h.Net.HardwareAddr(), 1014, 1)
			Expect(h.Send(f)).To(Succeed())
			got, err := h.T.Peer.Received(ctx, 1)
			Expect(err).NotTo(HaveOccurred())
			Expect(got[0]).To(BeFrame(f))
			in := Frame(h.Net.HardwareAddr(), PeerMAC, 1014, 2)
			Expect(h.T.Peer.Inject(in)).To(Succeed())
			Expect(h.Receive(ctx)).To(BeFrame(in))
		}, SpecTimeout(specTimeout))
	})
}
