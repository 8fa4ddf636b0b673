package r8152_test

import (
	"encoding/binary"
	"errors"
	"testing"

	"dongle/hw"
	"dongle/usbnet/r8152"
)

// recCtrl records every request and answers reads from a byte map.
type recCtrl struct {
	reqs []req
	mem  map[uint16]byte
	fail error
	// failWhen fails the requests it accepts (after recording them).
	failWhen func(r req) bool
}

type req struct {
	in           bool
	value, index uint16
	data         []byte
}

func (c *recCtrl) VendorIn(r uint8, value, index uint16, buf []byte) error {
	if r != r8152.ReqRegs {
		return errors.New("wrong bRequest")
	}
	c.reqs = append(c.reqs, req{true, value, index, nil})
	if c.fail != nil {
		return c.fail
	}
	for i := range buf {
		buf[i] = c.mem[value+uint16(i)]
	}
	return nil
}

func (c *recCtrl) VendorOut(r uint8, value, index uint16, data []byte) error {
	if r != r8152.ReqRegs {
		return errors.New("wrong bRequest")
	}
	c.reqs = append(c.reqs, req{false, value, index, append([]byte(nil), data...)})
	if c.failWhen != nil && c.failWhen(c.reqs[len(c.reqs)-1]) {
		return hw.ErrStall
	}
	return c.fail
}

func TestRegisterAccessMatchesLinux(t *testing.T) {
	mem := map[uint16]byte{0xe610: 0x11, 0xe611: 0x22, 0xe612: 0x33, 0xe613: 0x44}
	tests := []struct {
		name string
		do   func(c *recCtrl) (uint32, error)
		want []req
		val  uint32
	}{
		{"dword read", func(c *recCtrl) (uint32, error) { return r8152.Read32(c, r8152.PLA, 0xe610) },
			[]req{{true, 0xe610, 0x0100, nil}}, 0x44332211},
		{"word read, low half", func(c *recCtrl) (uint32, error) { v, err := r8152.Read16(c, r8152.PLA, 0xe610); return uint32(v), err },
			[]req{{true, 0xe610, 0x0133, nil}}, 0x2211},
		{"word read, high half (PLA_TCR1)", func(c *recCtrl) (uint32, error) { v, err := r8152.Read16(c, r8152.PLA, 0xe612); return uint32(v), err },
			[]req{{true, 0xe610, 0x01cc, nil}}, 0x4433},
		{"byte read, offset 3", func(c *recCtrl) (uint32, error) { v, err := r8152.Read8(c, r8152.USB, 0xe613); return uint32(v), err },
			[]req{{true, 0xe610, 0x0000, nil}}, 0x44},
		{"byte read, offset 1", func(c *recCtrl) (uint32, error) { v, err := r8152.Read8(c, r8152.PLA, 0xe611); return uint32(v), err },
			[]req{{true, 0xe610, 0x0100, nil}}, 0x22},
		{"dword write", func(c *recCtrl) (uint32, error) { return 0, r8152.Write32(c, r8152.PLA, 0xc010, 0x0000000e) },
			[]req{{false, 0xc010, 0x01ff, []byte{0x0e, 0, 0, 0}}}, 0},
		{"word write, low half", func(c *recCtrl) (uint32, error) { return 0, r8152.Write16(c, r8152.PLA, 0xe86c, 0xa000) },
			[]req{{false, 0xe86c, 0x0133, []byte{0x00, 0xa0, 0, 0}}}, 0},
		{"word write, high half", func(c *recCtrl) (uint32, error) { return 0, r8152.Write16(c, r8152.USB, 0xd42e, 0x0bcd) },
			[]req{{false, 0xd42c, 0x00cc, []byte{0, 0, 0xcd, 0x0b}}}, 0},
		{"byte write, offset 3 (PLA_CR)", func(c *recCtrl) (uint32, error) { return 0, r8152.Write8(c, r8152.PLA, 0xe813, 0x10) },
			[]req{{false, 0xe810, 0x0188, []byte{0, 0, 0, 0x10}}}, 0},
		{"byte write, offset 0", func(c *recCtrl) (uint32, error) { return 0, r8152.Write8(c, r8152.PLA, 0xe81c, 0xc0) },
			[]req{{false, 0xe81c, 0x0111, []byte{0xc0, 0, 0, 0}}}, 0},
		{"byte write, offset 2", func(c *recCtrl) (uint32, error) { return 0, r8152.Write8(c, r8152.USB, 0xd4b2, 0x03) },
			[]req{{false, 0xd4b0, 0x0044, []byte{0, 0, 0x03, 0}}}, 0},
		{"six bytes (PLA_IDR)", func(c *recCtrl) (uint32, error) {
			return 0, r8152.WriteRegs(c, r8152.PLA, 0xc000, r8152.ByteEnSixBytes, []byte{1, 2, 3, 4, 5, 6, 0, 0})
		}, []req{{false, 0xc000, 0x01ff, []byte{1, 2, 3, 4}}, {false, 0xc004, 0x0133, []byte{5, 6, 0, 0}}}, 0},
		{"read of 100 bytes in 64-byte pieces", func(c *recCtrl) (uint32, error) {
			return 0, r8152.ReadRegs(c, r8152.PLA, 0xe890, 0, make([]byte, 100))
		}, []req{{true, 0xe890, 0x0100, nil}, {true, 0xe8d0, 0x0100, nil}}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := &recCtrl{mem: mem}
			v, err := tc.do(c)
			if err != nil {
				t.Fatal(err)
			}
			if v != tc.val {
				t.Errorf("value %#x, want %#x", v, tc.val)
			}
			if len(c.reqs) != len(tc.want) {
				t.Fatalf("requests %+v, want %+v", c.reqs, tc.want)
			}
			for i, w := range tc.want {
				g := c.reqs[i]
				if g.in != w.in || g.value != w.value || g.index != w.index || string(g.data) != string(w.data) {
					t.Errorf("request %d: %+v, want %+v", i, g, w)
				}
			}
		})
	}
}

