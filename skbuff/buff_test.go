package skbuff_test

import (
	"bytes"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"dongle/skbuff"
)

var _ = Describe("Buff geometry (head <= data <= tail <= end)", func() {
	It("Alloc is dev_alloc_skb: Pad bytes of headroom, room for size, empty", func() {
		b := skbuff.Alloc(1536)
		DeferCleanup(b.Free, skbuff.FreeRead)
		Expect(b.Headroom()).To(Equal(skbuff.Pad))
		Expect(b.Tailroom()).To(Equal(1536))
		Expect(b.Len()).To(BeZero())
		Expect(b.Data()).To(BeEmpty())
		Expect(b.MACHeader()).To(BeNil())
		Expect(b.Cloned()).To(BeFalse())
	})

	It("AllocRaw is alloc_skb: no headroom", func() {
		b := skbuff.AllocRaw(100)
		DeferCleanup(b.Free, skbuff.FreeRead)
		Expect(b.Headroom()).To(BeZero())
		Expect(b.Tailroom()).To(Equal(100))
	})

	DescribeTable("sizes across the pool classes keep exact room and a truesize of the class",
		func(size, class int) {
			b := skbuff.Alloc(size)
			DeferCleanup(b.Free, skbuff.FreeRead)
			Expect(b.Tailroom()).To(Equal(size))
			Expect(b.Headroom()).To(Equal(skbuff.Pad))
			Expect(b.Truesize()).To(Equal(class + skbuff.HeaderSize))
			Expect(b.Put(size)).To(HaveLen(size))
			Expect(b.Tailroom()).To(BeZero())
		},
		Entry("empty", 0, 256),
		Entry("one byte", 1, 256),
		Entry("exactly the 256 class", 256-skbuff.Pad, 256),
		Entry("one over the 256 class", 256-skbuff.Pad+1, 512),
		Entry("an Ethernet frame", 1536, 2048),
		Entry("the largest pooled", 65536-skbuff.Pad, 65536),
		Entry("unpooled (exact size)", 70000, 70000+skbuff.Pad),
	)

	It("Reserve, Put, Push, Pull and Trim move only the data window", func() {
		b := skbuff.AllocRaw(200)
		DeferCleanup(b.Free, skbuff.FreeWrite)
		b.Reserve(32)
		Expect(b.Headroom()).To(Equal(32))
		Expect(b.Tailroom()).To(Equal(168))

		copy(b.Put(5), "hello")
		b.PutData([]byte(" world"))
		Expect(string(b.Data())).To(Equal("hello world"))

		copy(b.Push(3), "hdr")
		Expect(string(b.Data())).To(Equal("hdrhello world"))
		Expect(b.Headroom()).To(Equal(29))

		Expect(string(b.Pull(3))).To(Equal("hdr"))
		Expect(string(b.Data())).To(Equal("hello world"))

		b.Trim(5)
		Expect(string(b.Data())).To(Equal("hello"))
		b.Trim(50) // longer than Len: nothing happens (skb_trim)
		Expect(b.Len()).To(Equal(5))
		Expect(b.Headroom() + b.Len() + b.Tailroom()).To(Equal(200))
	})

	It("Data's capacity stops at tail, so append cannot scribble on the tailroom", func() {
		b := skbuff.Alloc(64)
		DeferCleanup(b.Free, skbuff.FreeRead)
		copy(b.Put(4), "abcd")
		d := append(b.Data(), 'X')
		Expect(d).To(Equal([]byte("abcdX")))
		Expect(b.Put(1)).To(Equal([]byte{0}), "the tailroom was not written by append")
	})

	It("memory is reset on reuse: Put returns zeroed bytes", func() {
		for range 4 {
			b := skbuff.Alloc(1500)
			p := b.Put(1500)
			Expect(bytes.Count(p, []byte{0})).To(Equal(1500))
			for i := range p {
				p[i] = 0xAA
			}
			b.Free(skbuff.FreeRead)
		}
	})

	Describe("misuse and bad input", func() {
		It("Push past the headroom panics with the state (skb_under_panic)", func() {
			b := skbuff.Alloc(100)
			DeferCleanup(b.Free, skbuff.FreeWrite)
			pe := panicState(func() { b.Push(skbuff.Pad + 1) })
			Expect(pe).NotTo(BeNil())
			Expect(pe.Op).To(Equal("Push"))
			Expect(pe.Reason).To(ContainSubstring("skb_under_panic"))
			Expect(pe.State).To(ContainSubstring("headroom=64"))
			Expect(pe.Error()).To(ContainSubstring("push 65 > headroom 64"))
			Expect(b.Headroom()).To(Equal(skbuff.Pad), "nothing moved")
			Expect(b.Push(skbuff.Pad)).To(HaveLen(skbuff.Pad), "exactly the headroom is fine")
		})

		It("Put past the tailroom panics with the state (skb_over_panic)", func() {
			b := skbuff.Alloc(100)
			DeferCleanup(b.Free, skbuff.FreeWrite)
			b.Put(60)
			pe := panicState(func() { b.Put(41) })
			Expect(pe).NotTo(BeNil())
			Expect(pe.Reason).To(ContainSubstring("skb_over_panic"))
			Expect(pe.State).To(ContainSubstring("len=60"))
			Expect(pe.State).To(ContainSubstring("tailroom=40"))
			Expect(b.Len()).To(Equal(60))
		})

		It("Pull past the length returns nil and changes nothing (a short frame is input)", func() {
			b := skbuff.Alloc(100)
			DeferCleanup(b.Free, skbuff.FreeRead)
			b.PutData([]byte{1, 2, 3})
			Expect(b.Pull(4)).To(BeNil())
			Expect(b.Len()).To(Equal(3))
			Expect(b.Pull(0)).NotTo(BeNil(), "an empty pull is not a failure")
			Expect(b.Pull(3)).To(Equal([]byte{1, 2, 3}))
			Expect(b.Pull(1)).To(BeNil())
		})

		It("Reserve on a non-empty buffer, negative lengths and bad header offsets panic", func() {
			b := skbuff.Alloc(100)
			DeferCleanup(b.Free, skbuff.FreeRead)
			b.Put(1)
			Expect(panicState(func() { b.Reserve(4) })).NotTo(BeNil())
			Expect(panicState(func() { b.Put(-1) })).NotTo(BeNil())
			Expect(panicState(func() { b.Pull(-1) })).NotTo(BeNil())
			Expect(panicState(func() { b.SetNetworkHeader(2) })).NotTo(BeNil())
			Expect(panicState(func() { b.SetNetworkHeader(-skbuff.Pad - 1) })).NotTo(BeNil())
		})
	})
})

