package skbuff_test

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"dongle/skbuff"
)

var _ = Describe("Clone and Copy", func() {
	It(`"the contents of a sk_buff remain read-only": Clone shares the data and makes it read-only while shared`, Label("article"), func() {
		b := skbuff.Alloc(100)
		b.PutData([]byte("shared"))
		b.Protocol = 0x0800
		b.SetNetworkHeader(0)
		c := b.Clone()
		Expect(skbuff.Live()).To(Equal(2), "a clone counts as a live buffer")
		Expect(b.Cloned()).To(BeTrue())
		Expect(c.Cloned()).To(BeTrue())
		Expect(&c.Data()[0]).To(BeIdenticalTo(&b.Data()[0]), "same memory, no copy")
		Expect(c.Protocol).To(Equal(uint16(0x0800)))
		Expect(string(c.NetworkHeader())).To(Equal("shared"))

		pe := panicState(func() { c.Put(1) })
		Expect(pe).NotTo(BeNil())
		Expect(pe.Reason).To(ContainSubstring("cloned"))
		Expect(pe.State).To(ContainSubstring("refs=2"))
		Expect(panicState(func() { b.Push(1) })).NotTo(BeNil(), "the original is read-only too")
		Expect(panicState(func() { b.PutData([]byte{1}) })).NotTo(BeNil())

		// Offsets are private to each header.
		Expect(c.Pull(3)).To(Equal([]byte("sha")))
		Expect(string(b.Data())).To(Equal("shared"))
		c.Trim(1)
		Expect(string(b.Data())).To(Equal("shared"))

		c.Free(skbuff.FreeRead)
		Expect(b.Cloned()).To(BeFalse(), "sole owner again")
		b.Put(1)[0] = '!'
		Expect(string(b.Data())).To(Equal("shared!"))
		b.Free(skbuff.FreeRead)
	})

	It("the data survives until the last reference is freed", func() {
		b := skbuff.Alloc(100)
		b.PutData([]byte("keep"))
		c := b.Clone()
		b.Free(skbuff.FreeRead)
		// Allocate a few more to give the pool a chance to hand the chunk out.
		for range 3 {
			x := skbuff.Alloc(100)
			x.PutData([]byte("XXXX"))
			x.Free(skbuff.FreeRead)
		}
		Expect(string(c.Data())).To(Equal("keep"))
		c.Free(skbuff.FreeRead)
	})

	It("a clone has its own next/prev: both can sit on different queues", func() {
		var q1, q2 skbuff.Queue
		b := skbuff.Alloc(10)
		q1.QueueTail(b)
		c := b.Clone()
		q2.QueueTail(c)
		Expect(q1.Len()).To(Equal(1))
		Expect(q2.Len()).To(Equal(1))
		q1.Purge(skbuff.FreeRead)
		q2.Purge(skbuff.FreeRead)
	})

	It("Copy is a deep copy: private data, same layout and metadata", func() {
		b := skbuff.Alloc(100)
		b.PutData([]byte("eth-hdr|ip"))
		b.ResetMACHeader()
		b.Pull(8)
		b.SetNetworkHeader(0)
		b.Priority, b.PktType, b.CsumVerified = 6, skbuff.PacketBroadcast, true
		c := b.Copy()
		DeferCleanup(b.Free, skbuff.FreeRead)
		DeferCleanup(c.Free, skbuff.FreeRead)
		Expect(c.Cloned()).To(BeFalse())
		Expect(b.Cloned()).To(BeFalse())
		Expect(&c.Data()[0]).NotTo(BeIdenticalTo(&b.Data()[0]))
		Expect(c.Data()).To(Equal(b.Data()))
		Expect(c.Headroom()).To(Equal(b.Headroom()))
		Expect(c.Tailroom()).To(Equal(b.Tailroom()))
		Expect(c.MACHeader()).To(Equal([]byte("eth-hdr|")))
		Expect(c.NetworkHeader()).To(Equal([]byte("ip")))
		Expect(c.Priority).To(Equal(6))
		Expect(c.PktType).To(Equal(skbuff.PacketBroadcast))
		Expect(c.CsumVerified).To(BeTrue())
		c.Put(1)[0] = 'X'
		Expect(b.Data()).To(Equal([]byte("ip")))
	})
})

