package netdev_test

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"dongle/netdev"
	"dongle/skbuff"
)

var _ = Describe("built-in drivers", func() {
	Describe("loopback", func() {
		var lo *netdev.Device
		BeforeEach(func() {
			lo = netdev.Loopback()
			Expect(netdev.Register(lo)).To(Succeed())
			DeferCleanup(netdev.Unregister, lo)
			Expect(lo.Open()).To(Succeed())
		})

		It("transmit becomes receive on the same device, classified, counted both ways", func() {
			got := make(chan *skbuff.Buff, 1)
			lo.AddHandler(0x0800, func(b *skbuff.Buff) { got <- b })
			f := frame([]byte{0, 0, 0, 0, 0, 0}, 0x0800, 42)
			n := uint64(f.Len())
			Expect(lo.Xmit(f)).To(Succeed())
			var b *skbuff.Buff
			Eventually(got).Should(Receive(&b))
			Expect(b).To(BeIdenticalTo(f), "the same buffer, no copy")
			Expect(b.Protocol).To(Equal(uint16(0x0800)))
			Expect(b.PktType).To(Equal(skbuff.PacketHost))
			Expect(b.Data()[0]).To(Equal(byte(42)))
			Expect(b.MACHeader()).To(HaveLen(14))
			b.Free(skbuff.FreeRead)
			s := lo.Stats().Snapshot()
			Expect([]uint64{s.TxPackets, s.RxPackets, s.TxBytes, s.RxBytes}).To(Equal([]uint64{1, 1, n, n}))
		})

		It("a frame too short for a link header is freed and counted", func() {
			b := skbuff.Alloc(10)
			b.Put(5)
			Expect(lo.Xmit(b)).To(Succeed())
			Expect(lo.Stats().RxLengthErrors.Load()).To(Equal(uint64(1)))
		})

		It("delivers into a socket with no copy (the rmem question, end to end)", func() {
			sock := skbuff.NewSocket()
			DeferCleanup(sock.Close)
			lo.AddHandler(0x0800, func(b *skbuff.Buff) { sock.Deliver(b) })
			f := frame([]byte{0, 0, 0, 0, 0, 0}, 0x0800, 1)
			payload := &f.Data()[14]
			truesize := f.Truesize()
			Expect(lo.Xmit(f)).To(Succeed())
			Eventually(sock.Len).Should(Equal(1))
			Expect(sock.Rmem()).To(Equal(truesize))
			b := sock.Recv()
			Expect(&b.Data()[0]).To(BeIdenticalTo(payload))
			b.Free(skbuff.FreeRead)
			Expect(sock.Rmem()).To(BeZero())
		})
	})

	It(`dummy: "a device that cannot transmit ... needs a transmit function that simply frees the buffer passed to it"`, Label("article"), func() {
		d := netdev.Dummy()
		Expect(netdev.Register(d)).To(Succeed())
		DeferCleanup(netdev.Unregister, d)
		Expect(d.Name()).To(MatchRegexp(`^dummy\d+$`))
		Expect(d.Open()).To(Succeed())
		before := skbuff.Counters()
		Expect(d.Xmit(txFrame(1, 0))).To(Succeed())
		Expect(skbuff.Live()).To(BeZero())
		Expect(skbuff.Counters().FreedWrite - before.FreedWrite).To(Equal(uint64(1)))
		Expect(d.Stats().TxPackets.Load()).To(Equal(uint64(1)))
		Expect(d.HardwareAddr()[0]&3).To(Equal(byte(2)), "unicast, locally administered")
	})
	It(`reader: "access the open, close, hard_start_xmit functions directly without using the socket api": dongle's API is exactly that`, Label("article"), func() {
		sent := 0
		d := netdev.New("eth%d", xmitFunc{fn: func(b *skbuff.Buff, _ *netdev.Device) netdev.XmitResult {
			sent++
			b.Free(skbuff.FreeWrite)
			return netdev.XmitOK
		}})
		netdev.EtherSetup(d)
		Expect(netdev.Register(d)).To(Succeed())
		DeferCleanup(netdev.Unregister, d)
		// open, hard_start_xmit, close: plain method calls from a program.
		Expect(d.Open()).To(Succeed())
		b := skbuff.Alloc(64)
		b.Put(60)
		Expect(d.Ops().HardStartXmit(b, d)).To(Equal(netdev.XmitOK))
		Expect(d.Xmit(txFrame(1, 0))).To(Succeed())
		Expect(d.Close()).To(Succeed())
		Expect(sent).To(Equal(2))
	})
})
