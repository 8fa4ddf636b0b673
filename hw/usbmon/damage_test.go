package usbmon_test

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"testing"

	"dongle/hw/usbmon"
)

// pcapOffsets returns the byte offset of every record of a classic pcap.
func pcapOffsets(t testing.TB, raw []byte) []int {
	t.Helper()
	var offs []int
	for off := 24; off+16 <= len(raw); off += 16 + int(binary.LittleEndian.Uint32(raw[off+8:])) {
		offs = append(offs, off)
	}
	return offs
}

// readTolerant reads every record of b in tolerant mode.
func readTolerant(t testing.TB, b []byte) ([]usbmon.Record, []int, *usbmon.Reader) {
	t.Helper()
	r, err := usbmon.NewReaderOptions(bytes.NewReader(b), usbmon.ReadOptions{Tolerant: true})
	if err != nil {
		t.Fatal(err)
	}
	var recs []usbmon.Record
	var idx []int
	for {
		rec, err := r.Next()
		if err == io.EOF {
			return recs, idx, r
		}
		if err != nil {
			t.Fatalf("tolerant read stopped: %v", err)
		}
		recs = append(recs, *rec)
		idx = append(idx, r.Index())
	}
}

// sameExcept checks that got is want without the records at the indexes in
// skip, each still at its own index.
func sameExcept(t *testing.T, want, got []usbmon.Record, gotIdx []int, skip ...int) {
	t.Helper()
	if len(got) != len(want)-len(skip) {
		t.Fatalf("read %d records, want %d", len(got), len(want)-len(skip))
	}
	j := 0
	for i := range want {
		if len(skip) > 0 && i == skip[0] {
			skip = skip[1:]
			continue
		}
		if got[j].ID != want[i].ID || got[j].Type != want[i].Type || !bytes.Equal(got[j].Data, want[i].Data) || gotIdx[j] != i {
			t.Fatalf("record %d (read as %d at index %d) differs from the original", i, j, gotIdx[j])
		}
		j++
	}
}

