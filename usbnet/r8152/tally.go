package r8152

import (
	"encoding/binary"
	"fmt"
)

// TallyLen is sizeof(struct tally_counter).
const TallyLen = 64

// Tally is the chip's own statistics (struct tally_counter at
// PLA_TALLYCNT), as rtl8152_get_ethtool_stats reports them. The counters
// run from the last TALLY_RESET (Bind resets them).
type Tally struct {
	TxPackets        uint64
	RxPackets        uint64
	TxErrors         uint64
	RxErrors         uint32
	RxMissed         uint16
	AlignErrors      uint16
	TxOneCollision   uint32
	TxMultiCollision uint32
	RxUnicast        uint64
	RxBroadcast      uint64
	RxMulticast      uint32
	TxAborted        uint16
	TxUnderrun       uint16
}

// ParseTally decodes the 64-byte little-endian image.
func ParseTally(p []byte) (Tally, error) {
	if len(p) < TallyLen {
		return Tally{}, fmt.Errorf("r8152: tally counters: %d bytes, need %d", len(p), TallyLen)
	}
	le := binary.LittleEndian
	return Tally{
		TxPackets: le.Uint64(p[0:]), RxPackets: le.Uint64(p[8:]), TxErrors: le.Uint64(p[16:]),
		RxErrors: le.Uint32(p[24:]), RxMissed: le.Uint16(p[28:]), AlignErrors: le.Uint16(p[30:]),
		TxOneCollision: le.Uint32(p[32:]), TxMultiCollision: le.Uint32(p[36:]),
		RxUnicast: le.Uint64(p[40:]), RxBroadcast: le.Uint64(p[48:]), RxMulticast: le.Uint32(p[56:]),
		TxAborted: le.Uint16(p[60:]), TxUnderrun: le.Uint16(p[62:]),
	}, nil
}

// Counters lists the counters by their ethtool -S names (rtl8152_gstrings).
func (t Tally) Counters() []struct {
	Name  string
	Value uint64
} {
	return []struct {
		Name  string
		Value uint64
	}{
		{"tx_packets", t.TxPackets}, {"rx_packets", t.RxPackets}, {"tx_errors", t.TxErrors},
		{"rx_errors", uint64(t.RxErrors)}, {"rx_missed", uint64(t.RxMissed)}, {"align_errors", uint64(t.AlignErrors)},
		{"tx_single_collisions", uint64(t.TxOneCollision)}, {"tx_multi_collisions", uint64(t.TxMultiCollision)},
		{"rx_unicast", t.RxUnicast}, {"rx_broadcast", t.RxBroadcast}, {"rx_multicast", uint64(t.RxMulticast)},
		{"tx_aborted", uint64(t.TxAborted)}, {"tx_underrun", uint64(t.TxUnderrun)},
	}
}

// ReadTally reads the counters: one 64-byte read at PLA_TALLYCNT
// (generic_ocp_read's 64-byte limit).
func ReadTally(c Ctrl) (Tally, error) {
	var b [TallyLen]byte
	if err := ReadRegs(c, PLA, PLATallyCnt, 0, b[:]); err != nil {
		return Tally{}, err
	}
	return ParseTally(b[:])
}
