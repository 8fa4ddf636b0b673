package asix

import (
	"encoding/binary"
	"errors"
	"fmt"

	"dongle/skbuff"
)

// TX framing (asix_tx_fixup). Each frame is sent in a transfer of its own:
//
//	┌──────┬──────┬─────────────────┬─────────────┐
//	│ len  │~len  │ Ethernet frame  │ 00 00 ff ff │  only when (len+4) % wMaxPacketSize == 0
//	└──────┴──────┴─────────────────┴─────────────┘
//	 le32 (len ^ 0xffff)<<16 | len
//
// A transfer whose length is a multiple of wMaxPacketSize would not end
// with a short packet and the chip would wait for more; instead of a
// zero-length packet the driver appends a 4-byte filler the chip drops
// (hence usbnet.FlagTxPadsItself). wMaxPacketSize is 64 at full speed and
// 512 at high speed: it is always asked of the device, never assumed.

// TxPad is the filler appended when a transfer would end on a packet
// boundary.
var TxPad = [4]byte{0x00, 0x00, 0xff, 0xff}

// MaxTxLen is the longest frame the 11-bit length field can carry.
const MaxTxLen = 0x7ff

// ErrTxFrame is wrapped by every TxFixup error.
var ErrTxFrame = errors.New("cannot frame TX buffer")

// TxHeader is the le32 header word for an n-byte frame.
func TxHeader(n int) uint32 { return uint32(n^0xffff)<<16 | uint32(n) }

// NeedsPad reports whether an n-byte frame needs TxPad at this bulk OUT
// wMaxPacketSize.
func NeedsPad(n, maxPacket int) bool { return (n+4)%maxPacket == 0 }

// Frame adds the TX header (and the filler when needed) to b in place,
// using its headroom and tailroom. It allocates nothing. On error b is
// unchanged. Frames longer than MaxTxLen are refused (FrameMax lifts that
// for the AX88178's jumbo frames).
func Frame(b *skbuff.Buff, maxPacket int) error { return FrameMax(b, maxPacket, MaxTxLen) }

// FrameMax is Frame for frames of up to maxLen bytes (at most 0xffff, the
// header's 16-bit length: the AX88178 with jumbo frames enabled).
func FrameMax(b *skbuff.Buff, maxPacket, maxLen int) error {
	n := b.Len()
	if maxPacket <= 0 {
		// wMaxPacketSize 0 was a divide by zero in Linux (CVE-2021-47495).
		return fmt.Errorf("asix: %w: bulk OUT wMaxPacketSize %d", ErrTxFrame, maxPacket)
	}
	maxLen = min(maxLen, 0xffff)
	if n == 0 || n > maxLen {
		return fmt.Errorf("asix: %w: frame of %d bytes (1..%d)", ErrTxFrame, n, maxLen)
	}
	if b.Cloned() {
		// Linux copies a header-cloned skb (skb_copy_expand); here the
		// caller owns the choice: Copy it and frame the copy.
		return fmt.Errorf("asix: %w: data shared with a clone (read-only)", ErrTxFrame)
	}
	pad := NeedsPad(n, maxPacket)
	need := 0
	if pad {
		need = len(TxPad)
	}
	if b.Headroom() < 4 || b.Tailroom() < need {
		return fmt.Errorf("asix: %w: %d bytes of headroom and %d of tailroom, need 4 and %d", ErrTxFrame, b.Headroom(), b.Tailroom(), need)
	}
	binary.LittleEndian.PutUint32(b.Push(4), TxHeader(n))
	if pad {
		copy(b.Put(len(TxPad)), TxPad[:])
	}
	return nil
}
