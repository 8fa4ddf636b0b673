package asix

import (
	"bytes"
	"errors"
	"net"
	"testing"

	"dongle/hw"
	"dongle/skbuff"
	"dongle/usbnet"
)

type emitted struct {
	data   []byte
	length int
}

func collect(out *[]emitted) usbnet.EmitFunc {
	return func(d []byte, n int) { *out = append(*out, emitted{append([]byte(nil), d...), n}) }
}

// txTransfer frames each of frames with the driver's own TX framing and
// concatenates them: what a bulk OUT transfer carries.
func txTransfer(t *testing.T, mp int, frames ...[]byte) []byte {
	t.Helper()
	var out []byte
	for _, f := range frames {
		b := skbuff.Alloc(len(f) + 8)
		b.Reserve(4)
		b.PutData(f)
		if err := Frame(b, mp); err != nil {
			t.Fatal(err)
		}
		out = append(out, b.Data()...)
		b.Free(skbuff.FreeRead)
	}
	return out
}

// TestUnframeTxInvertsFrame: UnframeTx returns exactly the frames Frame
// framed, padding filler (a 508-byte frame: 512-byte transfer) included.
func TestUnframeTxInvertsFrame(t *testing.T) {
	c := &usbnet.Capture{Out: hw.EndpointDesc{MaxPacketSize: 512}}
	fs := [][]byte{frame(60, 1), frame(508, 2), frame(1514, 3)}
	for _, f := range fs {
		p := txTransfer(t, 512, f)
		var got []emitted
		if err := (&Driver{}).UnframeTx(c, p, len(p), collect(&got)); err != nil {
			t.Fatalf("%d bytes: %v", len(f), err)
		}
		if len(got) != 1 || !bytes.Equal(got[0].data, f) || got[0].length != len(f) {
			t.Fatalf("%d-byte frame: got %d frames (%+v)", len(f), len(got), got)
		}
	}
	// Two frames in one transfer (the driver never sends that, but the
	// stream format allows it: the parser must not stop after one).
	p := append(txTransfer(t, 512, fs[0]), txTransfer(t, 512, fs[2])...)
	var got []emitted
	if err := (&Driver{}).UnframeTx(c, p, len(p), collect(&got)); err != nil || len(got) != 2 || !bytes.Equal(got[1].data, fs[2]) {
		t.Fatalf("two frames: %v, %d", err, len(got))
	}
}

func TestUnframeTxErrors(t *testing.T) {
	c := &usbnet.Capture{Out: hw.EndpointDesc{MaxPacketSize: 512}}
	good := txTransfer(t, 512, frame(100, 1))
	bad := append([]byte(nil), good...)
	bad[2] ^= 0x01 // complement no longer matches
	var got []emitted
	if err := (&Driver{}).UnframeTx(c, bad, len(bad), collect(&got)); !errors.Is(err, usbnet.ErrTxHeader) || len(got) != 0 {
		t.Errorf("bad header: %v, %d frames", err, len(got))
	}
	short := good[:50]
	if err := (&Driver{}).UnframeTx(c, short, len(short), collect(&got)); !errors.Is(err, usbnet.ErrTxShort) {
		t.Errorf("transfer shorter than its header: %v", err)
	}
	tail := append(append([]byte(nil), good...), 1, 2)
	if err := (&Driver{}).UnframeTx(c, tail, len(tail), collect(&got)); !errors.Is(err, usbnet.ErrTxShort) {
		t.Errorf("2 stray bytes after the frame: %v", err)
	}
	// The capture cut the transfer: a frame cut is reported with its real
	// length, and a header the capture cut is no error.
	got = nil
	if err := (&Driver{}).UnframeTx(c, good[:40], len(good), collect(&got)); err != nil || len(got) != 1 || got[0].length != 100 || len(got[0].data) != 36 {
		t.Errorf("cut frame: %v %+v", err, got)
	}
	two := append(append([]byte(nil), good...), good...)
	got = nil
	if err := (&Driver{}).UnframeTx(c, two[:len(good)+2], len(two), collect(&got)); err != nil || len(got) != 1 {
		t.Errorf("cut header: %v, %d frames", err, len(got))
	}
}

