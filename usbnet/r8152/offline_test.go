package r8152_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net"
	"testing"

	"dongle/hw"
	"dongle/usbnet"
	"dongle/usbnet/r8152"
)

var drv = &r8152.Driver{}

// txTransfer aggregates frames as tx_agg_fill does: tx_desc, frame, the
// next descriptor 4-aligned.
func txTransfer(frames ...[]byte) []byte {
	var p []byte
	for _, f := range frames {
		for len(p)%4 != 0 {
			p = append(p, 0)
		}
		d := make([]byte, r8152.TxDescLen)
		r8152.PutTxDesc(d, len(f))
		p = append(append(p, d...), f...)
	}
	return p
}

func TestUnframeTx(t *testing.T) {
	f1, f2, f3 := ethFrame(61, peer, fakeMAC, 1), ethFrame(1514, peer, fakeMAC, 2), ethFrame(63, peer, fakeMAC, 3)
	agg := txTransfer(f1, f2, f3)
	badSeg := append([]byte(nil), agg...)
	binary.LittleEndian.PutUint32(badSeg, uint32(len(f1))|r8152.TxFS) // no TX_LS
	zero := append([]byte(nil), agg...)
	binary.LittleEndian.PutUint32(zero[72:], r8152.TxFS|r8152.TxLS) // second descriptor (8+61 → 72): length 0
	tests := []struct {
		name   string
		p      []byte
		length int
		want   [][]byte
		lens   []int
		err    error
	}{
		{"three frames, 4-aligned", agg, len(agg), [][]byte{f1, f2, f3}, []int{61, 1514, 63}, nil},
		{"one frame", txTransfer(f2), 1522, [][]byte{f2}, []int{1514}, nil},
		{"capture cut inside the second frame", agg[:100], len(agg), [][]byte{f1, f2[:20]}, []int{61, 1514}, nil},
		{"no TX_LS", badSeg, len(badSeg), nil, nil, usbnet.ErrTxHeader},
		{"zero length", zero, len(zero), [][]byte{f1}, []int{61}, usbnet.ErrTxHeader},
		{"frame past the end", agg[:len(agg)-1], len(agg) - 1, [][]byte{f1, f2}, []int{61, 1514}, usbnet.ErrTxShort},
		{"stray bytes after the last frame", append(txTransfer(f2), 1, 2, 3), 1525, [][]byte{f2}, []int{1514}, usbnet.ErrTxShort},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got [][]byte
			var lens []int
			err := drv.UnframeTx(nil, tc.p, tc.length, func(d []byte, n int) {
				got = append(got, append([]byte(nil), d...))
				lens = append(lens, n)
			})
			if !errors.Is(err, tc.err) || (tc.err == nil) != (err == nil) {
				t.Fatalf("err %v, want %v", err, tc.err)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("%d frames, want %d", len(got), len(tc.want))
			}
			for i := range got {
				if !bytes.Equal(got[i], tc.want[i]) || lens[i] != tc.lens[i] {
					t.Errorf("frame %d: %d bytes (len %d), want %d (len %d)", i, len(got[i]), lens[i], len(tc.want[i]), tc.lens[i])
				}
			}
		})
	}
	if drv.TxHeaderLen() != 8 {
		t.Errorf("TxHeaderLen %d", drv.TxHeaderLen())
	}
}

func TestRxUnframer(t *testing.T) {
	f1, f2 := ethFrame(100, fakeMAC, peer, 1), ethFrame(1514, fakeMAC, peer, 2)
	p := rxTransfer(f1, f2)
	u := drv.RxUnframer(&usbnet.Capture{})
	defer u.Close()
	var got [][]byte
	emit := func(d []byte, n int) { got = append(got, append([]byte(nil), d...)) }
	lost, err := u.Rx(p, len(p), emit)
	if lost || err != nil || len(got) != 2 || !bytes.Equal(got[0], f1) || !bytes.Equal(got[1], f2) {
		t.Fatalf("whole transfer: lost %v err %v, %d frames", lost, err, len(got))
	}
	got = nil
	lost, err = u.Rx(p[:200], len(p), emit)
	if !lost || err != nil || len(got) != 1 {
		t.Errorf("cut transfer: lost %v err %v %d frames, want lost, no error, the first frame", lost, err, len(got))
	}
	bad := append([]byte(nil), p...)
	binary.LittleEndian.PutUint32(bad, 10)
	if _, err := u.Rx(bad, len(bad), emit); !errors.Is(err, r8152.ErrRxRunt) {
		t.Errorf("runt: %v", err)
	}
	if _, err := u.Rx(append(p, 0, 0, 0, 0, 0, 0, 0, 9), len(p)+8, emit); !errors.Is(err, r8152.ErrRxTrailing) {
		t.Errorf("trailing: %v (decode should see the anomaly)", err)
	}
	if _, err := u.Rx(append(p, make([]byte, 8)...), len(p)+8, emit); err != nil {
		t.Errorf("zero terminator: %v", err)
	}
}

