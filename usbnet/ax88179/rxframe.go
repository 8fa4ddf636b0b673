package ax88179

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// RX header bits (one le32 per packet, Linux AX_RXHDR_*).
const (
	RxHdrL4CsumErr  uint32 = 1 << 0
	RxHdrL3CsumErr  uint32 = 1 << 1
	RxHdrL4TypeMask uint32 = 0x1c
	RxHdrL4UDP      uint32 = 0x04
	RxHdrL4TCP      uint32 = 0x10
	RxHdrCRCErr     uint32 = 1 << 29
	RxHdrDropErr    uint32 = 1 << 31
)

// RxHdrLen extracts a packet's length (including the IPE pad) from its header.
func RxHdrLen(h uint32) int { return int(h>>16) & 0x1fff }

// The ways an aggregated transfer can lie about its own layout (all of
// CVE-2022-48805's shapes). Each is a sentinel that *RxError wraps, so a
// caller can errors.Is(err, ErrRxPacketPastEnd).
var (
	ErrRxShort             = errors.New("transfer shorter than its 4-byte trailer")
	ErrRxNoPackets         = errors.New("trailer counts 0 packets")
	ErrRxHdrOffInTrailer   = errors.New("header offset points into the trailer")
	ErrRxHdrArrayPastEnd   = errors.New("header array runs past the trailer")
	ErrRxPacketOverlapsHdr = errors.New("packet overlaps the header array")
	ErrRxPacketPastEnd     = errors.New("packet runs past the end of the transfer")
)

// RxError is a malformed aggregated bulk IN transfer: what was wrong, and
// the numbers that show it.
type RxError struct {
	Err    error // one of the ErrRx sentinels
	Len    int   // transfer length
	PktCnt int   // trailer's packet count
	HdrOff int   // trailer's header offset
	Index  int   // header index for per-packet errors, else -1
	Off    int   // offset of that packet
	PktLen int   // its length (IPE pad included)
}

func (e *RxError) Error() string {
	if e.Index >= 0 {
		return fmt.Sprintf("ax88179 rx: %d-byte transfer (pkt_cnt %d hdr_off %d): packet %d at %d, %d bytes: %v",
			e.Len, e.PktCnt, e.HdrOff, e.Index, e.Off, e.PktLen, e.Err)
	}
	return fmt.Sprintf("ax88179 rx: %d-byte transfer (pkt_cnt %d hdr_off %d): %v", e.Len, e.PktCnt, e.HdrOff, e.Err)
}

func (e *RxError) Unwrap() error { return e.Err }

// Frame is one Ethernet frame found in a transfer: p[Off:Off+Len], with
// the chip's per-packet header.
type Frame struct {
	Off, Len int
	Hdr      uint32
}

// CsumVerified reports whether the chip checked and accepted the L3 and L4
// checksums of a TCP or UDP packet (Linux CHECKSUM_UNNECESSARY).
func (f Frame) CsumVerified() bool { return CsumOK(f.Hdr) }

// CsumOK is ax88179_rx_checksum's rule: no L3/L4 error bit, and an L4 type
// of TCP or UDP.
func CsumOK(h uint32) bool {
	if h&(RxHdrL3CsumErr|RxHdrL4CsumErr) != 0 {
		return false
	}
	t := h & RxHdrL4TypeMask
	return t == RxHdrL4TCP || t == RxHdrL4UDP
}

// RxCounts are the per-packet errors found while walking a transfer: the
// packet is skipped and the walk goes on (Linux counts rx_errors).
type RxCounts struct {
	Frames  int // frames handed to the callback
	Dummies int // len-0 entries skipped silently
	CRC     int // CRC_ERR set
	Dropped int // DROP_ERR set on a non-empty entry
	Runts   int // shorter than pad + 14
}

// Errors is the number of per-packet errors.
func (c RxCounts) Errors() int { return c.CRC + c.Dropped + c.Runts }

// Walk de-aggregates one bulk IN transfer p, calling fn for each good
// frame in order. ipe says whether RX_CTL.IPE is on (each packet starts
// with a 2-byte pad, included in the header's length).
//
// Layout (the trailer is the last 4 bytes):
//
//	0                                  hdr_off                     len-4   len
//	| pad|frame 1|0-7 | ... | pad|frame N|0-7 | h1 d1 ... hN dN [pad2] | cnt|off |
//	  packets, each padded to 8 bytes           le32 headers (d = dummy)   trailer
//
// Nothing outside p is ever read. The trailer is validated first
// (ErrRxShort, ErrRxNoPackets, ErrRxHdrOffInTrailer, ErrRxHdrArrayPastEnd);
// then packets must lie in [0, hdr_off): a packet crossing hdr_off is
// ErrRxPacketOverlapsHdr, one crossing the trailer ErrRxPacketPastEnd. A
// bounds error stops the walk; frames already given to fn stay given.
// Entries of length 0 (the dummy after every packet on current firmware)
// are skipped and not counted as errors; CRC_ERR, DROP_ERR and runts are
// counted and skipped.
//
// Walk allocates nothing unless it returns an error.
func Walk(p []byte, ipe bool, fn func(Frame)) (RxCounts, error) {
	var c RxCounts
	n := len(p)
	if n < 4 {
		return c, &RxError{Err: ErrRxShort, Len: n, Index: -1}
	}
	body := n - 4
	tr := binary.LittleEndian.Uint32(p[body:])
	cnt, off := int(tr&0xffff), int(tr>>16)
	bad := func(err error) error { return &RxError{Err: err, Len: n, PktCnt: cnt, HdrOff: off, Index: -1} }
	switch {
	case cnt == 0:
		return c, bad(ErrRxNoPackets)
	case off >= body:
		return c, bad(ErrRxHdrOffInTrailer)
	case off+4*cnt > body:
		return c, bad(ErrRxHdrArrayPastEnd)
	}
	pad := 0
	if ipe {
		pad = 2
	}
	pos := 0
	for i := 0; i < cnt; i++ {
		h := binary.LittleEndian.Uint32(p[off+4*i:])
		l := RxHdrLen(h)
		if l == 0 {
			c.Dummies++
			continue
		}
		padded := (l + 7) &^ 7
		if end := pos + padded; end > off {
			e := &RxError{Err: ErrRxPacketOverlapsHdr, Len: n, PktCnt: cnt, HdrOff: off, Index: i, Off: pos, PktLen: l}
			if end > body {
				e.Err = ErrRxPacketPastEnd
			}
			return c, e
		}
		switch {
		case h&RxHdrCRCErr != 0:
			c.CRC++
		case h&RxHdrDropErr != 0:
			c.Dropped++
		case l < pad+14:
			c.Runts++
		default:
			c.Frames++
			fn(Frame{Off: pos + pad, Len: l - pad, Hdr: h})
		}
		pos += padded
	}
	return c, nil
}
