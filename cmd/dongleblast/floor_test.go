package main

import (
	"encoding/binary"
	"errors"
	"flag"
	"strings"
	"testing"
	"time"

	libusb "github.com/google/gousb"

	"dongle/usbnet/cdcncm"
)

// ntbOf is an NTB of frames of size bytes, written by dongle's own NCM
// writer in format ntb32 or NTB16 with Linux's parameters.
func ntbOf(t *testing.T, ntb32 bool, frames, size int) ([]byte, int) {
	t.Helper()
	p := cdcncm.NTBParams{Length: 28, FormatsSupported: 3, InMaxSize: 32768, InDivisor: 4, InAlignment: 4,
		OutMaxSize: 32768, OutDivisor: 4, OutAlignment: 4}
	z, err := cdcncm.Negotiate(p, 1514, 512, cdcncm.Options{PreferNTB32: ntb32})
	if err != nil {
		t.Fatal(err)
	}
	if (z.Format == cdcncm.NTB32) != ntb32 {
		t.Fatalf("negotiated %v", z.Format)
	}
	w := &cdcncm.Writer{Sizes: z, MaxPacket: 512}
	var fs [][]byte
	for i := range frames {
		f := make([]byte, size)
		f[0] = byte(i)
		fs = append(fs, f)
	}
	b, took, err := w.AppendNTB(7, fs)
	if err != nil {
		t.Fatal(err)
	}
	return b, took
}

// TestFloorCount: the floor counts every datagram of the NTBs dongle's
// writer makes, in both formats, and flags no anomaly in them.
func TestFloorCount(t *testing.T) {
	for _, c := range []struct {
		name         string
		ntb32        bool
		frames, size int
	}{
		{"ntb16 one", false, 1, 60},
		{"ntb16 1514", false, 10, 1514},
		{"ntb16 64", false, 40, 64},
		{"ntb32 1514", true, 10, 1514},
		{"ntb32 64", true, 40, 64},
	} {
		t.Run(c.name, func(t *testing.T) {
			b, took := ntbOf(t, c.ntb32, c.frames, c.size)
			if took < 1 {
				t.Fatalf("the writer took %d frames", took)
			}
			if got, bad := floorCount(b); got != took || bad != 0 {
				t.Errorf("floorCount = %d frames, %d bad; want %d, 0", got, bad, took)
			}
		})
	}
}

// TestFloorCountBadNTBs: what is not a well-formed NTB is flagged and
// counts nothing (a chain that loops is not counted over and over), in
// both formats, and nothing reads past the block (floorCount hands C a
// copy of exactly the block's length).
func TestFloorCountBadNTBs(t *testing.T) {
	good, took := ntbOf(t, false, 3, 100)
	ndp := int(binary.LittleEndian.Uint16(good[10:]))
	// cut keeps wBlockLength true to the cut, so the NDP checks are what
	// must catch it.
	cut := func(n int) []byte {
		b := append([]byte(nil), good[:n]...)
		binary.LittleEndian.PutUint16(b[8:], uint16(n))
		return b
	}
	edit := func(off int, v uint16) []byte {
		b := append([]byte(nil), good...)
		binary.LittleEndian.PutUint16(b[off:], v)
		return b
	}
	// NTB32: the same walk with 32-bit fields (NTH32 dwNdpIndex at 12,
	// NDP32 dwNextNdpIndex at 8, entries from 16).
	good32, took32 := ntbOf(t, true, 3, 100)
	ndp32 := int(binary.LittleEndian.Uint32(good32[12:]))
	edit32 := func(off int, v uint32) []byte {
		b := append([]byte(nil), good32...)
		binary.LittleEndian.PutUint32(b[off:], v)
		return b
	}
	cut32 := append([]byte(nil), good32[:ndp32+17]...)
	binary.LittleEndian.PutUint32(cut32[8:], uint32(len(cut32)))
	for _, c := range []struct {
		name      string
		b         []byte
		frames    int
		wantFlags bool
	}{
		{"empty", nil, 0, true},
		{"not an NTB", []byte("definitely not an NTB at all"), 0, true},
		{"header only", cut(12), 0, true},
		{"cut inside the NDP", cut(ndp + 9), 0, true},
		{"NDP index past the block", edit(10, uint16(len(good))), 0, true},
		{"NDP longer than the block", edit(ndp+4, uint16(len(good))), 0, true},
		{"second datagram past the block", edit(ndp+8+4+2, uint16(len(good))), 0, true},
		{"zero length ends the entries", edit(ndp+8+4+2, 0), 1, false},
		{"the NDP chained to itself", edit(ndp+6, uint16(ndp)), 0, true},
		{"NDP signature wrong", edit(ndp, 0x5858), 0, true},
		{"datagram inside the NTH", edit(ndp+8, 4), 0, true},
		{"NDP1 signature", edit(ndp+2, binary.LittleEndian.Uint16([]byte("M1"))), took, false},
		{"block length past the transfer", edit(8, uint16(len(good)+1)), 0, true},
		{"no NDP", edit(10, 0), 0, false},
		{"ntb32 whole", good32, took32, false},
		{"ntb32 cut", cut32, 0, true},
		{"ntb32 NDP index past the block", edit32(12, uint32(len(good32))), 0, true},
		{"ntb32 datagram index past the block", edit32(ndp32+16, 1<<31), 0, true},
		{"ntb32 datagram length past the block", edit32(ndp32+16+4, 1<<31), 0, true},
		{"ntb32 NDP chained to itself", edit32(ndp32+8, uint32(ndp32)), 0, true},
		{"ntb32 datagram inside the NTH", edit32(ndp32+16, 8), 0, true},
		{"ntb32 with an NTB16 NDP", edit32(ndp32, binary.LittleEndian.Uint32([]byte("NCM0"))), 0, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, bad := floorCount(c.b)
			if got != c.frames || (bad != 0) != c.wantFlags {
				t.Errorf("floorCount = %d frames, %d bad; want %d, flagged %v", got, bad, c.frames, c.wantFlags)
			}
		})
	}
}

