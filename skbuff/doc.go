// Package skbuff is dongle's sk_buff: the one buffer type every layer of the
// driver stack passes around, from the USB transfer that filled it to the
// handler that consumes it.
//
// # Layout
//
// A Buff is a window over one byte slice (its chunk). Four offsets describe
// it and always satisfy head <= data <= tail <= end:
//
//	head        data              tail          end
//	 |<-headroom->|<----- Len ----->|<-tailroom->|
//	 +------------+-----------------+------------+
//	 |  (free)    |  frame bytes    |   (free)   |
//	 +------------+-----------------+------------+
//	   Push grows ◄─┘  Pull shrinks ─►  ◄─ Trim    └─► Put grows
//
// Push (skb_push) prepends a header into the headroom, Pull (skb_pull)
// strips one, Put (skb_put) appends, Trim (skb_trim) cuts the tail, Reserve
// (skb_reserve) makes headroom in an empty buffer. The mac, network and
// transport header offsets are stored relative to head, so each layer can
// find its header after the data pointer has moved past it: a driver calls
// ResetMACHeader and then Pulls the link header; the IP layer still finds it
// with MACHeader.
//
// # Ownership: the logic of freeing and owning buffers
//
// Every Buff has exactly one owner at a time, and the owner frees it exactly
// once with Free:
//
//   - Alloc/AllocRaw/Clone/Copy hand a new buffer to the caller.
//   - Handing a buffer to another layer hands ownership with it: after
//     netdev's Xmit or Rx, after a Queue's QueueTail, after a Socket's
//     Deliver, the caller must not touch it. Dequeue hands it back.
//   - A driver given a buffer by HardStartXmit owns it until it calls
//     Free(FreeWrite) (dev_kfree_skb(skb, FREE_WRITE)) — then the buffer may
//     "spontaneously disappear": its memory goes back to a pool and is reused.
//
// Live counts buffers allocated and not yet freed (clones count separately),
// so a test proves "nothing leaked" with Live() == 0.
//
// # Misuse panics
//
// Programmer misuse panics with a *PanicError that carries the buffer's
// state, like the kernel's skb_over_panic/skb_under_panic: Put past the
// tailroom, Push past the headroom, writing into shared (cloned) data, a
// double free, use after free, queueing a buffer that is already on a list.
// These are bugs in the caller, never consequences of input; bad input (a
// short frame) shows up as Pull returning nil, which callers turn into a
// typed error. Use-after-free detection is exact until the freed header is
// reused by a later Alloc (the header is pooled, as gVisor pools its views).
//
// # Sharing
//
// Clone (skb_clone) makes a second header over the same data, counted by a
// reference count on the chunk. While a chunk is shared (Cloned() is true)
// its bytes are read-only: Put, PutData and Push panic. Pull, Trim and the
// header offsets are private to each header and stay usable. Copy
// (skb_copy) is a deep copy with private data.
//
// # Memory and sockets
//
// Buffers come from a pool per size class (gVisor's chunk pools; pool.go),
// so a steady per-packet path allocates nothing. Each pool keeps its idle
// chunks across garbage collections, up to 4 MiB a class: a driver's
// working set (URB buffers, queued frames) is made once, not again after
// every second GC as with a sync.Pool alone. Under -race the pools are
// plain sync.Pools (pool.go says why), so there the working set is made
// again after collections. Truesize (skb->truesize) is the
// memory a buffer really pins: its chunk's size class plus the header. A
// Socket charges exactly that against its receive-buffer limit (SO_RCVBUF,
// bounded by rmem_max): the buffer a driver filled is the very memory the
// socket holds, with no copy in between.
package skbuff
