package asix

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync/atomic"

	"dongle/skbuff"
)

// RX framing (asix_rx_fixup_internal). The chip writes its receive FIFO to
// bulk IN as one byte stream of records:
//
//	 0      2      4                 4+len  (+1 if len is odd)
//	 ┌──────┬──────┬──────────────────┬───┐
//	 │ len  │ ~len │ Ethernet frame   │pad│ next record ...
//	 └──────┴──────┴──────────────────┴───┘
//	 le16    le16   (no FCS)
//
// The low 11 bits of the header are the length and bits 16..26 are its
// one's complement, which is the only integrity check there is
// (asix_rx_fixup_internal). The AX88178 writes all 16 bits of both halves
// (FreeBSD's axe_rx_frame checks len ^ ilen == 0xffff for the AX88178
// family): a jumbo frame's length does not fit 11 bits, so its Deframer
// uses LenMask 0xffff. The stream
// is cut into bulk transfers of at most the RX_CTL MFB buffer size without
// regard to records, so a frame, its pad byte and even its header can be
// split across transfers at any offset; the cut part is carried over to the
// next transfer in the Deframer.
//
// Errors never overrun: a partial frame is allocated for exactly the
// length its header announced and only that many bytes are ever copied
// into it (the 2017 skb_over_panic came from trusting a stale length after
// a lost transfer).

// RX framing errors. A *FrameError wraps one of these.
var (
	// ErrBadHeader: the length and its complement disagree
	// (rx_frame_errors). The rest of the transfer is dropped and the next
	// transfer is assumed to start with a header, as in Linux.
	ErrBadHeader = errors.New("bad RX header (length and complement disagree)")
	// ErrOversize: a well-formed header announces more than the largest
	// frame the device accepts (rx_length_errors). Dropped like
	// ErrBadHeader.
	ErrOversize = errors.New("RX frame longer than the hard MTU")
	// ErrRunt: a record shorter than an Ethernet header (rx_length_errors).
	// Its bytes are skipped; the stream stays in sync.
	ErrRunt = errors.New("RX frame shorter than an Ethernet header")
	// ErrSyncLost: the header that should follow a frame carried over from
	// the previous transfer is not there, so a transfer was lost or cut
	// short (rx_frame_errors). The partial frame is dropped.
	ErrSyncLost = errors.New("RX stream lost synchronisation")
)

// FrameError is one RX framing error: what, where in the transfer, and
// the header word involved.
type FrameError struct {
	Err    error  // ErrBadHeader, ErrOversize, ErrRunt or ErrSyncLost
	Offset int    // byte offset in the transfer
	Header uint32 // the header word (0 if none was read)
	Len    int    // the transfer's length
}

func (e *FrameError) Error() string {
	return fmt.Sprintf("asix: %v: header %#08x at byte %d of a %d-byte transfer", e.Err, e.Header, e.Offset, e.Len)
}

func (e *FrameError) Unwrap() error { return e.Err }

// RxStats counts what a Deframer saw. The counters are atomic so that
// diagnostics may read them while the RX path runs.
type RxStats struct {
	Frames    atomic.Uint64 // frames completed and queued
	Bytes     atomic.Uint64 // their bytes
	BadHeader atomic.Uint64 // ErrBadHeader
	Oversize  atomic.Uint64 // ErrOversize
	Runt      atomic.Uint64 // ErrRunt
	SyncLost  atomic.Uint64 // ErrSyncLost
	Discarded atomic.Uint64 // partial frames freed by Reset (unbind, error)
}

// HeaderOK reports whether h is a well-formed RX header: bits 16..26 are
// the one's complement of the length in bits 0..10.
func HeaderOK(h uint32) bool { return h&0x7ff == (^h>>16)&0x7ff }

// EthHLen is the Ethernet header length (ETH_HLEN).
const EthHLen = 14

// DefaultMaxLen is the largest frame accepted when Deframer.MaxLen is 0:
// MTU 1500 + ETH_HLEN + VLAN_HLEN.
const DefaultMaxLen = 1500 + EthHLen + 4

