package skbuff

import (
	"fmt"
	"sync/atomic"
)

// PktType says who a received frame was addressed to (skb->pkt_type). The
// values are Linux's PACKET_* constants.
type PktType uint8

// Packet types, as in linux/if_packet.h.
const (
	PacketHost      PktType = 0 // to us
	PacketBroadcast PktType = 1 // to all
	PacketMulticast PktType = 2 // to a group
	PacketOtherHost PktType = 3 // to someone else (heard in promiscuous mode)
	PacketOutgoing  PktType = 4 // outgoing, looped back to a tap
	PacketLoopback  PktType = 5 // looped back through lo
)

func (t PktType) String() string {
	switch t {
	case PacketHost:
		return "host"
	case PacketBroadcast:
		return "broadcast"
	case PacketMulticast:
		return "multicast"
	case PacketOtherHost:
		return "otherhost"
	case PacketOutgoing:
		return "outgoing"
	case PacketLoopback:
		return "loopback"
	}
	return fmt.Sprintf("pkttype(%d)", uint8(t))
}

// noHeader marks an unset header offset.
const noHeader = -1

// Buff states.
const (
	stateFree uint32 = iota // in a pool (or never allocated)
	stateLive               // owned by someone
)

// Buff is a network buffer (struct sk_buff). The exported fields are
// metadata a layer may set freely; everything else moves only through
// methods so that head <= data <= tail <= end always holds (see the package
// doc for the diagram).
//
// A Buff is not safe for concurrent use: it has one owner at a time.
type Buff struct {
	// Protocol is the frame's EtherType in host order (skb->protocol), set
	// by the driver (netdev.EthTypeTrans) before handing a frame up.
	Protocol uint16
	// Priority selects the transmit band (skb->priority).
	Priority int
	// CsumVerified says the hardware already checked the transport checksum
	// (CHECKSUM_UNNECESSARY).
	CsumVerified bool
	// PktType is who the frame was addressed to (skb->pkt_type).
	PktType PktType

	// next/prev link the buffer into at most one Queue (list). They are the
	// "next/previous pointers" the article says are always free for a
	// driver's own chains: only a Queue touches them.
	next, prev *Buff
	list       *Queue

	c                     *chunk // the data, possibly shared with clones
	data, tail, end       int    // offsets into c.mem; head is 0
	mac, network, transpt int    // header offsets into c.mem, or noHeader
	truesize              int
	state                 atomic.Uint32 // stateLive or stateFree
	sock                  *Socket       // receive-memory owner, uncharged on Free
}

// String describes the buffer's state, for panics and debugging.
func (b *Buff) String() string {
	st := "live"
	if b.state.Load() != stateLive {
		st = "freed"
	}
	refs := int32(0)
	if b.c != nil {
		refs = b.c.refs.Load()
	}
	return fmt.Sprintf("skb{%s len=%d headroom=%d tailroom=%d head=0 data=%d tail=%d end=%d mac=%d network=%d transport=%d truesize=%d refs=%d queued=%t proto=%#04x}",
		st, b.tail-b.data, b.data, b.end-b.tail, b.data, b.tail, b.end, b.mac, b.network, b.transpt, b.truesize, refs, b.list != nil, b.Protocol)
}

// live panics unless b is owned by someone (use after free).
func (b *Buff) live(op string) {
	if b == nil {
		misuse(nil, op, "nil buffer")
	}
	if b.state.Load() != stateLive {
		misuse(b, op, "use after free")
	}
}

// writable panics if b's data is shared with a clone.
func (b *Buff) writable(op string) {
	if b.c.refs.Load() > 1 {
		misuse(b, op, "write to cloned (shared, read-only) data")
	}
}

// Len is the number of data bytes (skb->len).
func (b *Buff) Len() int { b.live("Len"); return b.tail - b.data }

// Headroom is the free space before the data (skb_headroom).
func (b *Buff) Headroom() int { b.live("Headroom"); return b.data }

