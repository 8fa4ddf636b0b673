package r8152_test

import (
	"bytes"
	"errors"
	"net"
	"strings"
	"testing"

	"dongle/hw"
	"dongle/skbuff"
	"dongle/usbnet"
	"dongle/usbnet/r8152"
)

func TestReadyChipIsPolledOnce(t *testing.T) {
	r := newRig(t, fakeOpts{})
	r.chip.mu.Lock()
	n := r.chip.phyReads[r8152.OCPPhyStatus]
	r.chip.mu.Unlock()
	// r8153b_init waits twice (any settled state, then LAN_ON); a PHY
	// already on the LAN answers each wait at the first read.
	if n != 2 {
		t.Errorf("OCP_PHY_STATUS read %d times, want 2", n)
	}
}

func TestUnframeTxEdges(t *testing.T) {
	f60 := ethFrame(60, peer, fakeMAC, 1)
	f2 := ethFrame(1514, peer, fakeMAC, 2)
	// A frame ending on the 4-byte boundary ends the transfer: no error.
	one := txTransfer(f60)
	if err := drv.UnframeTx(nil, one, len(one), func([]byte, int) {}); err != nil {
		t.Errorf("aligned end: %v", err)
	}
	// Eight zero bytes after it: a descriptor that is no whole frame.
	bare := append(append([]byte(nil), one...), make([]byte, 8)...)
	if err := drv.UnframeTx(nil, bare, len(bare), func([]byte, int) {}); !errors.Is(err, usbnet.ErrTxHeader) {
		t.Errorf("bare descriptor: %v, want ErrTxHeader", err)
	}
	// The capture cut right after the second descriptor: its frame is
	// emitted with nothing captured.
	agg := txTransfer(f60, f2)
	var lens, got []int
	if err := drv.UnframeTx(nil, agg[:68+8], len(agg), func(d []byte, n int) { got, lens = append(got, len(d)), append(lens, n) }); err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[1] != 0 || lens[1] != 1514 {
		t.Errorf("cut after a descriptor: captured %v lengths %v", got, lens)
	}
	// Seven bytes of it captured: the descriptor is lost, nothing emitted.
	got = nil
	_ = drv.UnframeTx(nil, agg[:68+7], len(agg), func(d []byte, n int) { got = append(got, len(d)) })
	if len(got) != 1 {
		t.Errorf("cut inside a descriptor: %d frames, want 1", len(got))
	}
	stray := append(txTransfer(f2), 1, 2, 3)
	err := drv.UnframeTx(nil, stray, len(stray), func([]byte, int) {})
	if err == nil || !strings.Contains(err.Error(), "1 bytes after the last frame at offset 1524") {
		t.Errorf("stray bytes: %v", err)
	}
}

func TestTrailingErrorSaysWhere(t *testing.T) {
	p := append(rxTransfer(ethFrame(60, fakeMAC, peer, 1)), 0, 0, 0, 7)
	_, err := r8152.Walk(p, func(r8152.Frame) {})
	var re *r8152.RxError
	if !errors.As(err, &re) || re.Index != 1 || re.Off != 88 || re.Len != 92 || re.Desc != -1 || !errors.Is(err, r8152.ErrRxTrailing) {
		t.Errorf("%+v", err)
	}
	// CRC-flagged frames count towards the index too.
	q := rxTransfer(ethFrame(60, fakeMAC, peer, 1), ethFrame(60, fakeMAC, peer, 2))
	q[1] |= 0x80 // RD_CRC on the first
	q = append(q, 5)
	_, err = r8152.Walk(q, func(r8152.Frame) {})
	if !errors.As(err, &re) || re.Index != 2 {
		t.Errorf("%+v", err)
	}
}

func TestBindMakesUpAnAddressForAZeroOne(t *testing.T) {
	r := newRig(t, fakeOpts{mac: make([]byte, 6)})
	m := r.dev.Net.HardwareAddr()
	if bytes.Equal(m, make([]byte, 6)) || m[0]&3 != 2 {
		t.Errorf("MAC %v, want a random locally administered one", m)
	}
}

