package skbuff

import "sync"

// LockedQueue is a Queue with its lock (struct sk_buff_head with its
// spinlock): every method takes the lock, so producers and consumers on
// different goroutines can share it. The zero value is ready to use.
type LockedQueue struct {
	mu sync.Mutex
	q  Queue
}

// Len is the number of buffers queued.
func (l *LockedQueue) Len() int { l.mu.Lock(); defer l.mu.Unlock(); return l.q.n }

// Peek returns the first buffer without removing it, or nil. The buffer
// stays owned by the queue: the caller may only look at it while no other
// goroutine can dequeue it.
func (l *LockedQueue) Peek() *Buff { l.mu.Lock(); defer l.mu.Unlock(); return l.q.head }

// PeekTail returns the last buffer without removing it, or nil.
func (l *LockedQueue) PeekTail() *Buff { l.mu.Lock(); defer l.mu.Unlock(); return l.q.tail }

// QueueTail appends b.
func (l *LockedQueue) QueueTail(b *Buff) { l.mu.Lock(); defer l.mu.Unlock(); l.q.QueueTail(b) }

// QueueHead prepends b.
func (l *LockedQueue) QueueHead(b *Buff) { l.mu.Lock(); defer l.mu.Unlock(); l.q.QueueHead(b) }

// Insert puts nb just before old.
func (l *LockedQueue) Insert(old, nb *Buff) { l.mu.Lock(); defer l.mu.Unlock(); l.q.Insert(old, nb) }

// Append puts nb just after old.
func (l *LockedQueue) Append(old, nb *Buff) { l.mu.Lock(); defer l.mu.Unlock(); l.q.Append(old, nb) }

// Unlink removes b, which must be on l.
func (l *LockedQueue) Unlink(b *Buff) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.q.owns("Unlink", b)
	l.q.unlink(b)
}

// Dequeue removes and returns the first buffer, or nil.
func (l *LockedQueue) Dequeue() *Buff { l.mu.Lock(); defer l.mu.Unlock(); return l.q.Dequeue() }

// DequeueTail removes and returns the last buffer, or nil.
func (l *LockedQueue) DequeueTail() *Buff { l.mu.Lock(); defer l.mu.Unlock(); return l.q.DequeueTail() }

// Purge frees every queued buffer with dir. The buffers are detached under
// the lock and freed outside it.
func (l *LockedQueue) Purge(dir FreeDir) {
	var tmp Queue
	l.MoveTo(&tmp)
	tmp.Purge(dir)
}

// Splice appends every buffer of the (private) queue from to l and leaves
// from empty: a producer builds a chain without the lock, then publishes it
// in one step.
func (l *LockedQueue) Splice(from *Queue) { l.mu.Lock(); defer l.mu.Unlock(); l.q.Splice(from) }

// MoveTo appends every buffer of l to the private queue dst and leaves l
// empty (skb_queue_splice_init under the lock): a consumer takes the whole
// backlog at once and works on it without holding the lock.
func (l *LockedQueue) MoveTo(dst *Queue) { l.mu.Lock(); defer l.mu.Unlock(); dst.Splice(&l.q) }

// Locked runs fn with the lock held and the underlying Queue, for compound
// operations (check the length, then enqueue) that must be atomic. fn must
// not call l's methods.
func (l *LockedQueue) Locked(fn func(q *Queue)) { l.mu.Lock(); defer l.mu.Unlock(); fn(&l.q) }

// QueueTailLimit appends b if fewer than limit buffers are queued and
// reports whether it did; on false the caller still owns b (the bounded
// enqueue of netif_rx's backlog).
func (l *LockedQueue) QueueTailLimit(b *Buff, limit int) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.q.n >= limit {
		return false
	}
	l.q.QueueTail(b)
	return true
}

// SpliceLimit moves buffers from the head of from to l's tail, in order,
// while l holds fewer than limit, and returns how many it moved; the rest
// stay in from, the caller's still (QueueTailLimit for a whole queue, in
// one lock).
func (l *LockedQueue) SpliceLimit(from *Queue, limit int) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for l.q.n < limit {
		b := from.Dequeue()
		if b == nil {
			break
		}
		l.q.QueueTail(b)
		n++
	}
	return n
}
