package decode_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"dongle/hw/usbmon"
	"dongle/usbnet/decode"
)

// TestSingleByteFlips: a flipped byte anywhere after the file header no
// longer makes decode refuse the file (the issue measured 1 in 5 refused):
// it decodes, and what it lost is accounted for as damage or as frames.
func TestSingleByteFlips(t *testing.T) {
	raw, err := os.ReadFile(cdcTrace)
	if err != nil {
		t.Fatal(err)
	}
	whole, err := decode.ReadFile(cdcTrace, decode.Options{})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "flipped.pcap")
	refused, damaged, tried := 0, 0, 0
	for off := 24; off < len(raw); off += 151 {
		for _, x := range []byte{0xff, 0x01} {
			b := append([]byte(nil), raw...)
			b[off] ^= x
			if err := os.WriteFile(path, b, 0o600); err != nil {
				t.Fatal(err)
			}
			tried++
			tr, err := decode.ReadFile(path, decode.Options{})
			if err != nil {
				refused++
				t.Logf("byte %d ^%#x: %v", off, x, err)
				continue
			}
			if tr.Stats.Damaged > 0 {
				damaged++
				if len(tr.Damage) == 0 {
					t.Errorf("byte %d: %d damaged records, none listed", off, tr.Stats.Damaged)
				}
			}
			if tr.Stats.Records+tr.Stats.Ignored > whole.Stats.Records+whole.Stats.Ignored {
				t.Errorf("byte %d: more records (%d+%d) than the file has", off, tr.Stats.Records, tr.Stats.Ignored)
			}
		}
	}
	// A flip in the device's descriptors can leave no driver to match
	// (ErrNoDriver is the right answer then), nothing else may refuse.
	if refused*50 > tried || damaged == 0 {
		t.Errorf("%d of %d flips refused, %d reported damage", refused, tried, damaged)
	}
	t.Logf("%d flips: %d refused, %d with damaged records reported", tried, refused, damaged)
}

// FuzzDecodeDamaged runs the whole-file path over a real capture with two
// bytes changed: no panic, no hang, and a decode that succeeds keeps its
// books.
func FuzzDecodeDamaged(f *testing.F) {
	raw, err := os.ReadFile(cdcTrace)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(uint16(100), byte(0xff), uint16(5000), byte(0x10))
	f.Add(uint16(24+8), byte(0x40), uint16(24+16+8), byte(0x01))
	path := filepath.Join(f.TempDir(), "fuzz.pcap")
	f.Fuzz(func(t *testing.T, p1 uint16, x1 byte, p2 uint16, x2 byte) {
		b := append([]byte(nil), raw...)
		b[int(p1)%len(b)] ^= x1
		b[int(p2)%len(b)] ^= x2
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		tr, err := decode.ReadFile(path, decode.Options{Drivers: nil})
		if err != nil {
			return
		}
		s := tr.Stats
		if s.RxFrames != len(framesOf(tr, decode.RX)) || s.TxFrames != len(framesOf(tr, decode.TX)) || s.Damaged < len(tr.Damage) {
			t.Fatalf("books: %+v, %d frames, %d damage lines", s, len(tr.Frames), len(tr.Damage))
		}
	})
}

func framesOf(tr *decode.Trace, d decode.Dir) []decode.Frame {
	var out []decode.Frame
	for _, f := range tr.Frames {
		if f.Dir == d {
			out = append(out, f)
		}
	}
	return out
}

// FuzzRNDIS feeds the offline RNDIS unframer (through a decode of an RNDIS
// configuration) arbitrary transfers: no panic, frames within the
// transfer, lengths never below what was captured.
func FuzzRNDIS(f *testing.F) {
	f.Add(rndisPacket(frameOf(1, 60), frameOf(2, 100)), uint16(0))
	f.Add(rndisPacket(frameOf(1, 60))[:50], uint16(200))
	f.Fuzz(func(t *testing.T, p []byte, extra uint16) {
		var b builder
		usbnetWithSecond(&b, rndisConfig(2))
		b.control(setConfig(2), nil, 0)
		b.xfer(0x03, 0x81, p, len(p)+int(extra), 0, false)
		b.xfer(0x03, 0x02, p, len(p)+int(extra), 0, false)
		tr, err := decode.Decode(b.recs, 220, decode.Options{})
		if err != nil {
			t.Fatal(err)
		}
		total := 0
		for _, fr := range tr.Frames {
			if fr.Length < len(fr.Data) {
				t.Fatalf("frame of %d bytes holds %d", fr.Length, len(fr.Data))
			}
			total += len(fr.Data)
		}
		if total > 2*len(p) {
			t.Fatalf("%d frame bytes out of two %d-byte transfers", total, len(p))
		}
	})
}

// TestProgressAndStreaming: Progress reports both passes on a big input,
// and Emit receives exactly the frames a decode without it keeps.
func TestProgressAndStreaming(t *testing.T) {
	one, lt, err := usbmon.ReadFile(echoTrace)
	if err != nil {
		t.Fatal(err)
	}
	var recs []usbmon.Record
	for len(recs) < 2*decode.ProgressEvery+1 {
		recs = append(recs, one...)
	}
	passes := map[int]int{}
	var last int64
	var got []decode.Frame
	tr, err := decode.Decode(recs, lt, decode.Options{
		Progress: func(pass int, n int64) {
			if n < last && pass == 1 {
				t.Errorf("progress went back: %d after %d", n, last)
			}
			passes[pass]++
			last = n
		},
		Emit: func(f *decode.Frame) error {
			c := *f
			c.Data = append([]byte(nil), f.Data...)
			got = append(got, c)
			return nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := len(recs) / decode.ProgressEvery
	if passes[1] != want || passes[2] != want || passes[0] != 0 {
		t.Errorf("progress calls %v, want %d per pass", passes, want)
	}
	kept, err := decode.Decode(recs, lt, decode.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(tr.Frames) != 0 || len(got) != len(kept.Frames) || len(got) == 0 {
		t.Fatalf("emitted %d, kept %d (and %d kept while emitting)", len(got), len(kept.Frames), len(tr.Frames))
	}
	for i := range got {
		if !bytes.Equal(got[i].Data, kept.Frames[i].Data) || got[i].Record != kept.Frames[i].Record || got[i].Length != kept.Frames[i].Length {
			t.Fatalf("frame %d differs between Emit and Frames", i)
		}
	}
	stop := errors.New("sink full")
	n := 0
	_, err = decode.Decode(recs, lt, decode.Options{Emit: func(*decode.Frame) error {
		if n++; n == 3 {
			return stop
		}
		return nil
	}})
	if !errors.Is(err, stop) || n != 3 {
		t.Errorf("an Emit error: %v after %d frames", err, n)
	}
}