func TestTolerantSkipsRecordWithBadContents(t *testing.T) {
	raw, err := os.ReadFile(fixture("qemu-usbnet-cdc_ether.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	want := readFixture(t, "qemu-usbnet-cdc_ether.pcap")
	offs := pcapOffsets(t, raw)
	bad := append([]byte(nil), raw...)
	bad[offs[3]+16+8] = 'X' // record 3's type byte
	// Strict: the first damage ends the file.
	if _, _, err := usbmon.ReadAll(bytes.NewReader(bad)); err == nil {
		t.Fatal("strict read accepted a bad type byte")
	}
	got, idx, r := readTolerant(t, bad)
	sameExcept(t, want, got, idx, 3)
	d := r.Damage()
	var fe *usbmon.FieldError
	if r.DamageCount() != 1 || len(d) != 1 || d[0].Index != 3 || d[0].Offset != int64(offs[3]) || !errors.As(d[0], &fe) || fe.Field != "type" {
		t.Fatalf("damage %v (count %d)", d, r.DamageCount())
	}
}

func TestTolerantResynchronisesPcap(t *testing.T) {
	raw, err := os.ReadFile(fixture("qemu-usbnet-cdc_ether.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	want := readFixture(t, "qemu-usbnet-cdc_ether.pcap")
	offs := pcapOffsets(t, raw)
	for _, tc := range []struct {
		name string
		incl uint32
	}{
		{"caplen beyond snaplen", 1 << 24},
		{"caplen a little long", binary.LittleEndian.Uint32(raw[offs[5]+8:]) + 40},
		{"caplen a little short", binary.LittleEndian.Uint32(raw[offs[5]+8:]) - 8},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bad := append([]byte(nil), raw...)
			binary.LittleEndian.PutUint32(bad[offs[5]+8:], tc.incl)
			if tc.incl > 1<<20 {
				binary.LittleEndian.PutUint32(bad[offs[5]+12:], tc.incl)
			}
			got, idx, r := readTolerant(t, bad)
			// Record 5 is lost; every later record is found again, at the
			// same index (the lost record keeps its number only when its
			// framing was trusted, which it is not here).
			if len(got) != len(want)-1 || r.DamageCount() != 1 || r.Damage()[0].Offset != int64(offs[5]) {
				t.Fatalf("read %d of %d records, damage %v", len(got), len(want), r.Damage())
			}
			for j := 5; j < len(got); j++ {
				if got[j].ID != want[j+1].ID || !bytes.Equal(got[j].Data, want[j+1].Data) || idx[j] != j {
					t.Fatalf("record %d after the resync differs", j)
				}
			}
		})
	}
}

func TestTolerantCutFile(t *testing.T) {
	raw, err := os.ReadFile(fixture("qemu-usbnet-cdc_ether.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	offs := pcapOffsets(t, raw)
	got, _, r := readTolerant(t, raw[:offs[4]+30])
	var te *usbmon.TruncatedError
	if len(got) != 4 || r.DamageCount() != 1 || r.Damage()[0].Index != 4 || !errors.As(r.Damage()[0], &te) {
		t.Fatalf("%d records, damage %v", len(got), r.Damage())
	}
}

func TestTolerantResynchronisesPcapng(t *testing.T) {
	want := readFixture(t, "qemu-usbnet-gousb-echo.pcap")[:12]
	ng := pcapngOf(t, want)
	var offs []int
	for off := 0; off < len(ng); off += int(binary.LittleEndian.Uint32(ng[off+4:])) {
		if binary.LittleEndian.Uint32(ng[off:]) == 6 {
			offs = append(offs, off)
		}
	}
	t.Run("block length", func(t *testing.T) {
		bad := append([]byte(nil), ng...)
		binary.LittleEndian.PutUint32(bad[offs[4]+4:], 1<<16) // leading length no longer matches the trailing one
		got, _, r := readTolerant(t, bad)
		if len(got) != len(want)-1 || r.DamageCount() != 1 || r.Damage()[0].Offset != int64(offs[4]) {
			t.Fatalf("read %d of %d, damage %v", len(got), len(want), r.Damage())
		}
		if got[4].ID != want[5].ID || !bytes.Equal(got[4].Data, want[5].Data) {
			t.Fatal("the record after the damaged block differs")
		}
	})
	t.Run("record contents", func(t *testing.T) {
		bad := append([]byte(nil), ng...)
		bad[offs[7]+28+9] = 9 // xfer_type of record 7
		got, idx, r := readTolerant(t, bad)
		sameExcept(t, want, got, idx, 7)
		if r.DamageCount() != 1 || r.Damage()[0].Index != 7 {
			t.Fatalf("damage %v", r.Damage())
		}
	})
}

func TestNotACapture(t *testing.T) {
	for _, b := range [][]byte{[]byte("hello, this is a text file and no capture at all"), {}, {0xd4, 0xc3}} {
		_, err := usbmon.NewReaderOptions(bytes.NewReader(b), usbmon.ReadOptions{Tolerant: true})
		if !errors.Is(err, usbmon.ErrNotCapture) {
			t.Errorf("%q: %v", b, err)
		}
	}
}

// FuzzReadDamaged flips bytes of a real capture and reads it tolerantly:
// no panic, no hang, and every record returned decodes again.
func FuzzReadDamaged(f *testing.F) {
	raw, err := os.ReadFile(fixture("qemu-usbnet-cdc_ether.pcap"))
	if err != nil {
		f.Fatal(err)
	}
	raw = raw[:min(len(raw), 6000)]
	ng := pcapngOf(f, readFixture(f, "qemu-usbnet-gousb-echo.pcap")[:20])
	f.Add(false, uint16(100), byte(0xff), uint16(300), byte(1))
	f.Add(true, uint16(200), byte(0x10), uint16(900), byte(0x80))
	f.Fuzz(func(t *testing.T, useNg bool, p1 uint16, x1 byte, p2 uint16, x2 byte) {
		b := raw
		if useNg {
			b = ng
		}
		b = append([]byte(nil), b...)
		b[int(p1)%len(b)] ^= x1
		b[int(p2)%len(b)] ^= x2
		r, err := usbmon.NewReaderOptions(bytes.NewReader(b), usbmon.ReadOptions{Tolerant: true})
		if err != nil {
			return
		}
		for i := 0; ; i++ {
			if i > len(b) {
				t.Fatal("more records than bytes")
			}
			rec, err := r.Next()
			if err == io.EOF {
				return
			}
			if err != nil {
				return // a container the Reader cannot go on in
			}
			var back usbmon.Record
			if err := usbmon.Decode(usbmon.Encode(rec), usbmon.LinkTypeMmapped, &back); err != nil {
				t.Fatalf("record %d does not decode again: %v", i, err)
			}
		}
	})
}

// TestGzipPcap: a gzip'd pcap reads as the pcap does.
func TestGzipPcap(t *testing.T) {
	raw, err := os.ReadFile(fixture("qemu-usbnet-cdc_ether.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	var z bytes.Buffer
	zw := gzip.NewWriter(&z)
	zw.Write(raw)
	zw.Close()
	recs, lt, err := usbmon.ReadAll(&z)
	want := readFixture(t, "qemu-usbnet-cdc_ether.pcap")
	if err != nil || lt != usbmon.LinkTypeMmapped || len(recs) != len(want) || recs[5].ID != want[5].ID || !bytes.Equal(recs[9].Data, want[9].Data) {
		t.Fatalf("gzip: %d records, %v", len(recs), err)
	}
	if _, err := usbmon.NewReader(bytes.NewReader([]byte{0x1f, 0x8b, 0, 0, 0})); err == nil {
		t.Error("a broken gzip header accepted")
	}
}

// TestDamageListBounded: a file of noise keeps MaxDamageKept reports and
// counts the rest.
func TestDamageListBounded(t *testing.T) {
	raw, err := os.ReadFile(fixture("qemu-usbnet-cdc_ether.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	offs := pcapOffsets(t, raw)
	var b []byte
	b = append(b, raw[:24]...)
	rec := raw[offs[3]:offs[4]]
	for i := 0; i < usbmon.MaxDamageKept+10; i++ {
		bad := append([]byte(nil), rec...)
		bad[16+8] = 'X' // a bad type byte in sound framing
		b = append(b, bad...)
	}
	got, _, r := readTolerant(t, b)
	if len(got) != 0 || r.DamageCount() != usbmon.MaxDamageKept+10 || len(r.Damage()) != usbmon.MaxDamageKept {
		t.Fatalf("%d records, %d damaged, %d listed", len(got), r.DamageCount(), len(r.Damage()))
	}
	// A snaplen of 0 in the file header means no limit (MaxRecordLen).
	z := append([]byte(nil), raw...)
	binary.LittleEndian.PutUint32(z[16:], 0)
	if recs, _, err := usbmon.ReadAll(bytes.NewReader(z)); err != nil || len(recs) == 0 {
		t.Errorf("snaplen 0: %v", err)
	}
}
