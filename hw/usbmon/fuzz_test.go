package usbmon_test

import (
	"bytes"
	"os"
	"testing"

	"dongle/hw/usbmon"
)

func FuzzDecodeRecord(f *testing.F) {
	for _, name := range fixtures {
		for i, r := range readFixture(f, name) {
			if i%7 == 0 {
				f.Add(usbmon.Encode(&r), uint8(0))
			}
		}
	}
	f.Add(hdr('C', usbmon.XferBulk, 0x82, 1514, 320), uint8(1))
	f.Add(hdr('S', usbmon.XferIso, 0x81, 1514, 0), uint8(2))
	f.Fuzz(func(t *testing.T, b []byte, mode uint8) {
		lt := usbmon.LinkTypeMmapped
		if mode&1 != 0 {
			lt = usbmon.LinkTypeLinux
		}
		var r usbmon.Record
		var err error
		if mode&2 != 0 {
			err = usbmon.DecodeCut(b, lt, &r)
		} else {
			err = usbmon.Decode(b, lt, &r)
		}
		if err != nil {
			return
		}
		if len(r.Data) > len(b) || len(r.Data)+len(r.IsoDesc)+lt.HeaderLen() != len(b) {
			t.Fatalf("decoded %d data bytes from %d", len(r.Data), len(b))
		}
		if lt == usbmon.LinkTypeMmapped && mode&2 == 0 {
			// Re-encoding a valid record and decoding again is stable.
			var r2 usbmon.Record
			if err := usbmon.Decode(usbmon.Encode(&r), lt, &r2); err != nil {
				t.Fatalf("re-decode: %v", err)
			}
			if !bytes.Equal(r.Data, r2.Data) || r.ID != r2.ID || r.Length != r2.Length {
				t.Fatal("re-decode differs")
			}
		}
	})
}

func FuzzReadFile(f *testing.F) {
	for _, name := range fixtures {
		raw, err := os.ReadFile(fixture(name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(raw[:min(len(raw), 2000)])
		f.Add(pcapngOf(f, readFixture(f, name)[:8]))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := usbmon.NewReader(bytes.NewReader(b))
		if err != nil {
			return
		}
		for i := 0; i < 10000; i++ {
			rec, err := r.Next()
			if err != nil {
				return
			}
			if rec.Truncated() && len(rec.Data) >= int(rec.Length) {
				t.Fatal("truncated with all data")
			}
		}
	})
}