func TestLongWriteSplitsAsGenericOCPWrite(t *testing.T) {
	c := &recCtrl{}
	data := make([]byte, 1040)
	for i := range data {
		data[i] = byte(i)
	}
	if err := r8152.WriteRegs(c, r8152.USB, 0x8000, 0x3f, data); err != nil {
		t.Fatal(err)
	}
	// first dword, 1032 middle bytes in 512-byte pieces, last dword.
	want := []struct {
		value, index uint16
		n            int
	}{{0x8000, 0x00ff, 4}, {0x8004, 0x00ff, 512}, {0x8204, 0x00ff, 512}, {0x8404, 0x00ff, 8}, {0x840c, 0x0033, 4}}
	if len(c.reqs) != len(want) {
		t.Fatalf("%d requests, want %d", len(c.reqs), len(want))
	}
	off := 0
	for i, w := range want {
		g := c.reqs[i]
		if g.value != w.value || g.index != w.index || len(g.data) != w.n || g.data[0] != byte(off) {
			t.Errorf("request %d: value %#x index %#x %d bytes from %d; want %#x %#x %d", i, g.value, g.index, len(g.data), g.data[0], w.value, w.index, w.n)
		}
		off += w.n
	}
}

func TestMisalignedAccessIsRefused(t *testing.T) {
	c := &recCtrl{}
	for _, err := range []error{
		r8152.ReadRegs(c, r8152.PLA, 0xc002, 0, make([]byte, 4)),
		r8152.ReadRegs(c, r8152.PLA, 0xc000, 0, make([]byte, 6)),
		r8152.ReadRegs(c, r8152.PLA, 0xc000, 0, nil),
		r8152.WriteRegs(c, r8152.PLA, 0xc001, 0xff, make([]byte, 4)),
		r8152.WriteRegs(c, r8152.PLA, 0xc000, 0xff, make([]byte, 5)),
		r8152.ReadRegs(c, r8152.PLA, 0xfffc, 0, make([]byte, 8)),
		r8152.ReadRegs(c, r8152.PLA, 0xfffc, 0, make([]byte, 4)),
		r8152.WriteRegs(c, r8152.PLA, 0xfffc, 0xff, make([]byte, 4)),
	} {
		if !errors.Is(err, r8152.ErrAlign) {
			t.Errorf("err %v, want ErrAlign", err)
		}
	}
	if len(c.reqs) != 0 {
		t.Errorf("%d requests sent for refused accesses", len(c.reqs))
	}
}

func TestModifyAndErrors(t *testing.T) {
	c := &recCtrl{mem: map[uint16]byte{0xe85a: 0x0f, 0xe85b: 0x80}}
	if err := r8152.Modify16(c, r8152.PLA, 0xe85a, 0x0008, 0x0100); err != nil {
		t.Fatal(err)
	}
	w := c.reqs[1]
	if w.index != 0x01cc || binary.LittleEndian.Uint16(w.data[2:]) != 0x8107 {
		t.Errorf("write %+v, want 0x8107 in the high half", w)
	}
	c = &recCtrl{fail: hw.ErrStall}
	_, err := r8152.Read16(c, r8152.PLA, 0xe908)
	if !errors.Is(err, hw.ErrStall) {
		t.Errorf("err %v, want the stall wrapped", err)
	}
	if err := r8152.Modify8(c, r8152.PLA, 0xe813, 0, 1); !errors.Is(err, hw.ErrStall) || len(c.reqs) != 2 {
		t.Errorf("Modify8 after a failed read: %v, %d requests (want no write)", err, len(c.reqs))
	}
}

