package skbuff

import (
	"sync/atomic"
	"unsafe"
)

// Pad is the headroom Alloc reserves in front of the data (NET_SKB_PAD):
// room for a link-layer header and a USB framing header to be Pushed later
// without a copy.
const Pad = 64

// Size classes of the chunk pools. A request larger than the last class is
// allocated exactly and not pooled.
var classes = [...]int{256, 512, 1024, 2048, 4096, 8192, 16384, 32768, 65536}

// chunk is the memory under one or more Buffs (the kernel's data area plus
// the dataref in skb_shared_info).
type chunk struct {
	mem   []byte
	refs  atomic.Int32 // Buffs sharing mem
	class int          // index into classes, or -1 when not pooled
}

// poolBytes bounds what each size class keeps on its free list (36 MiB
// over the nine classes at most), and maxIdleBuffs the idle headers: room
// for a driver's URB buffers and a full transmit queue of frames (1000
// frames of 1514 bytes take 2 MiB of 2 KiB chunks), while a burst beyond
// that goes back to the garbage collector.
const (
	poolBytes    = 4 << 20
	maxIdleBuffs = 16384
)

var (
	chunkPools [len(classes)]*pool[chunk]
	buffPool   = newPool(idleLimit(maxIdleBuffs), func() *Buff { return new(Buff) })
)

func init() {
	for i, size := range classes {
		class := i
		chunkPools[i] = newPool(idleLimit(poolBytes/size), func() *chunk {
			return &chunk{mem: make([]byte, size), class: class}
		})
	}
}

// headerSize is what a Buff header costs, added to truesize.
const headerSize = int(unsafe.Sizeof(Buff{}))

// Accounting, read by Live and Counters.
var (
	live       atomic.Int64
	allocated  atomic.Uint64
	freedRead  atomic.Uint64
	freedWrite atomic.Uint64
)

// Live is the number of buffers allocated and not yet freed; each clone
// counts as one. Specs assert Live() == 0 after every test.
func Live() int { return int(live.Load()) }

// Counts is a snapshot of the allocator's accounting.
type Counts struct {
	Live       int    `json:"live"`
	Allocated  uint64 `json:"allocated"`   // Alloc, AllocRaw, Clone and Copy calls
	FreedRead  uint64 `json:"freed_read"`  // Free(FreeRead)
	FreedWrite uint64 `json:"freed_write"` // Free(FreeWrite)
}

// Counters returns the allocator's accounting. Allocated - FreedRead -
// FreedWrite == Live at every quiescent point.
func Counters() Counts {
	return Counts{
		Live:       Live(),
		Allocated:  allocated.Load(),
		FreedRead:  freedRead.Load(),
		FreedWrite: freedWrite.Load(),
	}
}

func getChunk(need int) *chunk {
	for i, size := range classes {
		if need <= size {
			c := chunkPools[i].get()
			c.refs.Store(1)
			return c
		}
	}
	c := &chunk{mem: make([]byte, need), class: -1}
	c.refs.Store(1)
	return c
}

func putChunk(c *chunk) {
	if c.class >= 0 {
		chunkPools[c.class].put(c)
	}
}

// getBuff takes a header from the pool and makes it live.
func getBuff() *Buff {
	b := buffPool.get()
	b.state.Store(stateLive)
	b.mac, b.network, b.transpt = noHeader, noHeader, noHeader
	live.Add(1)
	allocated.Add(1)
	return b
}

// Alloc returns an empty buffer with Pad bytes of headroom and room for
// size bytes after it (dev_alloc_skb). Its memory comes from a pool and is
// zeroed; Len is 0. It panics if size is negative.
func Alloc(size int) *Buff { return allocPadded("Alloc", size, true) }

// AllocRaw returns an empty buffer with room for size bytes and no headroom
// (alloc_skb), its memory zeroed. It panics if size is negative.
func AllocRaw(size int) *Buff {
	if size < 0 {
		misuse(nil, "AllocRaw", "negative size %d", size)
	}
	b := allocRaw(size)
	clear(b.c.mem[:size])
	return b
}