// TestFloorFlags: a flag the floor does not honour is refused, by name.
func TestFloorFlags(t *testing.T) {
	mk := func(args ...string) *flag.FlagSet {
		fs := flag.NewFlagSet("rx", flag.ContinueOnError)
		for _, n := range []string{"floor", "blast", "sync"} {
			fs.Bool(n, false, "")
		}
		for _, n := range []string{"dev", "from", "cpuprofile"} {
			fs.String(n, "", "")
		}
		for _, n := range []string{"n", "size", "rxurbs", "workers", "ntbs"} {
			fs.Int(n, 0, "")
		}
		if err := fs.Parse(args); err != nil {
			t.Fatal(err)
		}
		return fs
	}
	if err := floorFlags(mk("-floor", "-dev", "1209:0002", "-n", "5", "-size", "1514", "-from", "none", "-rxurbs", "8", "-cpuprofile", "p")); err != nil {
		t.Errorf("the bench's own flags: %v", err)
	}
	if err := floorFlags(mk("-floor", "-blast", "-workers", "4")); err == nil || !strings.Contains(err.Error(), "-blast -workers") {
		t.Errorf("-blast -workers: %v", err)
	}
}

func TestParseVIDPID(t *testing.T) {
	if v, p, err := parseVIDPID("1209:0002"); err != nil || v != 0x1209 || p != 2 {
		t.Errorf("1209:0002: %04x:%04x %v", v, p, err)
	}
	for _, s := range []string{"", "1209", "1.4", "serial=x", "12345:1", "1209:zz"} {
		if _, _, err := parseVIDPID(s); err == nil {
			t.Errorf("%q: no error", s)
		}
	}
}

// TestFloorRXRefuses: what the floor cannot do is refused before any
// device is touched, and a device that is not there is an error naming
// it, with libusb's status (the half-open state closed without a crash).
func TestFloorRXRefuses(t *testing.T) {
	if err := floorRX("1209:0002", 10, 0, "gncm0", time.Second); err == nil || !strings.Contains(err.Error(), `-from "gncm0"`) {
		t.Errorf("-from gncm0: %v", err)
	}
	if err := floorRX("1.4", 10, 0, "none", time.Second); err == nil || !strings.Contains(err.Error(), `-dev "1.4"`) {
		t.Errorf("-dev 1.4: %v", err)
	}
	err := floorRX("fffe:fffd", 10, 0, "", time.Second)
	var le libusb.Error
	if !errors.As(err, &le) || !strings.Contains(err.Error(), "fffe:fffd") {
		t.Errorf("absent device: %v, want a libusb error naming fffe:fffd", err)
	} else {
		t.Log(err)
	}
}