func TestPHYPageIsWrittenOncePerPage(t *testing.T) {
	c := &recCtrl{mem: map[uint16]byte{0xb402: 0x6d, 0xb403: 0x79}}
	p := &r8152.PHY{C: c}
	v, err := p.MDIORead(r8152.MIIBMSR) // OCP 0xa402 → page 0xa000, window 0xb402
	if err != nil || v != 0x796d {
		t.Fatalf("BMSR %#x, %v", v, err)
	}
	if _, err := p.MDIORead(r8152.MIIBMCR); err != nil {
		t.Fatal(err)
	}
	if err := p.Write(0x2010, 0x1234); err != nil { // another page
		t.Fatal(err)
	}
	var bases []uint16
	for _, r := range c.reqs {
		if !r.in && r.value == r8152.PLAOCPBase {
			bases = append(bases, binary.LittleEndian.Uint16(r.data))
		}
	}
	if len(bases) != 2 || bases[0] != 0xa000 || bases[1] != 0x2000 {
		t.Errorf("page writes %#x, want [0xa000 0x2000]", bases)
	}
	last := c.reqs[len(c.reqs)-1]
	if last.value != 0xb010 || last.index != 0x0133 || binary.LittleEndian.Uint16(last.data) != 0x1234 {
		t.Errorf("window write %+v", last)
	}
	// A failed page write is forgotten: the next access writes it again.
	c.fail = hw.ErrStall
	if _, err := p.Read(0x3000); err == nil {
		t.Fatal("no error from a failing page write")
	}
	c.fail = nil
	n := len(c.reqs)
	if _, err := p.Read(0x3002); err != nil {
		t.Fatal(err)
	}
	if c.reqs[n].value != r8152.PLAOCPBase {
		t.Errorf("page not rewritten after a failure: %+v", c.reqs[n])
	}
}

func TestVersionTable(t *testing.T) {
	tests := []struct {
		raw  uint16
		ver  r8152.Version
		chip r8152.Chip
		ok   bool
	}{
		{0x4c00, r8152.Ver01, r8152.RTL8152, true}, {0x4c10, r8152.Ver02, r8152.RTL8152, true},
		{0x5c00, r8152.Ver03, r8152.RTL8153, true}, {0x5c10, r8152.Ver04, r8152.RTL8153, true},
		{0x5c20, r8152.Ver05, r8152.RTL8153, true}, {0x5c30, r8152.Ver06, r8152.RTL8153, true},
		{0x4800, r8152.Ver07, r8152.RTL8152, true}, {0x6000, r8152.Ver08, r8152.RTL8153B, true},
		{0x6010, r8152.Ver09, r8152.RTL8153B, true}, {0x7020, r8152.Ver10, r8152.RTL8156, false},
		{0x7030, r8152.Ver11, r8152.RTL8156, false}, {0x7400, r8152.Ver12, r8152.RTL8156B, false},
		{0x7410, r8152.Ver13, r8152.RTL8156B, false}, {0x6400, r8152.Ver14, r8152.RTL8153C, false},
		{0x7420, r8152.Ver15, r8152.RTL8156B, false}, {0x7010, r8152.VerUnknown, r8152.ChipUnknown, false},
	}
	for _, tc := range tests {
		// Bits outside VERSION_MASK (and the low half, PLA_TCR0) are ignored.
		v, raw := r8152.VersionOf(uint32(tc.raw|0x8003)<<16 | 0xbeef)
		if v != tc.ver || raw != tc.raw || v.Chip() != tc.chip || v.Supported() != tc.ok {
			t.Errorf("%#04x: %v %#x %v %v, want %v %v %v", tc.raw, v, raw, v.Chip(), v.Supported(), tc.ver, tc.chip, tc.ok)
		}
	}
	if s := r8152.Ver09.String(); s != "RTL_VER_09 (RTL8153B)" {
		t.Errorf("name %q", s)
	}
	c := &recCtrl{mem: map[uint16]byte{0xe612: 0x10, 0xe613: 0x70}}
	if _, err := r8152.ReadVersion(c); !errors.Is(err, r8152.ErrUnknownVersion) {
		t.Errorf("0x7010: %v, want ErrUnknownVersion", err)
	}
	c = &recCtrl{mem: map[uint16]byte{0xe612: 0x10, 0xe613: 0x60}}
	if v, err := r8152.ReadVersion(c); err != nil || v != r8152.Ver09 || len(c.reqs) != 1 || c.reqs[0].value != 0xe610 || c.reqs[0].index != 0x0100 {
		t.Errorf("0x6010: %v %v %+v", v, err, c.reqs)
	}
}
