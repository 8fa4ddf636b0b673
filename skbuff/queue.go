package skbuff

// Queue is a list of buffers (struct sk_buff_head without its lock). The
// zero value is an empty queue ready to use. It is not safe for concurrent
// use; LockedQueue is.
//
// The list is intrusive: it links buffers through their own next/prev
// fields instead of allocating a node per element.
//
//	Queue{head, tail, n}
//	   head ─► [Buff] ⇄ [Buff] ⇄ [Buff] ◄─ tail      each Buff.list = &Queue
//
// Why intrusive: enqueueing allocates nothing (the per-packet path stays at
// 0 allocs/op), Unlink is O(1) from the buffer alone, and it is exactly the
// article's promise that a driver handed a buffer finds its next/previous
// pointers free for its own chains. A buffer knows the list it is on, so it
// can be on at most one: queueing a buffer that is already on a list, or
// unlinking it from a list it is not on, panics.
type Queue struct {
	head, tail *Buff
	n          int
}

// Len is the number of buffers queued (skb_queue_len).
func (q *Queue) Len() int { return q.n }

// Peek returns the first buffer without removing it, or nil (skb_peek).
func (q *Queue) Peek() *Buff { return q.head }

// PeekTail returns the last buffer without removing it, or nil
// (skb_peek_tail).
func (q *Queue) PeekTail() *Buff { return q.tail }

// Next returns the buffer after b on q, or nil at the end (skb_queue_next).
// b must be on q.
func (q *Queue) Next(b *Buff) *Buff {
	q.owns("Next", b)
	return b.next
}

func (q *Queue) owns(op string, b *Buff) {
	b.live(op)
	if b.list != q {
		misuse(b, op, "buffer is not on this queue")
	}
}

func (q *Queue) free(op string, b *Buff) {
	b.live(op)
	if b.list != nil {
		misuse(b, op, "buffer is already on a queue")
	}
}

// QueueTail appends b (skb_queue_tail).
func (q *Queue) QueueTail(b *Buff) {
	q.free("QueueTail", b)
	q.linkAfter(q.tail, b)
}

// QueueHead prepends b (skb_queue_head).
func (q *Queue) QueueHead(b *Buff) {
	q.free("QueueHead", b)
	q.linkAfter(nil, b)
}

// Insert puts nb just before old, which must be on q (__skb_insert /
// skb_insert).
func (q *Queue) Insert(old, nb *Buff) {
	q.owns("Insert", old)
	q.free("Insert", nb)
	q.linkAfter(old.prev, nb)
}

// Append puts nb just after old, which must be on q (skb_append).
func (q *Queue) Append(old, nb *Buff) {
	q.owns("Append", old)
	q.free("Append", nb)
	q.linkAfter(old, nb)
}

// linkAfter links b after at (at == nil: at the front).
func (q *Queue) linkAfter(at, b *Buff) {
	var next *Buff
	if at == nil {
		next = q.head
		q.head = b
	} else {
		next = at.next
		at.next = b
	}
	b.prev, b.next = at, next
	if next == nil {
		q.tail = b
	} else {
		next.prev = b
	}
	b.list = q
	q.n++
}

// Unlink removes b, which must be on q, in O(1) (skb_unlink).
func (q *Queue) Unlink(b *Buff) {
	q.owns("Unlink", b)
	q.unlink(b)
}

func (q *Queue) unlink(b *Buff) {
	if b.prev == nil {
		q.head = b.next
	} else {
		b.prev.next = b.next
	}
	if b.next == nil {
		q.tail = b.prev
	} else {
		b.next.prev = b.prev
	}
	b.next, b.prev, b.list = nil, nil, nil
	q.n--
}

// Dequeue removes and returns the first buffer, or nil (skb_dequeue).
func (q *Queue) Dequeue() *Buff {
	b := q.head
	if b != nil {
		q.unlink(b)
	}
	return b
}

// DequeueTail removes and returns the last buffer, or nil
// (skb_dequeue_tail).
func (q *Queue) DequeueTail() *Buff {
	b := q.tail
	if b != nil {
		q.unlink(b)
	}
	return b
}

// Purge frees every queued buffer with dir (skb_queue_purge).
func (q *Queue) Purge(dir FreeDir) {
	for b := q.Dequeue(); b != nil; b = q.Dequeue() {
		b.Free(dir)
	}
}

// Splice appends every buffer of from to q, in order, and leaves from empty
// (skb_queue_splice_tail_init). It is O(len(from)) because each buffer's
// list is updated.
func (q *Queue) Splice(from *Queue) {
	if from == q || from.n == 0 {
		return
	}
	for b := from.head; b != nil; b = b.next {
		b.list = q
	}
	if q.tail == nil {
		q.head = from.head
	} else {
		q.tail.next = from.head
		from.head.prev = q.tail
	}
	q.tail = from.tail
	q.n += from.n
	from.head, from.tail, from.n = nil, nil, 0
}
