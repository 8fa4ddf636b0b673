package specs

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

func errorSpecs(b Backend) {
	Describe("error recovery", Label(string(CapLive), string(CapFaults), string(CapPeer)), func() {
		It("clears a stalled bulk IN endpoint and keeps receiving", Label(string(CapStallIn)), func(ctx SpecContext) {
			h := Setup(ctx, b)
			h.Up(ctx)
			me := h.Net.HardwareAddr()
			Expect(h.T.Faults.Stall(h.Dev.In.Address)).To(Succeed())
			Eventually(ctx, h.Dev.Counters().RxHaltsCleared.Load).Should(BeNumerically(">=", 1), "bulk IN halt cleared")
			f := Frame(me, PeerMAC, 300, 1)
			Eventually(ctx, func() error { return h.T.Peer.Inject(f) }).Should(Succeed())
			Expect(h.Receive(ctx)).To(BeFrame(f))
		}, SpecTimeout(specTimeout))

		It("clears a stalled bulk OUT endpoint and keeps sending", Label(string(CapStallOut)), func(ctx SpecContext) {
			h := Setup(ctx, b)
			h.Up(ctx)
			me := h.Net.HardwareAddr()
			Expect(h.T.Faults.Stall(h.Dev.Out.Address)).To(Succeed())
			Expect(h.Send(Frame(PeerMAC, me, 300, 1))).To(Succeed())
			Eventually(ctx, h.Dev.Counters().TxHaltsCleared.Load).Should(BeNumerically(">=", 1), "bulk OUT halt cleared")
			st := h.Net.Stats()
			Eventually(ctx, func() uint64 { return st.TxPackets.Load() + st.TxErrors.Load() + st.TxDropped.Load() }).Should(BeEquivalentTo(1), "the stalled frame is counted once")
			f := Frame(PeerMAC, me, 300, 2)
			Expect(h.Send(f)).To(Succeed())
			// On a real wire the first frame may still be on its way.
			Expect(h.OnWire(ctx, 2)).To(BeFrame(f))
		}, SpecTimeout(specTimeout))

		It("counts a bulk OUT timeout and goes on", Label(string(CapTimeout)), func(ctx SpecContext) {
			h := Setup(ctx, b)
			h.Up(ctx)
			me := h.Net.HardwareAddr()
			Expect(h.T.Faults.TimeoutNext(h.Dev.Out.Address, 1)).To(Succeed())
			Expect(h.Send(Frame(PeerMAC, me, 300, 1))).To(Succeed())
			Eventually(ctx, h.Dev.Counters().Timeouts.Load).Should(BeNumerically(">=", 1))
			st := h.Net.Stats()
			Eventually(ctx, func() uint64 { return st.TxPackets.Load() + st.TxErrors.Load() + st.TxDropped.Load() }).Should(BeEquivalentTo(1))
			f := Frame(PeerMAC, me, 300, 2)
			Expect(h.Send(f)).To(Succeed())
			Expect(h.OnWire(ctx, 2)).To(BeFrame(f))
		}, SpecTimeout(specTimeout))

		It("stops cleanly when the adapter is unplugged under traffic", Label(string(CapUnplug)), func(ctx SpecContext) {
			h := Setup(ctx, b)
			h.Up(ctx)
			me := h.Net.HardwareAddr()
			h.Net.SetTxQueueLen(1000)
			for i := 0; i < 200; i++ {
				h.Send(Frame(PeerMAC, me, 1514, i))
				h.T.Peer.Inject(Frame(me, PeerMAC, 1514, i))
			}
			Expect(h.T.Faults.Unplug()).To(Succeed())
			Eventually(ctx, h.Dev.Gone()).Should(BeClosed(), "the driver notices the unplug")
			Eventually(ctx, h.Net.Carrier).WithPolling(5 * time.Millisecond).Should(BeFalse())
			Expect(h.Send(Frame(PeerMAC, me, 100, 1))).NotTo(Succeed(), "xmit after unplug")
			// Teardown (Disconnect, close) and the leak checks run after this:
			// everything queued or in flight must have been freed.
		}, SpecTimeout(specTimeout))
	})
}
