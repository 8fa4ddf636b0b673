package skbuff_test

import (
	"sync"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"dongle/skbuff"
)

// tagged allocates a buffer whose single data byte identifies it.
func tagged(tag byte) *skbuff.Buff {
	b := skbuff.Alloc(16)
	b.Put(1)[0] = tag
	return b
}

func tag(b *skbuff.Buff) byte { return b.Data()[0] }

// tags lists a queue front to back without changing it.
func tags(q *skbuff.Queue) []byte {
	var out []byte
	for b := q.Peek(); b != nil; b = q.Next(b) {
		out = append(out, tag(b))
	}
	return out
}

var _ = Describe("Queue (sk_buff_head)", func() {
	var q skbuff.Queue
	BeforeEach(func() {
		q = skbuff.Queue{}
		DeferCleanup(func() { q.Purge(skbuff.FreeRead) })
	})

	It("the zero value is an empty queue", func() {
		Expect(q.Len()).To(BeZero())
		Expect(q.Peek()).To(BeNil())
		Expect(q.PeekTail()).To(BeNil())
		Expect(q.Dequeue()).To(BeNil())
		Expect(q.DequeueTail()).To(BeNil())
	})

	It("QueueTail, QueueHead, Peek, PeekTail, Dequeue and DequeueTail keep order", func() {
		q.QueueTail(tagged(2))
		q.QueueTail(tagged(3))
		q.QueueHead(tagged(1))
		Expect(q.Len()).To(Equal(3))
		Expect(tags(&q)).To(Equal([]byte{1, 2, 3}))
		Expect(tag(q.Peek())).To(Equal(byte(1)))
		Expect(tag(q.PeekTail())).To(Equal(byte(3)))

		b := q.DequeueTail()
		Expect(tag(b)).To(Equal(byte(3)))
		b.Free(skbuff.FreeRead)
		b = q.Dequeue()
		Expect(tag(b)).To(Equal(byte(1)))
		b.Free(skbuff.FreeRead)
		Expect(tags(&q)).To(Equal([]byte{2}))
	})

	It("Insert puts before, Append after, Unlink removes from the middle", func() {
		one, three := tagged(1), tagged(3)
		q.QueueTail(one)
		q.QueueTail(three)
		q.Insert(three, tagged(2))
		q.Append(three, tagged(4))
		q.Insert(one, tagged(0))
		Expect(tags(&q)).To(Equal([]byte{0, 1, 2, 3, 4}))

		q.Unlink(three)
		three.Free(skbuff.FreeRead)
		Expect(tags(&q)).To(Equal([]byte{0, 1, 2, 4}))
		Expect(q.Len()).To(Equal(4))
		// back to front
		Expect(tag(q.PeekTail())).To(Equal(byte(4)))
	})

	It("Splice appends all of another queue and empties it", func() {
		var other skbuff.Queue
		q.QueueTail(tagged(1))
		other.QueueTail(tagged(2))
		other.QueueTail(tagged(3))
		q.Splice(&other)
		Expect(other.Len()).To(BeZero())
		Expect(other.Peek()).To(BeNil())
		Expect(tags(&q)).To(Equal([]byte{1, 2, 3}))
		// The spliced buffers now belong to q: unlinking them from q works.
		b := q.PeekTail()
		q.Unlink(b)
		b.Free(skbuff.FreeRead)
		Expect(q.Len()).To(Equal(2))

		var empty skbuff.Queue
		empty.Splice(&q)
		Expect(tags(&empty)).To(Equal([]byte{1, 2}))
		empty.Purge(skbuff.FreeRead)
	})

	It("Purge frees everything", func() {
		live := skbuff.Live()
		for i := range 5 {
			q.QueueTail(tagged(byte(i)))
		}
		Expect(skbuff.Live()).To(Equal(live + 5))
		q.Purge(skbuff.FreeRead)
		Expect(q.Len()).To(BeZero())
		Expect(skbuff.Live()).To(Equal(live))
	})

	Describe("a buffer is on at most one list", func() {
		It("queueing a buffer already on a list panics", func() {
			var other skbuff.Queue
			b := tagged(1)
			q.QueueTail(b)
			pe := panicState(func() { other.QueueTail(b) })
			Expect(pe).NotTo(BeNil())
			Expect(pe.Reason).To(ContainSubstring("already on a queue"))
			Expect(pe.State).To(ContainSubstring("queued=true"))
			Expect(panicState(func() { q.QueueHead(b) })).NotTo(BeNil())
			Expect(q.Len()).To(Equal(1))
			Expect(other.Len()).To(BeZero())
		})

		It("unlinking from, or inserting relative to, a list the buffer is not on panics", func() {
			var other skbuff.Queue
			b := tagged(1)
			q.QueueTail(b)
			Expect(panicState(func() { other.Unlink(b) })).NotTo(BeNil())
			loose := tagged(2)
			DeferCleanup(loose.Free, skbuff.FreeRead)
			Expect(panicState(func() { q.Unlink(loose) })).NotTo(BeNil())
			x := tagged(3)
			DeferCleanup(x.Free, skbuff.FreeRead)
			Expect(panicState(func() { q.Insert(loose, x) })).NotTo(BeNil())
			Expect(q.Len()).To(Equal(1))
		})

		It("queueing a freed buffer panics (use after free)", func() {
			b := tagged(1)
			b.Free(skbuff.FreeRead)
			Expect(panicState(func() { q.QueueTail(b) })).NotTo(BeNil())
			Expect(q.Len()).To(BeZero())
		})
	})

	It(`"you are guaranteed that the next/previous pointers are free, so that you can use the sk_buff list primitives to build internal chains of buffers"`, Label("article"), func() {
		// A driver handed buffers by the stack chains them on its own
		// list without allocating anything, and finds them again in
		// order when the hardware completes.
		var driverChain skbuff.Queue
		for i := range 3 {
			driverChain.QueueTail(tagged(byte(i)))
		}
		Expect(tags(&driverChain)).To(Equal([]byte{0, 1, 2}))
		allocs := allocsPerRun(100, func() {
			b := driverChain.Dequeue()
			driverChain.QueueTail(b)
		})
		Expect(allocs).To(BeZero(), "queueing allocates nothing")
		driverChain.Purge(skbuff.FreeWrite)
	})
})

