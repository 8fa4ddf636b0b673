package netdev_test

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"dongle/netdev"
	"dongle/skbuff"
)

var _ = Describe("receive", func() {
	It(`reader: "some more thing related to Bottom Half/Top half processing": Rx is a top half that only queues; the bottom half delivers to the handler for the EtherType`, Label("article"), func() {
		d, _ := upEth()
		got := make(chan byte, 4)
		d.AddHandler(0x0800, func(b *skbuff.Buff) { got <- b.Data()[0]; b.Free(skbuff.FreeRead) })
		d.AddHandler(0x86dd, func(b *skbuff.Buff) { got <- 100 + b.Data()[0]; b.Free(skbuff.FreeRead) })
		d.Rx(rxFrame(0x0800, 1))
		d.Rx(rxFrame(0x86dd, 2))
		Eventually(got).Should(Receive(Equal(byte(1))))
		Eventually(got).Should(Receive(Equal(byte(102))))
	})

	It("a frame with no handler is freed and counted in rx_nohandler", func() {
		d, _ := upEth()
		d.Rx(rxFrame(0x88cc, 1))
		Eventually(d.Stats().RxNohandler.Load).Should(Equal(uint64(1)))
	})

	It("the backlog is bounded: when full, Rx drops, frees and counts rx_dropped", func() {
		drv := d0()
		d := drv
		d.MaxBacklog = 2
		Expect(d.Open()).To(Succeed())
		release := make(chan struct{})
		entered := make(chan struct{}, 8)
		d.AddHandler(0x0800, func(b *skbuff.Buff) {
			entered <- struct{}{}
			<-release
			b.Free(skbuff.FreeRead)
		})
		d.Rx(rxFrame(0x0800, 0))
		Eventually(entered).Should(Receive()) // the bottom half is now stuck in the handler
		d.Rx(rxFrame(0x0800, 1))
		d.Rx(rxFrame(0x0800, 2))
		d.Rx(rxFrame(0x0800, 3)) // backlog holds 2: this one drops
		Expect(d.RxBacklog()).To(Equal(2))
		Expect(d.Stats().RxDropped.Load()).To(Equal(uint64(1)))
		close(release)
		Eventually(d.RxBacklog).Should(BeZero())
	})

	It("RxList hands over a whole queue in order and leaves it empty", func() {
		d, _ := upEth()
		got := make(chan byte, 8)
		d.AddHandler(0x0800, func(b *skbuff.Buff) { got <- b.Data()[0]; b.Free(skbuff.FreeRead) })
		var q skbuff.Queue
		for i := range 5 {
			q.QueueTail(rxFrame(0x0800, byte(i)))
		}
		d.RxList(&q)
		Expect(q.Len()).To(BeZero())
		for i := range 5 {
			Eventually(got).Should(Receive(Equal(byte(i))))
		}
		Expect(d.Stats().RxDropped.Load()).To(BeZero())
		d.RxList(&q) // empty: nothing happens
		Consistently(got, "20ms").ShouldNot(Receive())
		Expect(d.Stats().RxDropped.Load()).To(BeZero())
	})

	It("RxList queues up to the backlog's limit and drops, frees and counts the rest", func() {
		d := d0()
		d.MaxBacklog = 3
		Expect(d.Open()).To(Succeed())
		release := make(chan struct{})
		entered := make(chan struct{}, 8)
		got := make(chan byte, 8)
		d.AddHandler(0x0800, func(b *skbuff.Buff) {
			entered <- struct{}{}
			<-release
			got <- b.Data()[0]
			b.Free(skbuff.FreeRead)
		})
		d.Rx(rxFrame(0x0800, 0))
		Eventually(entered).Should(Receive()) // the bottom half is now stuck in the handler
		d.Rx(rxFrame(0x0800, 1))
		var q skbuff.Queue
		for i := 2; i < 6; i++ {
			q.QueueTail(rxFrame(0x0800, byte(i)))
		}
		d.RxList(&q) // room for 2 of the 4
		Expect(q.Len()).To(BeZero(), "what did not fit was freed, not left to the caller")
		Expect(d.RxBacklog()).To(Equal(3))
		Expect(d.Stats().RxDropped.Load()).To(Equal(uint64(2)))
		close(release)
		for _, want := range []byte{0, 1, 2, 3} {
			Eventually(got).Should(Receive(Equal(want)))
		}
		Consistently(got, "20ms").ShouldNot(Receive())
	})

	It("RxList on a device that is down frees every frame and counts rx_dropped", func() {
		d, _ := upEth()
		Expect(d.Close()).To(Succeed())
		var q skbuff.Queue
		for i := range 3 {
			q.QueueTail(rxFrame(0x0800, byte(i)))
		}
		d.RxList(&q)
		Expect(q.Len()).To(BeZero())
		Expect(d.Stats().RxDropped.Load()).To(Equal(uint64(3)))
	})

	It("several handlers for one type each own their reference (a clone)", func() {
		d, _ := upEth()
		got := make(chan bool, 2)
		for range 2 {
			d.AddHandler(0x0800, func(b *skbuff.Buff) {
				got <- b.Cloned()
				Expect(b.Data()[0]).To(Equal(byte(7)))
				b.Free(skbuff.FreeRead)
			})
		}
		d.Rx(rxFrame(0x0800, 7))
		Eventually(got).Should(Receive(BeTrue()))
		Eventually(got).Should(Receive())
	})

	It("a handler that keeps a buffer owns it until it frees it", func() {
		d, _ := upEth()
		kept := make(chan *skbuff.Buff, 1)
		d.AddHandler(0x0800, func(b *skbuff.Buff) { kept <- b })
		d.Rx(rxFrame(0x0800, 7))
		var b *skbuff.Buff
		Eventually(kept).Should(Receive(&b))
		Expect(d.Close()).To(Succeed())
		Expect(b.Data()[0]).To(Equal(byte(7)), "still valid after the device went down")
		b.Free(skbuff.FreeRead)
	})

	It("removing a handler stops delivery to it", func() {
		d, _ := upEth()
		got := make(chan struct{}, 2)
		remove := d.AddHandler(0x0800, func(b *skbuff.Buff) { got <- struct{}{}; b.Free(skbuff.FreeRead) })
		remove()
		d.Rx(rxFrame(0x0800, 1))
		Eventually(d.Stats().RxNohandler.Load).Should(Equal(uint64(1)))
		Expect(got).NotTo(Receive())
	})

	It("taps see every frame, received and transmitted, with the direction", func() {
		d, _ := upEth()
		type seen struct {
			dir netdev.Direction
			tag byte
		}
		var log = make(chan seen, 8)
		remove := d.AddTap(func(b *skbuff.Buff, dir netdev.Direction) { log <- seen{dir, b.Data()[0]} })
		d.Rx(rxFrame(0x9999, 1)) // nobody handles it: the tap still sees it
		Eventually(log).Should(Receive(Equal(seen{netdev.DirRX, 1})))
		Expect(d.Xmit(txFrame(2, 0))).To(Succeed())
		Eventually(log).Should(Receive(Equal(seen{netdev.DirTX, 2})))
		remove()
		Expect(d.Xmit(txFrame(3, 0))).To(Succeed())
		Consistently(log).WithTimeout(20e6).ShouldNot(Receive())
		Expect(netdev.DirTX.String()).To(Equal("TX"))
	})

	It("frames are delivered without carrier (the carrier is about transmitting)", func() {
		d, _ := upEth()
		d.CarrierOff()
		got := make(chan struct{}, 1)
		d.AddHandler(0x0800, func(b *skbuff.Buff) { got <- struct{}{}; b.Free(skbuff.FreeRead) })
		d.Rx(rxFrame(0x0800, 1))
		Eventually(got).Should(Receive())
	})

	It("Close stops the bottom half and frees its backlog (rx_dropped); no goroutine is left", func() {
		d, _ := upEth()
		release := make(chan struct{})
		entered := make(chan struct{}, 1)
		d.AddHandler(0x0800, func(b *skbuff.Buff) {
			select {
			case entered <- struct{}{}:
			default:
			}
			<-release
			b.Free(skbuff.FreeRead)
		})
		d.Rx(rxFrame(0x0800, 0))
		Eventually(entered).Should(Receive())
		d.Rx(rxFrame(0x0800, 1))
		d.Rx(rxFrame(0x0800, 2))
		closed := make(chan error)
		go func() { closed <- d.Close() }()
		Consistently(closed).WithTimeout(20e6).ShouldNot(Receive(), "Close waits for the handler in progress")
		close(release)
		Eventually(closed).Should(Receive(BeNil()))
		Expect(d.Stats().RxDropped.Load()).To(Equal(uint64(2)))
		// The suite's leak check proves the bottom half goroutine ended.
	})

	Describe("EthTypeTrans", func() {
		DescribeTable("classifies the destination and reads the type",
			func(dst []byte, etype uint16, wantType skbuff.PktType, wantProto uint16) {
				d, _ := newEth()
				b := frame(dst, etype, 9)
				DeferCleanup(b.Free, skbuff.FreeRead)
				proto, err := netdev.EthTypeTrans(b, d)
				Expect(err).NotTo(HaveOccurred())
				Expect(proto).To(Equal(wantProto))
				Expect(b.Protocol).To(Equal(wantProto))
				Expect(b.PktType).To(Equal(wantType))
				Expect(b.MACHeader()).To(HaveLen(14))
				Expect(b.MACHeader()[0:6]).To(Equal(dst))
				Expect(b.Data()[0]).To(Equal(byte(9)), "data starts after the link header")
			},
			Entry("to us", ourMAC, uint16(0x0800), skbuff.PacketHost, uint16(0x0800)),
			Entry("to another host", otherMAC, uint16(0x0806), skbuff.PacketOtherHost, uint16(0x0806)),
			Entry("broadcast", []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, uint16(0x0806), skbuff.PacketBroadcast, uint16(0x0806)),
			Entry("multicast", []byte{0x01, 0, 0x5e, 0, 0, 1}, uint16(0x0800), skbuff.PacketMulticast, uint16(0x0800)),
			Entry("802.3 length field with LLC", ourMAC, uint16(46), skbuff.PacketHost, uint16(netdev.EthP8022)),
		)

		DescribeTable("below 0x600 the type field is a length: Novell's raw 802.3 by its 0xffff, 802.2 LLC otherwise",
			func(etype uint16, payload []byte, want uint16) {
				d, _ := newEth()
				b := skbuff.Alloc(128)
				DeferCleanup(b.Free, skbuff.FreeRead)
				h := b.Put(netdev.EthHeaderLen + len(payload))
				copy(h, ourMAC)
				copy(h[6:], otherMAC)
				h[12], h[13] = byte(etype>>8), byte(etype)
				copy(h[netdev.EthHeaderLen:], payload)
				proto, err := netdev.EthTypeTrans(b, d)
				Expect(err).NotTo(HaveOccurred())
				Expect(proto).To(Equal(want))
				Expect(b.Len()).To(Equal(len(payload)))
			},
			Entry("0x0600, the first EtherType", uint16(0x0600), []byte{0xff, 0xff}, uint16(0x0600)),
			Entry("0x05ff, the last length", uint16(0x05ff), []byte{0xaa, 0xaa}, uint16(netdev.EthP8022)),
			Entry("raw 802.3: a two-byte payload of 0xffff", uint16(100), []byte{0xff, 0xff}, uint16(netdev.EthP8023)),
			Entry("0xff then not", uint16(100), []byte{0xff, 0x00}, uint16(netdev.EthP8022)),
			Entry("not then 0xff", uint16(100), []byte{0x00, 0xff}, uint16(netdev.EthP8022)),
			Entry("one byte of 0xff", uint16(100), []byte{0xff}, uint16(netdev.EthP8022)),
			Entry("a bare header with an EtherType", uint16(0x0800), []byte{}, uint16(0x0800)),
		)

		DescribeTable("short frames are a typed error, not a panic, and leave the buffer alone",
			func(n int) {
				d, _ := newEth()
				b := skbuff.Alloc(64)
				DeferCleanup(b.Free, skbuff.FreeRead)
				b.Put(n)
				_, err := netdev.EthTypeTrans(b, d)
				Expect(err).To(MatchError(netdev.ErrShortFrame))
				Expect(err.Error()).To(ContainSubstring(d.Name()))
				Expect(b.Len()).To(Equal(n))
			},
			Entry("empty", 0), Entry("one byte", 1), Entry("13 bytes", 13),
		)
	})
})

// d0 registers an Ethernet device (down) for specs that tune it before
// Open.
func d0() *netdev.Device {
	d, _ := newEth()
	return d
}