var _ = Describe("MACFrame", func() {
	It("is the frame from the link header to tail, readable on a clone, where Push would panic", func() {
		b := skbuff.Alloc(100)
		b.PutData([]byte("eth-hdr|ip-and-payload"))
		DeferCleanup(b.Free, skbuff.FreeRead)
		Expect(b.MACFrame()).To(Equal([]byte("eth-hdr|ip-and-payload")), "no link header marked: the data")
		b.ResetMACHeader()
		b.Pull(8)
		Expect(b.MACFrame()).To(Equal([]byte("eth-hdr|ip-and-payload")))
		Expect(b.Data()).To(Equal([]byte("ip-and-payload")), "nothing pushed")
		c := b.Clone()
		DeferCleanup(c.Free, skbuff.FreeRead)
		Expect(c.MACFrame()).To(Equal([]byte("eth-hdr|ip-and-payload")))
		Expect(func() { c.Push(8) }).To(Panic(), "the write MACFrame avoids")
		b.Trim(2)
		Expect(b.MACFrame()).To(Equal([]byte("eth-hdr|ip")), "ends at tail")
		f := b.MACFrame()
		Expect(cap(f)).To(Equal(len(f)), "cannot be appended into the buffer")
	})

	It("is the data when the marked header lies after it", func() {
		b := skbuff.Alloc(100)
		b.PutData([]byte("0123456789"))
		DeferCleanup(b.Free, skbuff.FreeRead)
		b.Pull(4)
		b.ResetMACHeader()
		b.Push(2)
		Expect(b.MACFrame()).To(Equal([]byte("23456789")))
	})
})

var _ = Describe("Free and accounting", func() {
	It(`"the driver must release the buffer by calling dev_kfree_skb(skb, FREE_WRITE)": Free counts by direction`, Label("article"), func() {
		before := skbuff.Counters()
		b := skbuff.Alloc(64)
		c := skbuff.Alloc(64)
		d := skbuff.Alloc(64)
		Expect(skbuff.Live()).To(Equal(before.Live + 3))
		b.Free(skbuff.FreeWrite)
		c.Free(skbuff.FreeRead)
		d.Free(skbuff.FreeWrite)
		after := skbuff.Counters()
		Expect(after.Allocated - before.Allocated).To(Equal(uint64(3)))
		Expect(after.FreedWrite - before.FreedWrite).To(Equal(uint64(2)))
		Expect(after.FreedRead - before.FreedRead).To(Equal(uint64(1)))
		Expect(after.Live).To(Equal(before.Live))
	})

	It(`"as soon as this call is made, the sk_buff ... should not be referenced again": use after free panics`, Label("article"), func() {
		b := skbuff.Alloc(64)
		b.PutData([]byte("abc"))
		b.Free(skbuff.FreeWrite)
		pe := panicState(func() { b.Len() })
		Expect(pe).NotTo(BeNil())
		Expect(pe.Reason).To(Equal("use after free"))
		Expect(pe.State).To(ContainSubstring("freed"))
		Expect(panicState(func() { b.Data() })).NotTo(BeNil())
		Expect(panicState(func() { b.Clone() })).NotTo(BeNil())
	})

	It("a double free panics with the buffer's state and is not counted twice", func() {
		b := skbuff.Alloc(64)
		b.Free(skbuff.FreeWrite)
		live := skbuff.Live()
		pe := panicState(func() { b.Free(skbuff.FreeWrite) })
		Expect(pe).NotTo(BeNil())
		Expect(pe.Op).To(Equal("Free"))
		Expect(pe.Reason).To(Equal("double free"))
		Expect(pe.State).To(HavePrefix("skb{freed"))
		Expect(skbuff.Live()).To(Equal(live))
	})

	It("freeing a buffer that is still queued panics and leaves it queued", func() {
		var q skbuff.Queue
		b := skbuff.Alloc(64)
		q.QueueTail(b)
		pe := panicState(func() { b.Free(skbuff.FreeRead) })
		Expect(pe).NotTo(BeNil())
		Expect(pe.Reason).To(ContainSubstring("still on a queue"))
		Expect(q.Len()).To(Equal(1))
		q.Purge(skbuff.FreeRead)
	})
})
