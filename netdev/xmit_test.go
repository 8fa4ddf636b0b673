package netdev_test

import (
	"sync"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"dongle/netdev"
	"dongle/netdev/netdevtest"
	"dongle/skbuff"
)

var _ = Describe("transmit", func() {
	It(`buffs[]: "an array of packet queues for each kernel priority level" — the best band is served first`, Label("article"), func() {
		d, drv := upEth()
		d.StopQueue()
		Expect(d.Xmit(txFrame(1, 1))).To(Succeed()) // bulk → band 2
		Expect(d.Xmit(txFrame(2, 0))).To(Succeed()) // best effort → band 1
		Expect(d.Xmit(txFrame(3, 6))).To(Succeed()) // interactive → band 0
		Expect(d.Xmit(txFrame(4, 0))).To(Succeed())
		Expect(d.Xmit(txFrame(5, 7))).To(Succeed())
		Expect(d.TxQueued()).To(Equal(5))
		d.WakeQueue()
		_, _, sent := drv.Snapshot()
		Expect(sent).To(Equal([]byte{3, 5, 2, 4, 1}))
		Expect([]int{netdev.Band(6), netdev.Band(0), netdev.Band(1)}).To(Equal([]int{0, 1, 2}))
	})

	It(`tx_queue_len: "typically this is around 100 for Ethernet and 10 for serial lines"`, Label("article"), func() {
		eth := netdev.New("eth%d", &netdevtest.Driver{})
		netdev.EtherSetup(eth)
		Expect(eth.TxQueueLen).To(Equal(100))
		sl := netdev.New("sl%d", &netdevtest.Driver{})
		netdev.PointToPointSetup(sl)
		Expect(sl.TxQueueLen).To(Equal(10))
	})

	It(`tx_queue_len is "the maximum number of frames the kernel should queue": a full queue drops, frees and counts tx_dropped`, Label("article"), func() {
		d, drv := upEth()
		d.SetTxQueueLen(3)
		d.StopQueue()
		for i := range 3 {
			Expect(d.TxQueueFull()).To(BeFalse(), "%d queued of 3", i)
			Expect(d.Xmit(txFrame(byte(i), i))).To(Succeed())
		}
		Expect(d.TxQueueFull()).To(BeTrue(), "TxQueueFull says what the next Xmit meets")
		err := d.Xmit(txFrame(9, 0))
		Expect(err).To(MatchError(netdev.ErrQueueFull))
		Expect(err.Error()).To(ContainSubstring(d.Name()))
		Expect(d.Stats().TxDropped.Load()).To(Equal(uint64(1)))
		Expect(skbuff.Live()).To(Equal(3), "the refused frame was freed")
		d.WakeQueue()
		_, accepted, _ := drv.Snapshot()
		Expect(accepted).To(Equal(3))
	})

	It(`"a device can modify this dynamically, although its effect will lag the change slightly": queued frames are never dropped`, Label("article"), func() {
		d, drv := upEth()
		d.StopQueue()
		for i := range 5 {
			Expect(d.Xmit(txFrame(byte(i), 0))).To(Succeed())
		}
		d.SetTxQueueLen(2)
		Expect(d.TxQueued()).To(Equal(5), "nothing dropped by the change")
		Expect(d.TxQueueFull()).To(BeTrue(), "over the new bound is full")
		Expect(d.Xmit(txFrame(9, 0))).To(MatchError(netdev.ErrQueueFull), "the next enqueue sees the new bound")
		d.WakeQueue()
		_, _, sent := drv.Snapshot()
		Expect(sent).To(Equal([]byte{0, 1, 2, 3, 4}))
		Expect(d.Xmit(txFrame(10, 0))).To(Succeed())
	})

	Describe("busy and retry", func() {
		It(`"return 1 and set dev->tbusy ... this action will queue the buffer to be retried again later"`, Label("article"), func() {
			d, drv := upEth()
			drv.SetBusy(true)
			Expect(d.Xmit(txFrame(1, 0))).To(Succeed())
			Expect(d.QueueStopped()).To(BeTrue(), "tbusy")
			Expect(d.TxQueued()).To(Equal(1), "requeued")
			Expect(d.Xmit(txFrame(2, 0))).To(Succeed())
			offers, accepted, _ := drv.Snapshot()
			Expect(offers).To(Equal(1), "a stopped queue offers nothing")
			Expect(accepted).To(BeZero())

			drv.SetBusy(false)
			d.WakeQueue()
			offers, accepted, sent := drv.Snapshot()
			Expect(offers).To(Equal(3))
			Expect(sent).To(Equal([]byte{1, 2}), "the refused frame is retried first, at the head")
			Expect(accepted).To(Equal(2))
			Expect(d.QueueStopped()).To(BeFalse())
		})

		It(`"there is no guarantee that a retry will occur": without WakeQueue the frame waits`, Label("article"), func() {
			d, drv := upEth()
			drv.SetBusy(true)
			Expect(d.Xmit(txFrame(1, 0))).To(Succeed())
			drv.SetBusy(false)
			Consistently(d.TxQueued).WithTimeout(50e6).Should(Equal(1))
			offers, _, _ := drv.Snapshot()
			Expect(offers).To(Equal(1))
		})

		It(`"if the protocol layer decides to free the buffer that the driver has rejected, then the buffer will not be offered back"`, Label("article"), func() {
			d, drv := upEth()
			drv.SetBusy(true)
			Expect(d.Xmit(txFrame(1, 0))).To(Succeed())
			Expect(d.Close()).To(Succeed()) // the stack gives up: queue purged
			Expect(skbuff.Live()).To(BeZero(), "freed once")
			Expect(d.Stats().TxDropped.Load()).To(Equal(uint64(1)))
			drv.SetBusy(false)
			Expect(d.Open()).To(Succeed())
			d.WakeQueue()
			offers, accepted, _ := drv.Snapshot()
			Expect(offers).To(Equal(1), "never offered again")
			Expect(accepted).To(BeZero())
		})

		It("a WakeQueue racing with the Busy answer retries at once (no lost wake-up)", func() {
			calls := 0
			d := upWith(func(b *skbuff.Buff, d *netdev.Device) netdev.XmitResult {
				calls++
				if calls == 1 {
					d.StopQueue() // the ring is full...
					d.WakeQueue() // ...and a completion frees a slot before we even return
					return netdev.XmitBusy
				}
				b.Free(skbuff.FreeWrite)
				return netdev.XmitOK
			})
			Expect(d.Xmit(txFrame(1, 0))).To(Succeed())
			Expect(calls).To(Equal(2), "retried without another WakeQueue")
			Expect(d.TxQueued()).To(BeZero())
			Expect(d.QueueStopped()).To(BeFalse())
		})

		It("the TX tap sees a retried frame once", func() {
			d, drv := upEth()
			seen := 0
			d.AddTap(func(b *skbuff.Buff, dir netdev.Direction) {
				if dir == netdev.DirTX {
					seen++
				}
			})
			drv.SetBusy(true)
			Expect(d.Xmit(txFrame(1, 0))).To(Succeed())
			d.WakeQueue()
			d.WakeQueue()
			drv.SetBusy(false)
			d.WakeQueue()
			offers, _, _ := drv.Snapshot()
			Expect(offers).To(Equal(4))
			Expect(seen).To(Equal(1))
		})
	})

	Describe("ownership", func() {
		It(`"the device driver has absolute ownership of the buffer until it chooses to relinquish it": accounting proves each accepted buffer is freed once`, Label("article"), func() {
			d, drv := upEth()
			drv.Hold = true
			before := skbuff.Counters()
			for i := range 4 {
				Expect(d.Xmit(txFrame(byte(i), 0))).To(Succeed())
			}
			Expect(skbuff.Live()).To(Equal(4), "held by the driver")
			Expect(drv.Held.Len()).To(Equal(4), "chained through the buffers' own next/prev")
			Expect(drv.Complete(d)).To(Equal(4))
			after := skbuff.Counters()
			Expect(after.FreedWrite-before.FreedWrite).To(Equal(uint64(4)), "dev_kfree_skb(skb, FREE_WRITE), once each")
			Expect(d.Stats().TxPackets.Load()).To(Equal(uint64(4)))
		})

		It(`"the buffer handed down already contains all the headers, including link layer headers"`, Label("article"), func() {
			d, drv := upEth()
			var seen []byte
			drv.OnXmit = func(b *skbuff.Buff, _ *netdev.Device) { seen = append([]byte(nil), b.Data()[:14]...) }
			b := frame(otherMAC, 0x0800, 1)
			want := append([]byte(nil), b.Data()[:14]...)
			Expect(d.Xmit(b)).To(Succeed())
			Expect(seen).To(Equal(want))
		})

		It(`"it can call dev_kfree_skb() to dump the buffer and return 0 indicating the buffer has been processed"`, Label("article"), func() {
			d, drv := upEth()
			drv.DropAll = true
			Expect(d.Xmit(txFrame(1, 0))).To(Succeed())
			Expect(skbuff.Live()).To(BeZero())
			Expect(d.Stats().TxDropped.Load()).To(Equal(uint64(1)))
			Expect(d.TxQueued()).To(BeZero(), "not requeued")
		})

		It("a driver that frees a buffer and still answers Busy is caught (use after free), and the queue survives", func() {
			bad := true
			d := upWith(func(b *skbuff.Buff, d *netdev.Device) netdev.XmitResult {
				b.Free(skbuff.FreeWrite)
				if bad {
					return netdev.XmitBusy
				}
				return netdev.XmitOK
			})
			Expect(func() { _ = d.Xmit(txFrame(1, 0)) }).To(PanicWith(
				WithTransform(func(e *skbuff.PanicError) string { return e.Reason }, Equal("use after free"))))
			Expect(d.TxQueued()).To(BeZero(), "the dead buffer was not requeued")
			bad = false
			Expect(d.Xmit(txFrame(2, 0))).To(Succeed())
			Expect(d.Stats().TxDropped.Load()).To(BeZero())
		})

		It("a driver that keeps a buffer on its own chain and still answers Busy is caught, and the queue survives", func() {
			var chain skbuff.Queue
			keep := true
			d := upWith(func(b *skbuff.Buff, d *netdev.Device) netdev.XmitResult {
				if keep {
					chain.QueueTail(b)
					return netdev.XmitBusy
				}
				b.Free(skbuff.FreeWrite)
				return netdev.XmitOK
			})
			Expect(func() { _ = d.Xmit(txFrame(1, 0)) }).To(PanicWith(
				WithTransform(func(e *skbuff.PanicError) string { return e.Reason }, ContainSubstring("already on a queue"))))
			chain.Purge(skbuff.FreeWrite)
			keep = false
			Expect(d.Xmit(txFrame(2, 0))).To(Succeed())
			Expect(d.TxQueued()).To(BeZero())
		})

		It("a driver that frees an accepted buffer twice is caught (double free)", func() {
			twice := true
			d := upWith(func(b *skbuff.Buff, d *netdev.Device) netdev.XmitResult {
				b.Free(skbuff.FreeWrite)
				if twice {
					b.Free(skbuff.FreeWrite)
				}
				return netdev.XmitOK
			})
			Expect(func() { _ = d.Xmit(txFrame(1, 0)) }).To(PanicWith(
				WithTransform(func(e *skbuff.PanicError) string { return e.Reason }, Equal("double free"))))
			twice = false
			before := skbuff.Counters().FreedWrite
			Expect(d.Xmit(txFrame(2, 0))).To(Succeed(), "the queue still runs")
			Expect(skbuff.Counters().FreedWrite - before).To(Equal(uint64(1)))
		})
	})

	Describe("traffic on a device that is down or without carrier", func() {
		It("Xmit on a device that is not up drops, frees and counts, and says why", func() {
			d, drv := newEth()
			err := d.Xmit(txFrame(1, 0))
			Expect(err).To(MatchError(netdev.ErrDown))
			Expect(err.Error()).To(ContainSubstring(d.Name() + ": xmit"))
			Expect(d.Stats().TxDropped.Load()).To(Equal(uint64(1)))
			offers, _, _ := drv.Snapshot()
			Expect(offers).To(BeZero())
		})

		It("without carrier Xmit drops (as Linux's noop qdisc) and queued frames are freed; CarrierOn resumes", func() {
			d, drv := upEth()
			d.StopQueue()
			Expect(d.Xmit(txFrame(1, 0))).To(Succeed())
			d.CarrierOff()
			Expect(d.Carrier()).To(BeFalse())
			Expect(d.TxQueued()).To(BeZero())
			Expect(d.Xmit(txFrame(2, 0))).To(MatchError(netdev.ErrNoCarrier))
			Expect(d.Stats().TxDropped.Load()).To(Equal(uint64(2)))
			d.CarrierOn()
			d.WakeQueue()
			Expect(d.Xmit(txFrame(3, 0))).To(Succeed())
			_, _, sent := drv.Snapshot()
			Expect(sent).To(Equal([]byte{3}))
		})

		It("carrier lost while the driver refuses a frame: it is freed, not requeued", func() {
			d, drv := upEth()
			drv.SetBusy(true)
			drv.OnXmit = func(_ *skbuff.Buff, dd *netdev.Device) { dd.CarrierOff() }
			Expect(d.Xmit(txFrame(1, 0))).To(Succeed())
			Expect(d.TxQueued()).To(BeZero())
			Expect(skbuff.Live()).To(BeZero())
		})

		It("speed is recorded with the carrier", func() {
			d, _ := newEth()
			Expect(d.Speed()).To(BeZero())
			d.SetSpeed(1000)
			Expect(d.Speed()).To(Equal(1000))
		})
	})

	It("many goroutines transmitting through a busy-then-waking driver lose nothing and leak nothing", func() {
		d, drv := upEth()
		d.SetTxQueueLen(1000)
		drv.Hold = true
		var wg sync.WaitGroup
		for g := range 4 {
			wg.Go(func() {
				defer GinkgoRecover()
				for i := range 50 {
					Expect(d.Xmit(txFrame(byte(g), i%8))).To(Succeed())
					if i%10 == 0 {
						drv.SetBusy(true)
					}
					if i%10 == 5 {
						drv.SetBusy(false)
						d.WakeQueue()
					}
				}
			})
		}
		wg.Wait()
		drv.SetBusy(false)
		d.WakeQueue()
		_, accepted, _ := drv.Snapshot()
		Expect(accepted).To(Equal(200))
		Expect(drv.Complete(d)).To(Equal(200))
		Expect(d.Stats().TxDropped.Load()).To(BeZero())
	})
})

// xmitFunc is a driver whose transmit is a function.
type xmitFunc struct {
	netdev.BaseOps
	fn func(b *skbuff.Buff, d *netdev.Device) netdev.XmitResult
}

func (x xmitFunc) HardStartXmit(b *skbuff.Buff, d *netdev.Device) netdev.XmitResult {
	return x.fn(b, d)
}

// upWith registers and opens an Ethernet device with transmit fn.
func upWith(fn func(b *skbuff.Buff, d *netdev.Device) netdev.XmitResult) *netdev.Device {
	d := netdev.New("eth%d", xmitFunc{fn: fn})
	netdev.EtherSetup(d)
	Expect(netdev.Register(d)).To(Succeed())
	DeferCleanup(netdev.Unregister, d)
	Expect(d.Open()).To(Succeed())
	return d
}
