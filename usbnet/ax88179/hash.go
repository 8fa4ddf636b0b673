package ax88179

import (
	"hash/crc32"
	"math/bits"
)

// MulticastBit is the multicast filter bit index (0..63) of an address: the
// top 6 bits of Linux's ether_crc, which is bitrev32(crc32_le(~0, addr))
// and crc32_le without the final inversion is ^crc32.ChecksumIEEE. ASIX's
// older chips use the same hash.
func MulticastBit(addr []byte) uint {
	return uint(bits.Reverse32(^crc32.ChecksumIEEE(addr)) >> 26)
}

// MulticastFilter builds the 8-byte MULFLTARY image for a list of addresses.
func MulticastFilter[A ~[]byte](addrs []A) [mcastFiltSize]byte {
	var f [mcastFiltSize]byte
	for _, a := range addrs {
		i := MulticastBit(a)
		f[i>>3] |= 1 << (i & 7)
	}
	return f
}