var _ = Describe("LockedQueue", func() {
	It("has the same operations and keeps order", func() {
		var l skbuff.LockedQueue
		DeferCleanup(l.Purge, skbuff.FreeRead)
		a, c := tagged(1), tagged(3)
		l.QueueTail(a)
		l.QueueTail(c)
		l.Insert(c, tagged(2))
		l.Append(c, tagged(4))
		l.QueueHead(tagged(0))
		Expect(l.Len()).To(Equal(5))
		Expect(tag(l.Peek())).To(Equal(byte(0)))
		Expect(tag(l.PeekTail())).To(Equal(byte(4)))
		l.Unlink(c)
		c.Free(skbuff.FreeRead)
		b := l.DequeueTail()
		Expect(tag(b)).To(Equal(byte(4)))
		b.Free(skbuff.FreeRead)

		var local skbuff.Queue
		local.QueueTail(tagged(9))
		l.Splice(&local)
		Expect(local.Len()).To(BeZero())

		l.MoveTo(&local)
		Expect(l.Len()).To(BeZero())
		Expect(tags(&local)).To(Equal([]byte{0, 1, 2, 9}))
		l.Splice(&local)
		Expect(l.Len()).To(Equal(4))
	})

	It("QueueTailLimit refuses at the limit and leaves the buffer with the caller", func() {
		var l skbuff.LockedQueue
		DeferCleanup(l.Purge, skbuff.FreeRead)
		Expect(l.QueueTailLimit(tagged(1), 2)).To(BeTrue())
		Expect(l.QueueTailLimit(tagged(2), 2)).To(BeTrue())
		b := tagged(3)
		Expect(l.QueueTailLimit(b, 2)).To(BeFalse())
		Expect(l.Len()).To(Equal(2))
		b.Free(skbuff.FreeRead) // still ours: freeing it is legal
	})

	DescribeTable("SpliceLimit moves from the head, in order, up to the limit and leaves the rest with the caller",
		func(queued, offered, limit int, wantMoved []byte, wantLeft []byte) {
			var l skbuff.LockedQueue
			DeferCleanup(l.Purge, skbuff.FreeRead)
			for i := range queued {
				l.QueueTail(tagged(byte(100 + i)))
			}
			var from skbuff.Queue
			DeferCleanup(from.Purge, skbuff.FreeRead)
			for i := range offered {
				from.QueueTail(tagged(byte(i)))
			}
			Expect(l.SpliceLimit(&from, limit)).To(Equal(len(wantMoved)))
			Expect(append([]byte{}, tags(&from)...)).To(Equal(wantLeft))
			var all skbuff.Queue
			l.MoveTo(&all)
			got := tags(&all)
			for _, g := range got[:queued] {
				Expect(g).To(BeNumerically(">=", 100), "what was queued stays first")
			}
			Expect(append([]byte{}, got[queued:]...)).To(Equal(wantMoved))
			l.Splice(&all)
		},
		Entry("room for all", 1, 3, 5, []byte{0, 1, 2}, []byte{}),
		Entry("room for exactly all", 2, 3, 5, []byte{0, 1, 2}, []byte{}),
		Entry("room for one less", 3, 3, 5, []byte{0, 1}, []byte{2}),
		Entry("full already", 2, 2, 2, []byte{}, []byte{0, 1}),
		Entry("over the limit already", 3, 1, 2, []byte{}, []byte{0}),
		Entry("nothing offered", 0, 0, 4, []byte{}, []byte{}),
	)

	It("is safe for concurrent producers and a consumer", func() {
		var l skbuff.LockedQueue
		const producers, each = 4, 250
		var wg sync.WaitGroup
		for p := range producers {
			wg.Go(func() {
				for range each {
					l.QueueTail(tagged(byte(p)))
				}
			})
		}
		got := 0
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
		for finished := false; !finished; {
			select {
			case <-done:
				finished = true
			default:
			}
			for b := l.Dequeue(); b != nil; b = l.Dequeue() {
				got++
				b.Free(skbuff.FreeRead)
			}
		}
		Expect(got).To(Equal(producers * each))
	})
})
