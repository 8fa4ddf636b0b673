package decode

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"

	"dongle/hw"
	"dongle/usbnet"
)

func rndisMsg(frame []byte, doff int) []byte {
	h := make([]byte, 8+doff)
	binary.LittleEndian.PutUint32(h, rndisPacketMsg)
	binary.LittleEndian.PutUint32(h[4:], uint32(8+doff+len(frame)))
	binary.LittleEndian.PutUint32(h[8:], uint32(doff))
	binary.LittleEndian.PutUint32(h[12:], uint32(len(frame)))
	return append(h, frame...)
}

type got struct {
	data []byte
	n    int
}

func unframe(p []byte, n int) ([]got, bool, error) {
	var out []got
	lost, err := unframeRNDIS(p, n, func(d []byte, l int) { out = append(out, got{append([]byte(nil), d...), l}) })
	return out, lost, err
}

// TestUnframeRNDISEdges: each bound of REMOTE_NDIS_PACKET_MSG's framing.
func TestUnframeRNDISEdges(t *testing.T) {
	f := bytes.Repeat([]byte{7}, 60)
	m := rndisMsg(f, 36)
	if g, lost, err := unframe(m, len(m)); err != nil || lost || len(g) != 1 || !bytes.Equal(g[0].data, f) || g[0].n != 60 {
		t.Fatalf("one message: %v %v %v", g, lost, err)
	}
	// A larger DataOffset (per-packet info before the frame) is honoured.
	m2 := rndisMsg(f, 40)
	if g, _, err := unframe(m2, len(m2)); err != nil || len(g) != 1 || !bytes.Equal(g[0].data, f) {
		t.Fatalf("DataOffset 40: %v %v", g, err)
	}
	// An empty message carries no frame.
	empty := rndisMsg(nil, 36)
	if g, _, err := unframe(empty, len(empty)); err != nil || len(g) != 0 {
		t.Fatalf("empty message: %v %v", g, err)
	}
	// Exactly a header left is parsed; one byte less is an error.
	if _, _, err := unframe(empty[:43], 43); !errors.Is(err, ErrRNDIS) || !errors.Is(err, usbnet.ErrTxShort) {
		t.Errorf("43 bytes: %v", err)
	}
	// 16 captured bytes of a header are enough to read it; 15 are not.
	if g, lost, err := unframe(m[:16], len(m)); err != nil || lost || len(g) != 1 || len(g[0].data) != 0 || g[0].n != 60 {
		t.Errorf("16 bytes captured: %v %v %v", g, lost, err)
	}
	if g, lost, err := unframe(m[:15], len(m)); err != nil || !lost || len(g) != 0 {
		t.Errorf("15 bytes captured: %v %v %v", g, lost, err)
	}
	for _, c := range []struct {
		name string
		edit func(b []byte)
	}{
		{"MessageLength below a header", func(b []byte) { binary.LittleEndian.PutUint32(b[4:], 43) }},
		{"MessageLength past the transfer", func(b []byte) { binary.LittleEndian.PutUint32(b[4:], uint32(len(b)+4)) }},
		{"DataOffset below the header", func(b []byte) { binary.LittleEndian.PutUint32(b[8:], 35) }},
		{"data past the message", func(b []byte) { binary.LittleEndian.PutUint32(b[12:], 61) }},
	} {
		b := append([]byte(nil), m...)
		c.edit(b)
		if _, _, err := unframe(b, len(b)); !errors.Is(err, ErrRNDIS) {
			t.Errorf("%s: %v", c.name, err)
		}
	}
	// MessageLength equal to what is left, and exactly the data: fine.
	two := append(append([]byte(nil), m...), m...)
	if g, _, err := unframe(two, len(two)); err != nil || len(g) != 2 {
		t.Errorf("two messages: %v %v", g, err)
	}
}

