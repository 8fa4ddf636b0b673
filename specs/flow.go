package specs

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

func flowSpecs(b Backend) {
	Describe("flow control and statistics", Label(string(CapLive)), func() {
		It("retries through a saturated transmit queue without losing a frame", needsPeerOrEcho, func(ctx SpecContext) {
			// tx_queue_len is raised above the burst, so netdev never drops:
			// every frame must go through the busy/retry path (the driver
			// stops the queue when its transfers are all in flight and wakes
			// it on completion) and leave the device exactly once, in order.
			const n = 500
			h := Setup(ctx, b)
			// One TX transfer in flight: the driver takes its last slot
			// with every frame, so it stops the queue for each one and each
			// next frame waits in netdev until the completion wakes it.
			// (With four, the burst saturated the driver only when the
			// producer outran the bottom half, which on a fast
			// backend is up to the scheduler.)
			h.Dev.TxURBs = 1
			h.Up(ctx)
			h.Net.SetTxQueueLen(n)
			me := h.Net.HardwareAddr()
			dst := PeerMAC
			if h.T.Peer == nil {
				dst = me // echo: the frames come back to us
			}
			for i := 0; i < n; i++ {
				Expect(h.Send(Frame(dst, me, 1514, i))).To(Succeed(), "frame %d", i)
			}
			if h.T.Peer != nil {
				got, err := h.T.Peer.Received(ctx, n)
				Expect(err).NotTo(HaveOccurred())
				Expect(got).To(HaveLen(n))
				for i, f := range got {
					Expect(FrameSeq(f)).To(Equal(i), "frame %d out of order", i)
				}
			} else {
				for i := 0; i < n; i++ {
					f, err := h.Receive(ctx)
					Expect(err).NotTo(HaveOccurred(), "echo %d", i)
					Expect(FrameSeq(f)).To(Equal(i))
				}
			}
			Eventually(ctx, h.Net.Stats().TxPackets.Load).Should(BeEquivalentTo(n))
			Expect(h.Net.Stats().TxDropped.Load()).To(BeZero())
			Expect(h.Net.Stats().TxErrors.Load()).To(BeZero())
			// A transfer takes the only slot: one per frame, or, for a TX
			// aggregator (NCM), one per block it sends.
			transfers := uint64(n)
			if blocks := h.Dev.Counters().TxAggregates.Load(); blocks > 0 {
				transfers = blocks
			}
			Expect(h.Dev.Counters().TxQueueStops.Load()).To(BeNumerically(">=", transfers), "the driver stops the queue each time a transfer takes its only TX slot")
		}, SpecTimeout(specTimeout))

		It("counts every frame offered exactly once as sent, dropped or errored", needsPeerOrEcho, func(ctx SpecContext) {
			// The default queue (100) is too short for this burst: netdev
			// drops what does not fit, and the counters must add up. The
			// queue is held stopped (tbusy) for the burst, as the driver
			// holds it while a device takes no more transfers: a fast
			// backend drains a free-running burst as quickly as it is
			// offered (one run in nine did, on sim:ecm-gadget), and a spec
			// of drops must not depend on the scheduler to see one.
			const n = 2000
			h := Setup(ctx, b)
			h.Up(ctx)
			me := h.Net.HardwareAddr()
			refused := 0
			h.Net.StopQueue()
			for i := 0; i < n; i++ {
				if h.Send(Frame(PeerMAC, me, 600, i)) != nil {
					refused++
				}
			}
			Expect(h.Net.TxQueued()).To(BeNumerically("<=", h.Net.TxQueueLen), "the stopped queue holds at most tx_queue_len")
			h.Net.WakeQueue()
			st := h.Net.Stats()
			Eventually(ctx, func() uint64 { return st.TxPackets.Load() + st.TxDropped.Load() + st.TxErrors.Load() }).Should(BeEquivalentTo(n))
			Expect(st.TxDropped.Load()).To(BeNumerically(">=", refused), "frames refused by Xmit are counted as tx_dropped")
			// Without a drop the sum above is only tx_packets = n: the burst
			// must really have overflowed the queue for the spec to test it.
			Expect(refused).To(BeNumerically(">", 0), "no Xmit of %d was refused: the burst never overflowed tx_queue_len %d", n, h.Net.TxQueueLen)
			if h.T.Peer != nil {
				got, err := h.T.Peer.Received(ctx, int(st.TxPackets.Load()))
				Expect(err).NotTo(HaveOccurred())
				Expect(got).To(HaveLen(int(st.TxPackets.Load())), "frames on the wire = tx_packets")
			}
		}, SpecTimeout(specTimeout))
	})
}