func TestDescribeStatus(t *testing.T) {
	for _, tc := range []struct {
		p    []byte
		up   bool
		fail bool
	}{{[]byte{0x04, 0}, true, false}, {[]byte{0x00, 0}, false, false}, {[]byte{0xfb, 0xff}, false, false}, {[]byte{0x04, 0, 9, 9}, true, false}, {[]byte{0x04}, false, true}, {nil, false, true}} {
		ev, err := drv.DescribeStatus(tc.p)
		if tc.fail {
			if !errors.Is(err, r8152.ErrIntShort) {
				t.Errorf("%x: %v, want ErrIntShort", tc.p, err)
			}
			continue
		}
		if err != nil || !ev.HasLink || ev.Up != tc.up || ev.Mbps != 0 {
			t.Errorf("%x: %+v %v, want up %v", tc.p, ev, err, tc.up)
		}
	}
}

func TestRequestName(t *testing.T) {
	rd := func(v, i uint16) hw.Setup {
		return hw.Setup{RequestType: 0xc0, Request: 0x05, Value: v, Index: i, Length: 4}
	}
	wr := func(v, i uint16) hw.Setup {
		return hw.Setup{RequestType: 0x40, Request: 0x05, Value: v, Index: i, Length: 4}
	}
	for _, tc := range []struct {
		s    hw.Setup
		want string
		ok   bool
	}{
		{rd(0xe86c, 0x0100), "r8152 GET_REGS PLA 0xe86c PLA_OCP_GPHY_BASE", true},
		{rd(0xe610, 0x01cc), "r8152 GET_REGS PLA 0xe612 PLA_TCR1 (byte enable 0xcc)", true},
		{rd(0xe610, 0x0100), "r8152 GET_REGS PLA 0xe610 PLA_TCR0", true},
		{wr(0xe810, 0x0188), "r8152 SET_REGS PLA 0xe813 PLA_CR (byte enable 0x88)", true},
		{wr(0xd404, 0x00cc), "r8152 SET_REGS USB 0xd406 USB_USB_CTRL (byte enable 0xcc)", true},
		{wr(0xd434, 0x0088), "r8152 SET_REGS USB 0xd437 USB_UPT_RXDMA_OWN (byte enable 0x88)", true},
		{wr(0xd434, 0x0011), "r8152 SET_REGS USB 0xd434 USB_TX_DMA (byte enable 0x11)", true},
		{wr(0xc000, 0x01ff), "r8152 SET_REGS PLA 0xc000 PLA_IDR (byte enable 0xff)", true},
		{rd(0xb400, 0x01cc), "r8152 GET_REGS PLA 0xb402 OCP window +0x402 (byte enable 0xcc)", true},
		{rd(0x1234, 0x0000), "r8152 GET_REGS USB 0x1234", true},
		{rd(0x1234, 0x0200), "r8152 GET_REGS block 0x0200 0x1234", true},
		{hw.Setup{RequestType: 0xc0, Request: 0x06}, "", false},
		{hw.Setup{RequestType: 0xa1, Request: 0x05}, "", false},
	} {
		got, ok := drv.RequestName(tc.s)
		if got != tc.want || ok != tc.ok {
			t.Errorf("%v: %q %v, want %q %v", tc.s, got, ok, tc.want, tc.ok)
		}
	}
}

func TestTraceMAC(t *testing.T) {
	ctl := func(in bool, v uint16, data []byte, ok bool) usbnet.CapturedControl {
		rt := uint8(0x40)
		if in {
			rt = 0xc0
		}
		return usbnet.CapturedControl{Setup: hw.Setup{RequestType: rt, Request: 0x05, Value: v, Index: 0x0100}, Data: data, OK: ok}
	}
	backup := append(append([]byte(nil), fakeMAC...), 0, 0)
	set := []byte{0x02, 0x11, 0x22, 0x33, 0x44, 0x55}
	for _, tc := range []struct {
		name string
		c    []usbnet.CapturedControl
		want net.HardwareAddr
	}{
		{"read of PLA_BACKUP", []usbnet.CapturedControl{ctl(true, 0xd000, backup, true)}, fakeMAC},
		{"written to PLA_IDR after", []usbnet.CapturedControl{ctl(true, 0xd000, backup, true), ctl(false, 0xc000, set[:4], true), ctl(false, 0xc004, append(set[4:6:6], 0, 0), true)}, set},
		{"a failed read is ignored", []usbnet.CapturedControl{ctl(true, 0xd000, backup, false)}, nil},
		{"half a write is not an address", []usbnet.CapturedControl{ctl(true, 0xd000, backup, true), ctl(false, 0xc000, set[:4], true)}, fakeMAC},
		{"nothing", nil, nil},
	} {
		got, err := drv.TraceMAC(&usbnet.Capture{Controls: tc.c})
		if err != nil || !bytes.Equal(got, tc.want) {
			t.Errorf("%s: %v %v, want %v", tc.name, got, err, tc.want)
		}
	}
}