// Tailroom is the free space after the data (skb_tailroom).
func (b *Buff) Tailroom() int { b.live("Tailroom"); return b.end - b.tail }

// Truesize is the memory the buffer pins (skb->truesize): its chunk's size
// class plus the header. Sockets charge it against their receive limit.
func (b *Buff) Truesize() int { b.live("Truesize"); return b.truesize }

// Data is the frame bytes, data to tail. The slice's capacity ends at tail,
// so append cannot silently write into the tailroom. While the buffer is
// Cloned the bytes are shared and must be treated as read-only.
func (b *Buff) Data() []byte {
	b.live("Data")
	return b.c.mem[b.data:b.tail:b.tail]
}

// Reserve makes n bytes of headroom in an empty buffer (skb_reserve). It
// panics if the buffer holds data or n exceeds the tailroom.
func (b *Buff) Reserve(n int) {
	b.live("Reserve")
	switch {
	case n < 0:
		misuse(b, "Reserve", "negative length %d", n)
	case b.tail != b.data:
		misuse(b, "Reserve", "buffer not empty")
	case n > b.end-b.tail:
		misuse(b, "Reserve", "over panic: reserve %d > tailroom %d", n, b.end-b.tail)
	}
	b.data += n
	b.tail += n
}

// Put extends the data by n bytes at the tail and returns them for the
// caller to fill (skb_put). In a buffer from Alloc or AllocRaw they hold
// zeros, or what a Trim cut; in one from AllocUninit, whatever the memory
// last held. Past the tailroom it panics like
// skb_over_panic; on cloned data it panics.
func (b *Buff) Put(n int) []byte {
	b.live("Put")
	if n < 0 {
		misuse(b, "Put", "negative length %d", n)
	}
	if n > b.end-b.tail {
		misuse(b, "Put", "skb_over_panic: put %d > tailroom %d", n, b.end-b.tail)
	}
	b.writable("Put")
	p := b.c.mem[b.tail : b.tail+n : b.tail+n]
	b.tail += n
	return p
}

// PutData appends a copy of p (skb_put_data).
func (b *Buff) PutData(p []byte) {
	copy(b.Put(len(p)), p)
}

// Push extends the data by n bytes at the front and returns them for the
// caller to fill with a header (skb_push). Past the headroom it panics like
// skb_under_panic; on cloned data it panics.
func (b *Buff) Push(n int) []byte {
	b.live("Push")
	if n < 0 {
		misuse(b, "Push", "negative length %d", n)
	}
	if n > b.data {
		misuse(b, "Push", "skb_under_panic: push %d > headroom %d", n, b.data)
	}
	b.writable("Push")
	b.data -= n
	return b.c.mem[b.data : b.data+n : b.data+n]
}

// Pull removes n bytes from the front and returns them, i.e. the header
// being stripped (skb_pull moves data the same way). If n exceeds Len it
// returns nil and changes nothing: a short frame is input, not misuse.
func (b *Buff) Pull(n int) []byte {
	b.live("Pull")
	if n < 0 {
		misuse(b, "Pull", "negative length %d", n)
	}
	if n > b.tail-b.data {
		return nil
	}
	p := b.c.mem[b.data : b.data+n : b.data+n]
	b.data += n
	return p
}

// Trim cuts the data to n bytes (skb_trim: the argument is the new length,
// as in Linux). If n >= Len nothing changes.
func (b *Buff) Trim(n int) {
	b.live("Trim")
	if n < 0 {
		misuse(b, "Trim", "negative length %d", n)
	}
	if n < b.tail-b.data {
		b.tail = b.data + n
	}
}

// Cloned reports whether the data is currently shared with another Buff
// (skb_cloned). Shared data is read-only.
func (b *Buff) Cloned() bool {
	b.live("Cloned")
	return b.c.refs.Load() > 1
}
