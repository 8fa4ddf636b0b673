package usbnet_test

import (
	"bytes"
	"testing"

	"dongle/usbnet"
)

// TestUnpad: the inverse of zlpRule's pad byte, decided by the flags that
// decide zlpRule, the last byte when the capture holds it, and the length
// alone when the capture cut it.
func TestUnpad(t *testing.T) {
	frame := bytes.Repeat([]byte{0xab}, 128)
	padded := append(append([]byte(nil), frame...), 0)
	odd := append(append([]byte(nil), frame...), 0xcd)
	for _, c := range []struct {
		name   string
		flags  usbnet.Flags
		zlp    bool // the trace shows the host ending transfers with ZLPs
		mp     int
		p      []byte
		length int
		want   int // length after
		data   int // bytes of data after
		padded bool
	}{
		{"128+pad", 0, false, 64, padded, 129, 128, 128, true},
		{"129 ending in 0xcd: a real frame", 0, false, 64, odd, 129, 129, 129, false},
		{"cut: only the length shows the pad", 0, false, 64, padded[:40], 129, 128, 40, true},
		{"cut at the pad itself", 0, false, 64, padded[:128], 129, 128, 128, true},
		{"not one over a multiple", 0, false, 64, padded[:100], 100, 100, 100, false},
		{"one byte over one packet of 512", 0, false, 512, make([]byte, 513), 513, 512, 512, true},
		{"a transfer of mp+1 at mp 64 is 65 bytes", 0, false, 64, make([]byte, 65), 65, 64, 64, true},
		{"exactly mp+0: nothing", 0, false, 64, frame[:64], 64, 64, 64, false},
		{"a one-byte transfer", 0, false, 1, []byte{0}, 1, 1, 1, false},
		{"the driver pads itself", usbnet.FlagTxPadsItself, false, 64, padded, 129, 129, 129, false},
		{"a multi-packet driver (Linux pads none)", usbnet.FlagMultiPacket, false, 64, padded, 129, 129, 129, false},
		{"dongle's cdc_ether sends ZLPs, Linux's pads: the trace decides", usbnet.FlagSendZLP, false, 64, padded, 129, 128, 128, true},
		{"the host sent ZLPs", 0, true, 64, padded, 129, 129, 129, false},
		{"no wMaxPacketSize", 0, false, 0, padded, 129, 129, 129, false},
	} {
		data, n, p := usbnet.Unpad(c.flags, c.mp, c.p, c.length, !c.zlp)
		if n != c.want || len(data) != c.data || p != c.padded || !bytes.Equal(data, c.p[:len(data)]) {
			t.Errorf("%s: %d bytes of %d, padded %v; want %d of %d, %v", c.name, len(data), n, p, c.data, c.want, c.padded)
		}
	}
}
