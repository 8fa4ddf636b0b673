package decode

import (
	"encoding/binary"

	"dongle/usbnet"
)

// packetSizes are the legal bulk wMaxPacketSize values.
var packetSizes = [...]uint32{8, 16, 32, 64, 512, 1024}

// hostPads reports whether the host that made the trace pads bulk OUT
// transfers on ep (wMaxPacketSize mp) rather than ending them with a ZLP:
// it never sent a non-empty transfer whose length is a multiple of mp.
func hostPads(d *devSurvey, ep uint8, mp int) bool {
	for i, s := range packetSizes {
		if int(s) == mp {
			return d.multiples[ep]&(1<<i) == 0
		}
	}
	return true
}

// unpad removes usbnet's one-byte pad from a bulk OUT transfer (the rule
// is usbnet.Unpad's, next to the framework's zlpRule that adds it) and
// counts it. Where the frame is raw Ethernet carrying IPv4 or IPv6 and the
// capture holds the IP header, the IP length decides instead of the last
// byte (or, in a cut transfer, of the length alone): a real frame of
// L+1 bytes is then never shortened, a cut one of L plus the pad always is.
func (t *Trace) unpad(e *epoch, p []byte, length int) ([]byte, int) {
	if e.drv == nil {
		return p, length
	}
	mp := int(e.out.MaxPacketSize)
	data, n, padded := usbnet.Unpad(e.drv.Flags(), mp, p, length, e.hostPads)
	if padded && e.rawEthernet {
		if l, ok := ipFrameLen(p); ok && l == length {
			return p, length // the IP length says every byte is the frame's
		}
	}
	if padded {
		t.Stats.TxPads++
	}
	return data, n
}

// ipFrameLen is the length of an Ethernet frame carrying IPv4 or IPv6, by
// its IP header (frames of 60 bytes and more, which carry no Ethernet
// padding); ok is false when p does not show it.
func ipFrameLen(p []byte) (int, bool) {
	if len(p) < 14+40 {
		return 0, false
	}
	switch binary.BigEndian.Uint16(p[12:]) {
	case 0x0800:
		if p[14]>>4 != 4 {
			return 0, false
		}
		n := 14 + int(binary.BigEndian.Uint16(p[16:]))
		return n, n >= 60
	case 0x86dd:
		if p[14]>>4 != 6 {
			return 0, false
		}
		return 14 + 40 + int(binary.BigEndian.Uint16(p[18:])), true
	}
	return 0, false
}
