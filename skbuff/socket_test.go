package skbuff_test

import (
	"context"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"dongle/skbuff"
)

var _ = Describe("Socket (receive endpoint)", func() {
	var s *skbuff.Socket
	BeforeEach(func() {
		s = skbuff.NewSocket()
		DeferCleanup(s.Close)
	})

	It(`reader: "rmem_default/rmem_max vs the buffer allocated by dev_alloc_skb: the same memory area, or a copy?" — the same memory, charged by truesize`, Label("article"), func() {
		Expect(s.RcvBuf()).To(Equal(skbuff.RmemDefault))

		// The driver allocates and fills a buffer.
		b := skbuff.Alloc(1536)
		copy(b.Put(60), "frame from the wire")
		wire := &b.Data()[0]
		truesize := b.Truesize()

		Expect(s.Deliver(b)).To(BeTrue())
		Expect(s.Rmem()).To(Equal(truesize), "the socket is charged the driver buffer's truesize")

		got := s.Recv()
		Expect(got).To(BeIdenticalTo(b), "the reader gets the driver's very buffer")
		Expect(&got.Data()[0]).To(BeIdenticalTo(wire), "no copy between driver and socket")
		Expect(s.Rmem()).To(Equal(truesize), "still charged while the reader holds it")
		got.Free(skbuff.FreeRead)
		Expect(s.Rmem()).To(BeZero(), "freeing returns the charge (sock_rfree)")
	})

	It("drops (and counts) when the charged memory reaches the limit, like sock_queue_rcv_skb", func() {
		probe := skbuff.Alloc(1536)
		one := probe.Truesize()
		probe.Free(skbuff.FreeRead)
		s.SetRcvBuf(2 * one)
		Expect(s.Deliver(skbuff.Alloc(1536))).To(BeTrue())
		Expect(s.Deliver(skbuff.Alloc(1536))).To(BeTrue())
		live := skbuff.Live()
		Expect(s.Deliver(skbuff.Alloc(1536))).To(BeFalse())
		Expect(skbuff.Live()).To(Equal(live), "the dropped buffer was freed")
		Expect(s.Drops()).To(Equal(uint64(1)))
		Expect(s.Len()).To(Equal(2))
		Expect(s.Rmem()).To(Equal(2 * one))

		// Reading and freeing one makes room again.
		s.Recv().Free(skbuff.FreeRead)
		Expect(s.Deliver(skbuff.Alloc(1536))).To(BeTrue())
	})

	It("the limit is in truesize, so small frames in big buffers fill it early", func() {
		b := skbuff.Alloc(1536)
		b.Put(1)
		s.SetRcvBuf(b.Truesize() - 1) // less than one buffer, more than one byte
		Expect(s.Deliver(b)).To(BeTrue(), "below the limit when it arrives: accepted (Linux overshoots by one)")
		Expect(s.Deliver(skbuff.Alloc(10))).To(BeFalse())
	})

	It("SetRcvBuf is clamped to rmem_max", func() {
		Expect(s.SetRcvBuf(10 * skbuff.RmemMax)).To(Equal(skbuff.RmemMax))
		Expect(s.SetRcvBuf(-5)).To(BeZero())
		Expect(s.Deliver(skbuff.Alloc(10))).To(BeFalse(), "a zero limit takes nothing")
	})

	It("RecvWait waits for a delivery or the context", func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		defer cancel()
		_, err := s.RecvWait(ctx)
		Expect(err).To(MatchError(context.DeadlineExceeded))

		go func() {
			time.Sleep(5 * time.Millisecond)
			s.Deliver(skbuff.Alloc(10))
		}()
		b, err := s.RecvWait(context.Background())
		Expect(err).NotTo(HaveOccurred())
		b.Free(skbuff.FreeRead)
	})

	It("Close frees what waits, and later deliveries drop", func() {
		s.Deliver(skbuff.Alloc(10))
		s.Deliver(skbuff.Alloc(10))
		s.Close()
		Expect(s.Len()).To(BeZero())
		Expect(s.Rmem()).To(BeZero())
		Expect(s.Deliver(skbuff.Alloc(10))).To(BeFalse())
	})

	It("a buffer charged to one socket cannot be delivered to another", func() {
		other := skbuff.NewSocket()
		DeferCleanup(other.Close)
		b := skbuff.Alloc(10)
		s.Deliver(b)
		got := s.Recv()
		Expect(panicState(func() { other.Deliver(got) })).NotTo(BeNil())
		got.Free(skbuff.FreeRead)
	})
})
