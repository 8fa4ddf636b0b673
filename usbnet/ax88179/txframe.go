package ax88179

import "encoding/binary"

// TX header: two le32 words before every frame.
//
//	word 0: frame length (bits 16:0); bit 31 would disable checksum offload
//	word 1: TSO MSS (bits 13:0), and TxPadding when the transfer
//	        (8 + length) is a multiple of the bulk OUT packet size
//
// The padding flag goes into word 1 (Linux ORs it into tx_hdr2, the MSS
// word; FreeBSD's AXGE_PADDING is defined on the mss field). ORing it into
// word 0, as some notes say, would also set bit 31 and disable the
// checksum engine for that frame.
const (
	TxHdrLen             = 8
	TxLenMask     uint32 = 0x0001ffff
	TxPadding     uint32 = 0x80008000
	TxMSSMask     uint32 = 0x00003fff
	TxCsumDisable uint32 = 0x80000000
)

// PutTxHeader writes the 8-byte header for a frame of n bytes sent on a
// bulk OUT endpoint with packet size maxPacket into h, and reports whether
// the padding flag was set (the transfer then gets one pad byte so it ends
// in a short packet, as Linux usbnet appends for this driver).
func PutTxHeader(h []byte, n, maxPacket int) (padded bool) {
	w1 := uint32(0) // MSS: no TSO
	if maxPacket > 0 && (n+TxHdrLen)%maxPacket == 0 {
		w1 |= TxPadding
		padded = true
	}
	binary.LittleEndian.PutUint32(h[0:], uint32(n)&TxLenMask)
	binary.LittleEndian.PutUint32(h[4:], w1)
	return padded
}
