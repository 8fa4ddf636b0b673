package skbuff

import (
	"context"
	"sync"
	"sync/atomic"
)

// Linux's defaults for the receive-buffer sysctls on a 64-bit machine:
// net.core.rmem_default and net.core.rmem_max are both 212992 bytes.
const (
	RmemDefault = 212992 // net.core.rmem_default: a new socket's SO_RCVBUF
	RmemMax     = 212992 // net.core.rmem_max: the most SetRcvBuf grants
)

// Socket is a receive endpoint: the part of a socket that holds received
// buffers until a reader takes them (sk->sk_receive_queue with
// sk_rmem_alloc and sk_rcvbuf).
//
// It answers the reader's question about rmem_default/rmem_max versus
// dev_alloc_skb: they are the same memory. Deliver queues the very Buff the
// driver allocated and filled, and charges its Truesize to the socket's
// receive memory (skb_set_owner_r); the charge is returned only when the
// reader frees the buffer (sock_rfree). The receive-buffer limit therefore
// bounds driver buffers, not copies, and a frame arriving while the charged
// memory is at or above the limit is dropped (counted in Drops), exactly
// like sock_queue_rcv_skb.
//
//	driver: b := Alloc(1536) ─ fill ─► Rx ─► handler ─► sock.Deliver(b)
//	                                                      │ rmem += b.Truesize()
//	reader: b := sock.Recv() ─ read b.Data() ─ b.Free(FreeRead) ─► rmem -= b.Truesize()
type Socket struct {
	q      LockedQueue
	rmem   atomic.Int64 // charged truesize (sk_rmem_alloc)
	rcvbuf atomic.Int64 // limit (sk_rcvbuf)
	drops  atomic.Uint64
	ready  chan struct{} // one token when the queue may be non-empty
	mu     sync.Mutex
	closed bool
}

// NewSocket returns an open receive endpoint whose limit is RmemDefault.
func NewSocket() *Socket {
	s := &Socket{ready: make(chan struct{}, 1)}
	s.rcvbuf.Store(RmemDefault)
	return s
}

// SetRcvBuf sets the receive-buffer limit (setsockopt SO_RCVBUF), clamped
// to RmemMax as an unprivileged setsockopt is. It returns the limit set.
func (s *Socket) SetRcvBuf(n int) int {
	n = max(0, min(n, RmemMax))
	s.rcvbuf.Store(int64(n))
	return n
}

// RcvBuf is the receive-buffer limit in bytes.
func (s *Socket) RcvBuf() int { return int(s.rcvbuf.Load()) }

// Rmem is the memory currently charged: the sum of the Truesize of every
// delivered buffer not yet freed, queued or held by a reader.
func (s *Socket) Rmem() int { return int(s.rmem.Load()) }

// Drops counts buffers refused because the receive memory was full or the
// socket closed.
func (s *Socket) Drops() uint64 { return s.drops.Load() }

// Len is the number of buffers waiting to be read.
func (s *Socket) Len() int { return s.q.Len() }

// Deliver takes ownership of b and queues it for the reader, charging its
// Truesize, and reports true. If the charged memory is already at or above
// the limit (or the socket is closed), it frees b, counts a drop and
// reports false. b must not be charged to another socket.
func (s *Socket) Deliver(b *Buff) bool {
	b.live("Deliver")
	if b.sock != nil {
		misuse(b, "Deliver", "buffer already charged to a socket")
	}
	s.mu.Lock()
	if s.closed || s.rmem.Load() >= s.rcvbuf.Load() {
		s.mu.Unlock()
		s.drops.Add(1)
		b.Free(FreeRead)
		return false
	}
	s.rmem.Add(int64(b.truesize))
	b.sock = s
	s.q.QueueTail(b)
	s.mu.Unlock()
	select {
	case s.ready <- struct{}{}:
	default:
	}
	return true
}

// Recv returns the next buffer, or nil if none is waiting. The caller owns
// it; it stays charged to the socket until the caller frees it.
func (s *Socket) Recv() *Buff { return s.q.Dequeue() }

// RecvWait is Recv that waits for a buffer until ctx is done.
func (s *Socket) RecvWait(ctx context.Context) (*Buff, error) {
	for {
		if b := s.q.Dequeue(); b != nil {
			return b, nil
		}
		select {
		case <-s.ready:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// Close frees every waiting buffer and makes later deliveries drop.
// Buffers a reader still holds stay charged until freed.
func (s *Socket) Close() {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.q.Purge(FreeRead)
}

func (s *Socket) uncharge(n int) { s.rmem.Add(int64(-n)) }
