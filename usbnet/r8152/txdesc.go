package r8152

import (
	"encoding/binary"
	"fmt"
)

// TX descriptor (struct tx_desc): two le32 before every frame.
const (
	TxDescLen = 8
	TxAlign   = 4 // TX_ALIGN: each descriptor starts 4-aligned

	TxFS     uint32 = 1 << 31 // first segment of a packet
	TxLS     uint32 = 1 << 30 // last segment
	TxLenMax uint32 = 0x3ffff // TX_LEN_MAX

	// opts2 checksum-offload requests; this driver sets none (the stack
	// computes checksums), so opts2 is always 0.
	TxUDPCS  uint32 = 1 << 31
	TxTCPCS  uint32 = 1 << 30
	TxIPv4CS uint32 = 1 << 29
	TxIPv6CS uint32 = 1 << 28
	TxVLAN   uint32 = 1 << 16
)

// PutTxDesc writes the descriptor for an n-byte frame: TX_FS|TX_LS|n and
// no offload.
func PutTxDesc(p []byte, n int) {
	binary.LittleEndian.PutUint32(p, TxFS|TxLS|uint32(n)&TxLenMax)
	binary.LittleEndian.PutUint32(p[4:], 0)
}

// TxDesc is a parsed TX descriptor.
type TxDesc struct{ Opts1, Opts2 uint32 }

// ParseTxDesc reads the descriptor at the start of p (TxDescLen bytes).
func ParseTxDesc(p []byte) TxDesc {
	return TxDesc{binary.LittleEndian.Uint32(p), binary.LittleEndian.Uint32(p[4:])}
}

// Len is the frame length the descriptor gives.
func (t TxDesc) Len() int { return int(t.Opts1 & TxLenMax) }

// Check reports what is wrong with a descriptor this driver wrote: both
// FS and LS (no frame is split across descriptors), a non-zero length,
// and no offload bits.
func (t TxDesc) Check() error {
	switch {
	case t.Opts1&(TxFS|TxLS) != TxFS|TxLS:
		return fmt.Errorf("opts1 %#08x: %w", t.Opts1, ErrTxSegment)
	case t.Len() == 0:
		return fmt.Errorf("opts1 %#08x: %w", t.Opts1, ErrTxZero)
	}
	return nil
}

// align4 rounds n up to TX_ALIGN.
func align4(n int) int { return (n + TxAlign - 1) &^ (TxAlign - 1) }
