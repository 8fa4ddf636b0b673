package ax88179

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"

	"dongle/hw"
	"dongle/usbnet"
)

type emitted struct {
	data   []byte
	length int
}

func collect(out *[]emitted) usbnet.EmitFunc {
	return func(d []byte, n int) { *out = append(*out, emitted{append([]byte(nil), d...), n}) }
}

// txTransfer frames f as TxFixup does (PutTxHeader, and the pad byte).
func txTransfer(f []byte, mp int) []byte {
	h := make([]byte, TxHdrLen)
	out := append(h, f...)
	if PutTxHeader(out[:TxHdrLen], len(f), mp) {
		out = append(out, 0)
	}
	return out
}

func TestUnframeTxInvertsTxFixup(t *testing.T) {
	c := &usbnet.Capture{Out: hw.EndpointDesc{MaxPacketSize: 512}}
	for _, n := range []int{60, 504, 1514} { // 504: 512-byte transfer, padded
		f := frame(n, byte(n))
		p := txTransfer(f, 512)
		var got []emitted
		if err := (&Driver{}).UnframeTx(c, p, len(p), collect(&got)); err != nil {
			t.Fatalf("%d: %v", n, err)
		}
		if len(got) != 1 || !bytes.Equal(got[0].data, f) || got[0].length != n {
			t.Fatalf("%d-byte frame: %d frames", n, len(got))
		}
	}
	p := append(txTransfer(frame(70, 1), 512), txTransfer(frame(90, 2), 512)...)
	var got []emitted
	if err := (&Driver{}).UnframeTx(c, p, len(p), collect(&got)); err != nil || len(got) != 2 || got[1].length != 90 {
		t.Fatalf("two frames: %v %d", err, len(got))
	}
	// A header that claims more than the transfer holds, or nothing.
	bad := txTransfer(frame(70, 1), 512)
	binary.LittleEndian.PutUint32(bad, 500)
	if err := (&Driver{}).UnframeTx(c, bad, len(bad), collect(&got)); !errors.Is(err, usbnet.ErrTxShort) {
		t.Errorf("oversized header: %v", err)
	}
	binary.LittleEndian.PutUint32(bad, 0)
	if err := (&Driver{}).UnframeTx(c, bad, len(bad), collect(&got)); !errors.Is(err, usbnet.ErrTxShort) {
		t.Errorf("zero-length header: %v", err)
	}
	// Cut by the capture: in a frame (reported with its length), in a header (no error).
	full := txTransfer(frame(100, 3), 512)
	got = nil
	if err := (&Driver{}).UnframeTx(c, full[:40], len(full), collect(&got)); err != nil || len(got) != 1 || got[0].length != 100 || len(got[0].data) != 32 {
		t.Errorf("cut frame: %v %+v", err, got)
	}
	got = nil
	if err := (&Driver{}).UnframeTx(c, full[:4], len(full), collect(&got)); err != nil || len(got) != 0 {
		t.Errorf("cut header: %v %d", err, len(got))
	}
}

func rxCtl(v uint16) usbnet.CapturedControl {
	return usbnet.CapturedControl{Setup: hw.Setup{RequestType: hw.DirOut | hw.TypeVendor | hw.RecipDevice, Request: AccessMAC, Value: RegRxCtl, Index: 2, Length: 2},
		Data: binary.LittleEndian.AppendUint16(nil, v), OK: true}
}

