package r8152

import (
	"encoding/binary"
	"hash/crc32"
	"math/bits"

	"dongle/usbnet"
)

// MulticastLimit is multicast_filter_limit: above it every multicast
// frame is accepted.
const MulticastLimit = 32

// MulticastBit is the hash bit (0..63) of an address: ether_crc(addr) >> 26,
// ether_crc being bitrev32(crc32_le(~0, addr)).
func MulticastBit(addr []byte) uint {
	return uint(bits.Reverse32(^crc32.ChecksumIEEE(addr)) >> 26)
}

// RxMode is rtl8152_set_rx_mode: the PLA_RCR accept bits and the 8-byte
// PLA_MAR image for the stack's filter. Broadcast and our own address are
// always accepted; promiscuous adds AAP and AM with every hash bit;
// all-multicast or more than 32 groups AM with every bit; otherwise the
// groups' bits, and AM when there is at least one.
//
// The image is written as Linux writes it: mc_filter[1] (bits 32..63)
// first, each half big-endian (its cpu_to_le32(swab32()) pair), so hash
// bit h is bit h%8 of byte 7-h/8.
func RxMode(m usbnet.RxMode) (rcr uint32, mar [8]byte) {
	rcr = RCRAB | RCRAPM
	var f [2]uint32
	switch {
	case m.Promisc:
		rcr |= RCRAM | RCRAAP
		f = [2]uint32{^uint32(0), ^uint32(0)}
	case m.AllMulti || len(m.Multicast) > MulticastLimit:
		rcr |= RCRAM
		f = [2]uint32{^uint32(0), ^uint32(0)}
	default:
		for _, a := range m.Multicast {
			bit := MulticastBit(a)
			f[bit>>5] |= 1 << (bit & 31)
			rcr |= RCRAM
		}
	}
	binary.BigEndian.PutUint32(mar[0:], f[1])
	binary.BigEndian.PutUint32(mar[4:], f[0])
	return rcr, mar
}

// SetRxMode implements usbnet.Minidriver: PLA_MAR, then PLA_RCR with its
// other bits kept (rtl8152_set_rx_mode's order).
func (dr *Driver) SetRxMode(d *usbnet.Dev) error {
	rcr, mar := RxMode(d.RxMode())
	old, err := Read32(d, PLA, PLARCR)
	if err != nil {
		return err
	}
	if err := WriteRegs(d, PLA, PLAMAR, ByteEnDword, mar[:]); err != nil {
		return err
	}
	return Write32(d, PLA, PLARCR, old&^RCRAcptAll|rcr)
}