// AllocUninit is Alloc without the zeroing: the bytes Put returns hold
// whatever the pooled memory last held (netdev_alloc_skb, which does not
// clear either). It is for a buffer whose every byte is written before it
// is read, where clearing is pure cost: a bulk IN transfer's buffer (the
// device writes n bytes, Trim cuts the rest) and an aggregate that its
// writer fills field by field, padding included (an NTB of 16 KiB).
// It panics if size is negative.
func AllocUninit(size int) *Buff { return allocPadded("AllocUninit", size, false) }

// allocPadded is Alloc (zero) and AllocUninit, named by fn for misuse.
func allocPadded(fn string, size int, zero bool) *Buff {
	if size < 0 {
		misuse(nil, fn, "negative size %d", size)
	}
	b := allocRaw(Pad + size)
	if zero {
		clear(b.c.mem[:Pad+size])
	}
	b.data, b.tail = Pad, Pad
	return b
}

// allocRaw is AllocRaw without the zeroing.
func allocRaw(size int) *Buff {
	c := getChunk(size)
	b := getBuff()
	b.c = c
	b.data, b.tail, b.end = 0, 0, size
	b.truesize = len(c.mem) + headerSize
	return b
}

// Clone returns a second header over the same data (skb_clone). Both are
// then Cloned and their data read-only until one is freed. Metadata and
// header offsets are copied; queue membership is not (the clone's next/prev
// are its own).
func (b *Buff) Clone() *Buff {
	b.live("Clone")
	b.c.refs.Add(1)
	n := getBuff()
	n.copyMeta(b)
	n.c = b.c
	n.data, n.tail, n.end = b.data, b.tail, b.end
	return n
}

// Copy returns a deep copy with private data (skb_copy): same headroom,
// tailroom, data, header offsets and metadata, never Cloned.
func (b *Buff) Copy() *Buff {
	b.live("Copy")
	n := AllocRaw(b.end)
	copy(n.c.mem[:b.tail], b.c.mem[:b.tail])
	n.copyMeta(b)
	n.data, n.tail = b.data, b.tail
	n.truesize = len(n.c.mem) + headerSize
	return n
}

func (n *Buff) copyMeta(b *Buff) {
	n.Protocol, n.Priority, n.CsumVerified, n.PktType = b.Protocol, b.Priority, b.CsumVerified, b.PktType
	n.mac, n.network, n.transpt = b.mac, b.network, b.transpt
	n.truesize = b.truesize
}

// FreeDir says which path freed a buffer (the FREE_READ/FREE_WRITE argument
// of the 1996 dev_kfree_skb). It only feeds the accounting in Counters.
type FreeDir uint8

// Free directions.
const (
	FreeRead  FreeDir = iota // a received buffer, done with (kfree_skb on RX)
	FreeWrite                // a transmitted buffer, done with (dev_kfree_skb(skb, FREE_WRITE))
)

// Free releases the buffer (dev_kfree_skb / kfree_skb). After Free the
// caller must not touch b: its header and, once no clone shares it, its
// data go back to the pools. A double free, or freeing a buffer that is
// still on a Queue, panics with the buffer's state. If a Socket charged the
// buffer, the charge is returned (sock_rfree).
func (b *Buff) Free(dir FreeDir) {
	if b == nil {
		misuse(nil, "Free", "nil buffer")
	}
	if !b.state.CompareAndSwap(stateLive, stateFree) {
		misuse(b, "Free", "double free")
	}
	if b.list != nil {
		b.state.Store(stateLive)
		misuse(b, "Free", "buffer is still on a queue")
	}
	if s := b.sock; s != nil {
		b.sock = nil
		s.uncharge(b.truesize)
	}
	if b.c.refs.Add(-1) == 0 {
		putChunk(b.c)
	}
	if dir == FreeWrite {
		freedWrite.Add(1)
	} else {
		freedRead.Add(1)
	}
	live.Add(-1)
	// Reset on reuse: the freed header keeps its offsets (String can still
	// describe it for a use-after-free report) but drops its data.
	b.c = nil
	b.Protocol, b.Priority, b.CsumVerified, b.PktType = 0, 0, false, PacketHost
	b.next, b.prev = nil, nil
	buffPool.put(b)
}
