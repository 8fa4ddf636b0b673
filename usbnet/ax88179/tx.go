package ax88179

import (
	"fmt"

	"dongle/skbuff"
	"dongle/usbnet"
)

// TxFixup implements usbnet.Minidriver: it Pushes the 8-byte header (see
// PutTxHeader) into b's headroom. When 8+len is a multiple of the bulk OUT
// packet size it sets the padding flag and appends one 0x00 byte, so the
// transfer ends in a short packet; that is the byte Linux usbnet adds for
// this driver (it has neither FLAG_SEND_ZLP nor FLAG_MULTI_PACKET), and the
// flag tells the chip to discard it. The packet size comes from
// d.MaxPacket(): 64, 512 or 1024 — never assumed.
func (dr *Driver) TxFixup(d *usbnet.Dev, b *skbuff.Buff) error {
	n := b.Len()
	if n > int(TxLenMask) {
		return fmt.Errorf("ax88179 tx: %d-byte frame exceeds the %d-byte header field", n, TxLenMask)
	}
	if b.Headroom() < TxHdrLen {
		return fmt.Errorf("ax88179 tx: %d bytes of headroom, need %d for the header", b.Headroom(), TxHdrLen)
	}
	if b.Cloned() {
		return fmt.Errorf("ax88179 tx: frame data is shared with a clone; the header cannot be pushed in place")
	}
	mp := d.MaxPacket()
	if mp > 0 && (n+TxHdrLen)%mp == 0 && b.Tailroom() < 1 {
		return fmt.Errorf("ax88179 tx: no tailroom for the pad byte of a %d-byte frame", n)
	}
	if PutTxHeader(b.Push(TxHdrLen), n, mp) {
		b.Put(1)[0] = 0
	}
	return nil
}
