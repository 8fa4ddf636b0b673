package asix

import (
	"hash/crc32"
	"math/bits"
	"net"
)

// Receive filter (asix_set_multicast). RX_CTL always carries SO|AB plus
// the MFB field; on top of that, in order of precedence:
//
//	IFF_PROMISC                         → PRO
//	IFF_ALLMULTI or > 64 subscriptions  → AMALL
//	no subscriptions                    → (directed and broadcast only)
//	otherwise                           → AM, with the 64-bit hash table
//
// The hash of an address is the top 6 bits of its Ethernet CRC, the CRC-32
// computed MSB-first without final inversion (Linux ether_crc). That is
// the IEEE CRC (LSB-first, inverted) bit-reversed and re-inverted:
//
//	ether_crc(a) = bits.Reverse32(^crc32.ChecksumIEEE(a))
//
// (filter_test.go checks this against a bit-by-bit ether_crc.)

// HashIndex is the multicast filter bit an address selects (0..63).
func HashIndex(addr net.HardwareAddr) uint {
	return uint(bits.Reverse32(^crc32.ChecksumIEEE(addr)) >> 26)
}

// Filter is what SetRxMode programs: RX_CTL and, with AM, the hash table.
type Filter struct {
	RxCtl uint16
	Hash  [MulticastSize]byte // meaningful when RxCtl&RxCtlAM != 0
}

// BuildFilter computes the filter for the given flags and multicast list.
// base is the RX_CTL the filter starts from (DefaultRxCtl | MFB field).
func BuildFilter(base uint16, promisc, allMulti bool, mc []net.HardwareAddr) Filter {
	f := Filter{RxCtl: base}
	switch {
	case promisc:
		f.RxCtl |= RxCtlPRO
	case allMulti || len(mc) > MaxMulticast:
		f.RxCtl |= RxCtlAMALL
	case len(mc) == 0:
	default:
		for _, a := range mc {
			i := HashIndex(a)
			f.Hash[i>>3] |= 1 << (i & 7)
		}
		f.RxCtl |= RxCtlAM
	}
	return f
}