// TestRNDISTraceMAC: the MAC is the answer to the host's query of the
// permanent (or current) address, matched by RequestId.
func TestRNDISTraceMAC(t *testing.T) {
	le := binary.LittleEndian
	query := func(id, oid uint32) []byte {
		b := make([]byte, 28)
		le.PutUint32(b, rndisQueryMsg)
		le.PutUint32(b[4:], 28)
		le.PutUint32(b[8:], id)
		le.PutUint32(b[12:], oid)
		return b
	}
	cmplt := func(id, status uint32, info []byte) []byte {
		b := make([]byte, 24)
		le.PutUint32(b, rndisQueryCmplt)
		le.PutUint32(b[4:], uint32(24+len(info)))
		le.PutUint32(b[8:], id)
		le.PutUint32(b[12:], status)
		le.PutUint32(b[16:], uint32(len(info)))
		le.PutUint32(b[20:], 16)
		return append(b, info...)
	}
	send := hw.Setup{RequestType: hw.TypeClass | hw.RecipInterface, Request: 0x00}
	get := hw.Setup{RequestType: hw.DirIn | hw.TypeClass | hw.RecipInterface, Request: 0x01}
	mac := []byte{0x40, 0x54, 0, 0x12, 0x34, 0x56}
	other := []byte{1, 2, 3, 4, 5, 6}
	c := &usbnet.Capture{Controls: []usbnet.CapturedControl{
		{Setup: send, Data: query(3, 0x00010101), OK: true}, // another OID
		{Setup: get, Data: cmplt(3, 0, other), OK: true},
		{Setup: send, Data: query(4, oidPermanentAddr), OK: true},
		{Setup: get, Data: cmplt(4, 0xc0000001, other), OK: true}, // failed: skipped
		{Setup: get, Data: cmplt(4, 0, other), OK: false},         // not completed
		{Setup: get, Data: cmplt(4, 0, mac), OK: true},
	}}
	got, err := rndis{}.TraceMAC(c)
	if err != nil || !bytes.Equal(got, mac) {
		t.Fatalf("MAC %v %v", got, err)
	}
	bad := &usbnet.Capture{Controls: []usbnet.CapturedControl{
		{Setup: send, Data: query(9, oidCurrentAddr), OK: true},
		{Setup: get, Data: cmplt(9, 0, mac[:4]), OK: true},
	}}
	if _, err := (rndis{}).TraceMAC(bad); err == nil {
		t.Error("a 4-byte address accepted")
	}
	if got, err := (rndis{}).TraceMAC(&usbnet.Capture{}); got != nil || err != nil {
		t.Errorf("no query: %v %v", got, err)
	}
	if n, ok := (rndis{}).RequestName(send); !ok || n != "SEND_ENCAPSULATED_COMMAND (RNDIS)" {
		t.Errorf("%q", n)
	}
	if n, ok := (rndis{}).RequestName(get); !ok || n != "GET_ENCAPSULATED_RESPONSE (RNDIS)" {
		t.Errorf("%q", n)
	}
	if _, ok := (rndis{}).RequestName(hw.Setup{RequestType: hw.TypeVendor}); ok {
		t.Error("a vendor request named")
	}
	if err := (rndis{}).Bind(nil); !errors.Is(err, errOfflineOnly) {
		t.Error(err)
	}
}

// TestIPFrameLen: the IP header's length of a frame, where it shows.
func TestIPFrameLen(t *testing.T) {
	v4 := make([]byte, 54)
	v4[12], v4[13], v4[14] = 0x08, 0x00, 0x45
	binary.BigEndian.PutUint16(v4[16:], 46)
	if n, ok := ipFrameLen(v4); !ok || n != 60 {
		t.Errorf("IPv4 of 60: %d %v", n, ok)
	}
	binary.BigEndian.PutUint16(v4[16:], 45) // 59: Ethernet pads it, the length says nothing
	if _, ok := ipFrameLen(v4); ok {
		t.Error("a frame under 60 bytes trusted")
	}
	if _, ok := ipFrameLen(v4[:53]); ok {
		t.Error("a header cut short read")
	}
	v4[14] = 0x65
	if _, ok := ipFrameLen(v4); ok {
		t.Error("IP version 6 in an IPv4 frame trusted")
	}
	v6 := make([]byte, 54)
	v6[12], v6[13], v6[14] = 0x86, 0xdd, 0x60
	binary.BigEndian.PutUint16(v6[18:], 100)
	if n, ok := ipFrameLen(v6); !ok || n != 154 {
		t.Errorf("IPv6: %d %v", n, ok)
	}
	v6[14] = 0x40
	if _, ok := ipFrameLen(v6); ok {
		t.Error("IP version 4 in an IPv6 frame trusted")
	}
	arp := make([]byte, 60)
	arp[12], arp[13] = 0x08, 0x06
	if _, ok := ipFrameLen(arp); ok {
		t.Error("ARP read as IP")
	}
	d := &devSurvey{multiples: map[uint8]uint8{2: 1 << 3}} // a multiple of 64 sent on 0x02
	if hostPads(d, 2, 64) || !hostPads(d, 2, 512) || !hostPads(d, 3, 64) || !hostPads(d, 2, 100) {
		t.Error("hostPads")
	}
}