// TestRxUnframerStream: frames split across transfers come out whole; a
// transfer the capture cut mid-frame reports the frame lost and the next
// transfer starts a fresh stream.
func TestRxUnframerStream(t *testing.T) {
	f1, f2, f3 := frame(100, 1), frame(61, 2), frame(200, 3)
	stream := append(append(record(f1), record(f2)...), record(f3)...)
	u := (&Driver{}).RxUnframer(&usbnet.Capture{})
	var got []emitted
	cut := 130 // inside f2's record
	if lost, err := u.Rx(stream[:cut], cut, collect(&got)); lost || err != nil {
		t.Fatalf("first part: lost %v err %v", lost, err)
	}
	if lost, err := u.Rx(stream[cut:], len(stream)-cut, collect(&got)); lost || err != nil {
		t.Fatalf("second part: lost %v err %v", lost, err)
	}
	if len(got) != 3 || !bytes.Equal(got[0].data, f1) || !bytes.Equal(got[1].data, f2) || !bytes.Equal(got[2].data, f3) {
		t.Fatalf("got %d frames", len(got))
	}

	u = (&Driver{}).RxUnframer(&usbnet.Capture{})
	got = nil
	p := record(f1)
	if lost, err := u.Rx(p[:50], len(p), collect(&got)); !lost || err != nil || len(got) != 0 {
		t.Fatalf("cut transfer: lost %v err %v frames %d", lost, err, len(got))
	}
	if lost, err := u.Rx(record(f2), len(record(f2)), collect(&got)); lost || err != nil || len(got) != 1 || !bytes.Equal(got[0].data, f2) {
		t.Fatalf("after the cut: lost %v err %v frames %d", lost, err, len(got))
	}
	// A cut that falls on a record boundary loses nothing.
	got = nil
	whole := append(record(f1), record(f2)...)
	if lost, _ := u.Rx(whole[:len(record(f1))], len(whole), collect(&got)); lost || len(got) != 1 {
		t.Errorf("cut at a boundary: lost %v, %d frames", lost, len(got))
	}
	u.Close()
	checkLive(t)

	// A trace that ends inside a frame: Close frees the partial frame.
	u = (&Driver{}).RxUnframer(&usbnet.Capture{})
	p = record(f3)
	if _, err := u.Rx(p[:100], 100, collect(&got)); err != nil {
		t.Fatal(err)
	}
	u.Close()
	checkLive(t)
}

func TestDescribeStatus(t *testing.T) {
	for _, c := range []struct {
		p    []byte
		up   bool
		fail bool
	}{
		{[]byte{0xa1, 0, 1, 0, 0, 0, 0, 0}, true, false},
		{[]byte{0xa1, 0, 0, 0, 0, 0, 0, 0}, false, false},
		{[]byte{0xa1, 0, 0xfe, 0, 0, 0, 0, 0}, false, false},
		{[]byte{0xa1, 0, 1}, false, true}, // under 8 bytes: asix_status ignores it
		{[]byte{0xa1, 0, 1, 0, 0, 0, 0}, false, true},
		{[]byte{0xa1, 0}, false, true},
	} {
		ev, err := (&Driver{}).DescribeStatus(c.p)
		if (err != nil) != c.fail || (err != nil && !errors.Is(err, ErrStatus)) {
			t.Errorf("% x: error %v", c.p, err)
			continue
		}
		if err == nil && (!ev.HasLink || ev.Up != c.up || ev.Mbps != 0) {
			t.Errorf("% x: %+v, want up=%v", c.p, ev, c.up)
		}
	}
}