var _ = Describe("header offsets", func() {
	// A reader asked: "at each layer the data and tail pointers change
	// right?? so if i need to access the L7 data ... data+udphdr->length?"
	It(`reader: "at each layer the data and tail pointers change right??" — headers stay findable after Pull`, Label("article"), func() {
		b := skbuff.Alloc(1500)
		DeferCleanup(b.Free, skbuff.FreeRead)
		eth := []byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 0x08, 0x00}
		ip := make([]byte, 20)
		ip[0] = 0x45
		udp := []byte{0, 53, 0, 53, 0, 12, 0, 0}
		payload := []byte("ping")
		b.PutData(eth)
		b.PutData(ip)
		b.PutData(udp)
		b.PutData(payload)

		// Link layer.
		b.ResetMACHeader()
		Expect(b.Pull(14)).To(Equal(eth))
		Expect(b.MACHeader()).To(Equal(eth), "MAC header after the data moved past it")
		// Network layer.
		b.SetNetworkHeader(0)
		Expect(b.Pull(20)).To(Equal(ip))
		b.SetTransportHeader(0)
		Expect(b.NetworkHeader()).To(Equal(ip))
		Expect(b.MACHeader()).To(Equal(eth))
		// Transport: the UDP length field says where L7 data ends.
		th := b.TransportHeader()
		ulen := int(th[4])<<8 | int(th[5])
		Expect(th[8:ulen]).To(Equal(payload))
		Expect(b.Data()).To(Equal(append(udp, payload...)))
	})

	It("offsets survive a Push in front (a tunnel header)", func() {
		b := skbuff.Alloc(100)
		DeferCleanup(b.Free, skbuff.FreeWrite)
		b.PutData([]byte("IPHDRpayload"))
		b.SetNetworkHeader(0)
		b.SetTransportHeader(5)
		copy(b.Push(3), "ETH")
		b.ResetMACHeader()
		Expect(string(b.MACHeader())).To(Equal("ETH"))
		Expect(string(b.NetworkHeader())).To(Equal("IPHDR"))
		Expect(string(b.TransportHeader())).To(Equal("payload"))
	})
})