func TestWriteMACRestoresTheLock(t *testing.T) {
	mac := net.HardwareAddr{2, 1, 2, 3, 4, 5}
	// The restore of PLA_CRWECR fails: WriteMAC says so.
	c := &recCtrl{failWhen: func(r req) bool { return r.value == r8152.PLACRWECR && r.data[0] == 0 }}
	if err := r8152.WriteMAC(c, mac); !errors.Is(err, hw.ErrStall) {
		t.Errorf("failed restore: %v", err)
	}
	// PLA_IDR fails: the lock is still restored, and the IDR error returned.
	c = &recCtrl{failWhen: func(r req) bool { return r.value == r8152.PLAIDR }}
	err := r8152.WriteMAC(c, mac)
	last := c.reqs[len(c.reqs)-1]
	if !errors.Is(err, hw.ErrStall) || last.value != r8152.PLACRWECR || last.data[0] != 0 {
		t.Errorf("failed IDR write: %v, last request %+v", err, last)
	}
	if err := r8152.WriteMAC(&recCtrl{}, mac[:5]); err == nil {
		t.Error("5-byte address accepted")
	}
}

func TestRTL8152AtFullSpeed(t *testing.T) {
	r := newRig(t, fakeOpts{version: 0x4c00, full: true})
	r.open()
	if v := r.chip.reg(r8152.PLA, r8152.PLARxFIFOCtl1, 4); v[0] != 0x60 {
		t.Errorf("PLA_RXFIFO_CTRL1 %x, want RXFIFO_THR2_FULL", v)
	}
	if v := r.chip.reg(r8152.PLA, r8152.PLARxFIFOCtl2, 4); v[0] != 0x78 {
		t.Errorf("PLA_RXFIFO_CTRL2 %x, want RXFIFO_THR3_FULL", v)
	}
	hs := newRig(t, fakeOpts{version: 0x4c00})
	hs.open()
	if v := hs.chip.reg(r8152.PLA, r8152.PLARxFIFOCtl1, 4); v[0] != 0x38 {
		t.Errorf("high speed PLA_RXFIFO_CTRL1 %x, want RXFIFO_THR2_HIGH", v)
	}
}

func TestRequestNamesOfTheSecondDword(t *testing.T) {
	for v, want := range map[uint16]string{0xc004: "PLA_IDR+4", 0xcd04: "PLA_MAR+4"} {
		got, _ := drv.RequestName(hw.Setup{RequestType: 0x40, Request: 5, Value: v, Index: 0x01ff})
		if !strings.Contains(got, want) {
			t.Errorf("%#x: %q, want %s", v, got, want)
		}
	}
}

func TestChipNames(t *testing.T) {
	for c, want := range map[r8152.Chip]string{0: "unknown", r8152.RTL8156B: "RTL8156B", r8152.RTL8156B + 1: "unknown", -1: "unknown"} {
		if got := c.String(); got != want {
			t.Errorf("Chip(%d) = %q, want %q", int(c), got, want)
		}
	}
	if r8152.VerUnknown.String() != "RTL_VER_UNKNOWN" {
		t.Error(r8152.VerUnknown.String())
	}
}

func TestAggAddRoomLeft(t *testing.T) {
	const size = 2048
	for _, tc := range []struct {
		n    int
		full bool
	}{{1972, false}, {1980, true}} { // 68 and 60 bytes left: ETH_ZLEN + 8 is the line
		agg := skbuff.Alloc(size + 1)
		full, err := r8152.AggAdd(agg, ethFrame(tc.n, peer, fakeMAC, 1), size)
		agg.Free(skbuff.FreeWrite)
		if err != nil || full != tc.full {
			t.Errorf("%d-byte frame: full %v err %v, want full %v", tc.n, full, err, tc.full)
		}
	}
}