// Deframer is asix_rx_fixup_info plus asix_rx_fixup_internal: the state a
// device's RX stream carries from one bulk transfer to the next. The zero
// value is ready to use. A Deframer is used by one goroutine at a time (the
// device's RX bottom half); only Stats may be read concurrently.
//
// Frames are copied out of the transfer into fresh pooled buffers
// (skbuff.Alloc of exactly the frame length), as Linux does with
// netdev_alloc_skb + skb_put_data: the transfer buffer is reused at once,
// and a split frame needs a buffer of its own anyway. See BenchmarkRxFixup
// for the cost.
type Deframer struct {
	// MaxLen is the longest frame accepted (0: DefaultMaxLen). Whatever
	// the length field can hold, nothing longer is ever allocated.
	MaxLen int
	// LenMask selects the header's length bits, and the bits its
	// complement half must match (0: 0x7ff, asix_rx_fixup_internal;
	// 0xffff: the AX88178's 16-bit length, needed for jumbo frames).
	LenMask uint16
	// Stats counts frames and errors.
	Stats RxStats

	hdr       [4]byte      // header bytes collected so far
	nhdr      int          // how many (0..3 between transfers)
	remaining int          // frame bytes still to come
	frameLen  int          // the current frame's length
	skipPad   int          // pad bytes (0 or 1) to skip before the next header
	skb       *skbuff.Buff // the partial frame; nil while skipping a runt
}

// Partial reports whether part of a frame (or header) is carried over.
func (d *Deframer) Partial() bool { return d.remaining > 0 || d.nhdr > 0 || d.skipPad > 0 }

// Reset forgets any carried-over state and frees a partial frame
// (reset_asix_rx_fixup_info). Unbind calls it so that nothing leaks.
func (d *Deframer) Reset() {
	if d.skb != nil {
		d.skb.Free(skbuff.FreeRead)
		d.skb = nil
		d.Stats.Discarded.Add(1)
	}
	d.nhdr, d.remaining, d.frameLen, d.skipPad = 0, 0, 0, 0
}

func (d *Deframer) mask() uint32 {
	if d.LenMask != 0 {
		return uint32(d.LenMask)
	}
	return 0x7ff
}

// headerOK is HeaderOK for the Deframer's LenMask.
func (d *Deframer) headerOK(h uint32) bool {
	m := d.mask()
	return h&m == (^h>>16)&m
}

func (d *Deframer) maxLen() int {
	if d.MaxLen > 0 {
		return d.MaxLen
	}
	return DefaultMaxLen
}

// Feed parses one bulk IN transfer and queues every frame it completes on
// out. It returns the first framing error (a *FrameError); frames queued
// before or after it stay queued. data is not retained.
func (d *Deframer) Feed(data []byte, out *skbuff.Queue) error {
	var first error
	fail := func(kind error, off int, h uint32) {
		if first == nil {
			first = &FrameError{Err: kind, Offset: off, Header: h, Len: len(data)}
		}
	}
	pos := 0

	// A frame is carried over and the header after it lies entirely in
	// this transfer: check it before appending anything, so that a lost
	// transfer cannot splice unrelated bytes onto the partial frame.
	if d.remaining > 0 {
		next := d.remaining + (d.frameLen & 1)
		if next+4 <= len(data) {
			h := binary.LittleEndian.Uint32(data[next:])
			if !d.headerOK(h) {
				d.Stats.SyncLost.Add(1)
				fail(ErrSyncLost, next, h)
				d.Reset()
				// Resync: assume this transfer starts with a header.
			}
		}
	}

	for pos < len(data) {
		if d.skipPad > 0 {
			pos++
			d.skipPad = 0
			continue
		}
		if d.remaining == 0 {
			n := copy(d.hdr[d.nhdr:], data[pos:])
			d.nhdr += n
			pos += n
			if d.nhdr < 4 {
				break // header split: the rest comes in the next transfer
			}
			d.nhdr = 0
			h := binary.LittleEndian.Uint32(d.hdr[:])
			l := int(h & d.mask())
			switch {
			case !d.headerOK(h):
				d.Stats.BadHeader.Add(1)
				fail(ErrBadHeader, pos-4, h)
				d.Reset()
				return first
			case l > d.maxLen():
				d.Stats.Oversize.Add(1)
				fail(ErrOversize, pos-4, h)
				d.Reset()
				return first
			case l == 0:
				// An empty record (the 00 00 ff ff filler): nothing to do.
				continue
			case l < EthHLen:
				d.skb = nil // skip its bytes, stay in sync
			default:
				d.skb = skbuff.Alloc(l)
			}
			d.frameLen, d.remaining = l, l
		}
		n := min(d.remaining, len(data)-pos)
		if d.skb != nil {
			d.skb.PutData(data[pos : pos+n])
		}
		pos += n
		d.remaining -= n
		if d.remaining == 0 {
			if d.skb != nil {
				out.QueueTail(d.skb)
				d.skb = nil
				d.Stats.Frames.Add(1)
				d.Stats.Bytes.Add(uint64(d.frameLen))
			} else {
				d.Stats.Runt.Add(1)
				fail(ErrRunt, pos-d.frameLen-4, uint32(d.frameLen)|uint32(^d.frameLen&0xffff)<<16)
			}
			d.skipPad = d.frameLen & 1
		}
	}
	return first
}
