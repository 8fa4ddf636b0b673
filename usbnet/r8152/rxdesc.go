package r8152

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// RX descriptor (struct rx_desc): six le32 before every frame.
const (
	RxDescLen = 24
	RxAlign   = 8 // RX_ALIGN: each descriptor starts 8-aligned
	FCSLen    = 4 // the length in opts1 includes the frame's FCS
	ethZLen   = 60

	RxLenMask uint32 = 0x7fff
	// RxCRC is RD_CRC (opts1 bit 15), which the Realtek vendor driver
	// reads as "CRC error"; Linux's length mask leaves it out.
	RxCRC uint32 = 1 << 15

	RxUDPCS  uint32 = 1 << 23 // opts2 RD_UDP_CS: a UDP checksum was checked
	RxTCPCS  uint32 = 1 << 22 // opts2 RD_TCP_CS
	RxIPv6CS uint32 = 1 << 20 // opts2 RD_IPV6_CS
	RxIPv4CS uint32 = 1 << 19 // opts2 RD_IPV4_CS
	RxIPF    uint32 = 1 << 23 // opts3 IPF: IP checksum failed
	RxUDPF   uint32 = 1 << 22 // opts3 UDPF
	RxTCPF   uint32 = 1 << 21 // opts3 TCPF
	RxVLAN   uint32 = 1 << 16 // opts3 RX_VLAN_TAG
)

// RxDesc is the part of a descriptor the driver reads.
type RxDesc struct {
	Opts1, Opts2, Opts3 uint32
}

// ParseRxDesc reads the descriptor at the start of p (at least RxDescLen
// bytes).
func ParseRxDesc(p []byte) RxDesc {
	return RxDesc{binary.LittleEndian.Uint32(p), binary.LittleEndian.Uint32(p[4:]), binary.LittleEndian.Uint32(p[8:])}
}

// PutRxDesc writes a descriptor for a frame of n bytes (FCS included)
// with the given checksum bits; opts4..6 are zero. For tests, fuzzing and
// device models.
func PutRxDesc(p []byte, n int, opts2, opts3 uint32) {
	clear(p[:RxDescLen])
	binary.LittleEndian.PutUint32(p, uint32(n)&RxLenMask)
	binary.LittleEndian.PutUint32(p[4:], opts2)
	binary.LittleEndian.PutUint32(p[8:], opts3)
}

// Len is the frame's length on the wire, FCS included.
func (r RxDesc) Len() int { return int(r.Opts1 & RxLenMask) }

// CsumOK is r8152_rx_csum's CHECKSUM_UNNECESSARY: an IPv4 packet whose
// IP checksum passed and whose TCP or UDP checksum was checked and
// passed, or the same for TCP/UDP over IPv6.
func (r RxDesc) CsumOK() bool {
	switch {
	case r.Opts2&RxIPv4CS != 0:
		if r.Opts3&RxIPF != 0 {
			return false
		}
	case r.Opts2&RxIPv6CS != 0:
	default:
		return false
	}
	return r.Opts2&RxUDPCS != 0 && r.Opts3&RxUDPF == 0 || r.Opts2&RxTCPCS != 0 && r.Opts3&RxTCPF == 0
}

// The ways an aggregated transfer can be malformed. Each stops the walk
// where Linux's rx_bottom stops (frames before it are delivered); *RxError
// wraps one.
var (
	// ErrRxRunt: a descriptor's length is below ETH_ZLEN (60), which no
	// frame the chip passes has; Linux stops reading the transfer.
	ErrRxRunt = errors.New("descriptor length below 60")
	// ErrRxPastEnd: a frame runs past the end of the transfer.
	ErrRxPastEnd = errors.New("frame runs past the end of the transfer")
	// ErrRxTrailing: bytes after the last frame, too few to hold a
	// descriptor and a frame, that are not all zero. Linux ignores them;
	// RxFixup does too (it is not counted as an error), decode reports
	// it. Zeros there are the chip's own: with RX_ZERO_EN clear (Linux's
	// setting) a transfer that would end on a packet boundary gets zero
	// bytes instead of a ZLP (seen in the kernel's r8152 trace of the
	// RTL8153B model, fixtures/usbip-rtl8153-kernel-r8152.pcap).
	ErrRxTrailing = errors.New("bytes after the last frame hold no frame")
)

// RxError is a malformed aggregated bulk IN transfer: what was wrong and
// the numbers that show it.
type RxError struct {
	Err   error // one of the ErrRx sentinels
	Len   int   // transfer length
	Index int   // frame index of the descriptor at fault
	Off   int   // its offset
	Desc  int   // its length field (FCS included)
}

func (e *RxError) Error() string {
	return fmt.Sprintf("r8152 rx: %d-byte transfer: descriptor %d at offset %d (length %d): %v", e.Len, e.Index, e.Off, e.Desc, e.Err)
}

func (e *RxError) Unwrap() error { return e.Err }

// Frame is one Ethernet frame found in a transfer: p[Off:Off+Len], FCS
// excluded, with its descriptor.
type Frame struct {
	Off, Len int
	Desc     RxDesc
}

// RxCounts are what a walk found, by name.
type RxCounts struct {
	Frames   int // handed to the callback
	CRC      int // RD_CRC set: skipped
	Trailing int // bytes after the last frame (ErrRxTrailing)
}

// align8 rounds n up to RX_ALIGN.
func align8(n int) int { return (n + RxAlign - 1) &^ (RxAlign - 1) }

// Walk de-aggregates one bulk IN transfer p as rx_bottom does, calling fn
// for each good frame in order:
//
//	0        24               24+len         align8        +24
//	| rx_desc | frame (FCS incl.) | pad to 8 | rx_desc | frame ... |
//
// A descriptor is read only while more than RxDescLen bytes remain after
// its offset (Linux's "actual_length > len_used"); its length must be at
// least 60 (ErrRxRunt) and the frame must end inside p (ErrRxPastEnd).
// Either stops the walk, frames already given stay given. Bytes left at
// the end that cannot hold a descriptor and one byte are counted as
// Trailing; unless all zero they are reported with ErrRxTrailing after
// every frame was given.
// Nothing outside p is read; Walk allocates nothing unless it returns an
// error. A transfer of at most RxDescLen bytes holds no frame: it is all
// Trailing.
func Walk(p []byte, fn func(Frame)) (RxCounts, error) {
	var c RxCounts
	n := len(p)
	off := 0
	for i := 0; n > off+RxDescLen; i++ {
		d := ParseRxDesc(p[off:])
		l := d.Len()
		switch {
		case l < ethZLen:
			return c, &RxError{Err: ErrRxRunt, Len: n, Index: i, Off: off, Desc: l}
		case off+RxDescLen+l > n:
			return c, &RxError{Err: ErrRxPastEnd, Len: n, Index: i, Off: off, Desc: l}
		}
		if d.Opts1&RxCRC != 0 {
			c.CRC++
		} else {
			c.Frames++
			fn(Frame{Off: off + RxDescLen, Len: l - FCSLen, Desc: d})
		}
		off = align8(off + RxDescLen + l)
	}
	if off < n {
		c.Trailing = n - off
		for _, b := range p[off:] {
			if b != 0 {
				return c, &RxError{Err: ErrRxTrailing, Len: n, Index: c.Frames + c.CRC, Off: off, Desc: -1}
			}
		}
	}
	return c, nil
}