func TestRequestNameAndMAC(t *testing.T) {
	vin := uint8(hw.DirIn | hw.TypeVendor | hw.RecipDevice)
	vout := uint8(hw.DirOut | hw.TypeVendor | hw.RecipDevice)
	for s, want := range map[hw.Setup]string{
		{RequestType: vin, Request: CmdReadMII, Value: 16, Index: 1, Length: 2}: "asix READ_MII_REG(phy 16 reg 0x01)",
		{RequestType: vin, Request: CmdReadEEPROM, Value: 4, Length: 2}:         "asix READ_EEPROM(word 0x04)",
		{RequestType: vout, Request: CmdWriteRxCtl, Value: 0x88}:                "asix WRITE_RX_CTL(0x0088)",
		{RequestType: vin, Request: CmdReadNodeID, Length: 6}:                   "asix READ_NODE_ID",
	} {
		if got, ok := (&Driver{}).RequestName(s); !ok || got != want {
			t.Errorf("%v: %q, want %q", s, got, want)
		}
	}
	if _, ok := (&Driver{}).RequestName(hw.Setup{RequestType: vin, Request: 0x55}); ok {
		t.Error("unknown vendor request named")
	}
	if _, ok := (&Driver{}).RequestName(hw.Setup{RequestType: hw.DirIn | hw.TypeClass, Request: CmdReadNodeID}); ok {
		t.Error("class request named as a vendor command")
	}
	mac := []byte{0, 0x0e, 0xc6, 1, 2, 3}
	read := func(ok bool, data []byte) usbnet.CapturedControl {
		return usbnet.CapturedControl{Setup: hw.Setup{RequestType: vin, Request: CmdReadNodeID, Length: 6}, Data: data, OK: ok}
	}
	c := &usbnet.Capture{Controls: []usbnet.CapturedControl{read(true, []byte{2, 2, 2, 2, 2, 2}), read(true, mac), read(false, []byte{9, 9, 9, 9, 9, 9}), read(true, mac[:4])}}
	got, err := (&Driver{}).TraceMAC(c)
	if err != nil || !bytes.Equal(got, mac) {
		t.Errorf("TraceMAC = %v, %v; want the last good read %v", got, err, mac)
	}
	if got, err := (&Driver{}).TraceMAC(&usbnet.Capture{}); got != nil || err != nil {
		t.Errorf("no read in the trace: %v, %v", got, err)
	}

	// The AX88772B's MAC is in EEPROM words 4..6 (readMAC); the others'
	// in NODE_ID. A trace showing both is read as the chip's driver reads it.
	word := func(w uint16, data []byte) usbnet.CapturedControl {
		return usbnet.CapturedControl{Setup: hw.Setup{RequestType: vin, Request: CmdReadEEPROM, Value: w, Length: 2}, Data: data, OK: true}
	}
	eeprom := []byte{0, 0x0e, 0xc6, 0x88, 0x77, 0x2b}
	both := []usbnet.CapturedControl{word(3, []byte{7, 7}), word(4, eeprom[0:2]), word(5, eeprom[2:4]), word(6, eeprom[4:6]), word(7, []byte{8, 8}), read(true, mac)}
	for _, c := range []struct {
		name string
		id   usbnet.ID
		ctl  []usbnet.CapturedControl
		want []byte
	}{
		{"AX88772B: EEPROM", usbnet.ID{Info: AX88772B}, both, eeprom},
		{"AX88772: NODE_ID", usbnet.ID{Info: AX88772}, both, mac},
		{"chip unknown: EEPROM when all three words were read", usbnet.ID{}, both, eeprom},
		{"chip unknown, a word missing: NODE_ID", usbnet.ID{}, append(both[:2:2], both[3:]...), mac},
		{"AX88772B, a word missing: none", usbnet.ID{Info: AX88772B}, append(both[:2:2], both[3:]...), nil},
	} {
		got, err := (&Driver{}).TraceMAC(&usbnet.Capture{ID: c.id, Controls: c.ctl})
		if err != nil || !bytes.Equal(got, c.want) {
			t.Errorf("%s: %v %v, want %v", c.name, got, err, net.HardwareAddr(c.want))
		}
	}
	if (&Driver{}).TxHeaderLen() != 4 {
		t.Error("TX header is 4 bytes")
	}
}