// TestRxUnframerIPE: the IPE setting RX ran with (the last RX_CTL with
// START, not the stop that ends a trace) decides the 2-byte pad.
func TestRxUnframerIPE(t *testing.T) {
	f1, f2 := frame(60, 1), frame(1514, 2)
	for _, c := range []struct {
		name string
		ctl  []usbnet.CapturedControl
		ipe  bool
	}{
		{"no RX_CTL in the trace", nil, true},
		{"started with IPE, then stopped", []usbnet.CapturedControl{rxCtl(RxCtlStart | RxCtlIPE), rxCtl(0)}, true},
		{"started without IPE", []usbnet.CapturedControl{rxCtl(RxCtlStart | RxCtlIPE), rxCtl(RxCtlStart)}, false},
	} {
		u := (&Driver{}).RxUnframer(&usbnet.Capture{Controls: c.ctl})
		p := aggregate(c.ipe, [][]byte{f1, f2})
		var got []emitted
		lost, err := u.Rx(p, len(p), collect(&got))
		if lost || err != nil || len(got) != 2 || !bytes.Equal(got[0].data, f1) || !bytes.Equal(got[1].data, f2) {
			t.Errorf("%s: lost %v err %v frames %d", c.name, lost, err, len(got))
		}
	}
	u := (&Driver{}).RxUnframer(&usbnet.Capture{})
	p := aggregate(true, [][]byte{f1})
	var got []emitted
	if lost, err := u.Rx(p[:len(p)-3], len(p), collect(&got)); !lost || err != nil || len(got) != 0 {
		t.Errorf("cut transfer: lost %v err %v frames %d", lost, err, len(got))
	}
	if _, err := u.Rx(p[:3], 3, collect(&got)); !errors.Is(err, ErrRxShort) {
		t.Errorf("3-byte transfer: %v", err)
	}
}

func TestDescribeStatusNamesMAC(t *testing.T) {
	ev, err := (&Driver{}).DescribeStatus([]byte{0xa1, 0, 1, 0, 0, 0, 0, 0})
	if err != nil || !ev.HasLink || !ev.Up {
		t.Errorf("link up: %+v %v", ev, err)
	}
	ev, err = (&Driver{}).DescribeStatus([]byte{0xa1, 0, 0, 0, 0, 0, 0, 0})
	if err != nil || !ev.HasLink || ev.Up {
		t.Errorf("link down: %+v %v", ev, err)
	}
	for _, p := range [][]byte{{1, 2, 3}, {0xa1, 0, 1, 0, 0, 0, 0}} { // under 8 bytes: ax88179_status ignores it
		if _, err := (&Driver{}).DescribeStatus(p); !errors.Is(err, ErrIntShort) {
			t.Errorf("short % x: %v", p, err)
		}
	}
	in := uint8(hw.DirIn | hw.TypeVendor | hw.RecipDevice)
	for s, want := range map[hw.Setup]string{
		{RequestType: in, Request: AccessMAC, Value: RegRxCtl, Index: 2, Length: 2}: "ax88179 ACCESS_MAC read RX_CTL",
		{RequestType: in, Request: AccessMAC, Value: 0xee, Index: 1, Length: 1}:     "ax88179 ACCESS_MAC read 0xee",
		{RequestType: in &^ hw.DirIn, Request: AccessPHY, Value: 3, Index: 4}:       "ax88179 ACCESS_PHY write reg 0x04",
		{RequestType: in, Request: AccessEEPROM, Value: 7, Length: 2}:               "ax88179 ACCESS_EEPROM read 0x07",
		{RequestType: in &^ hw.DirIn, Request: Reload}:                              "ax88179 RELOAD_EEPROM_EFUSE",
	} {
		if got, ok := (&Driver{}).RequestName(s); !ok || got != want {
			t.Errorf("%v: %q, want %q", s, got, want)
		}
	}
	if _, ok := (&Driver{}).RequestName(hw.Setup{RequestType: in, Request: 0x42}); ok {
		t.Error("unknown request named")
	}
	mac := []byte{0, 0x0e, 0xc6, 0x81, 0x79, 1}
	node := func(reg uint16, data []byte) usbnet.CapturedControl {
		return usbnet.CapturedControl{Setup: hw.Setup{RequestType: in, Request: AccessMAC, Value: reg, Index: 6, Length: 6}, Data: data, OK: true}
	}
	c := &usbnet.Capture{Controls: []usbnet.CapturedControl{node(RegNodeID, mac), node(RegRxCtl, []byte{9, 9, 9, 9, 9, 9})}}
	if got, err := (&Driver{}).TraceMAC(c); err != nil || !bytes.Equal(got, mac) {
		t.Errorf("TraceMAC = %v %v", got, err)
	}
	if (&Driver{}).TxHeaderLen() != TxHdrLen {
		t.Error("TX header length")
	}
}
