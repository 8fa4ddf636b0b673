package cdcncm

import (
	"bytes"
	"encoding/binary"
	"testing"
)

// fuzzRead checks the Reader's promises on any bytes: no panic, every
// datagram inside the transfer and the block, within the size limits,
// outside the NTH, no two overlapping, and the counters matching.
func fuzzRead(t *testing.T, f Format, p []byte) {
	var rc RxCounters
	r := &Reader{Format: f, MaxBlock: 16384, MaxDatagram: 1514, C: &rc}
	l := layoutOf(f)
	var spans [][2]int
	n, _ := r.Read(p, func(off, n int) {
		if off < l.nthLen || n < 14 || n > 1514 || off+n > len(p) {
			t.Fatalf("datagram at %d, %d bytes, in a %d-byte NTB", off, n, len(p))
		}
		for _, s := range spans {
			if off < s[1] && s[0] < off+n {
				t.Fatalf("datagrams at %d+%d and %d+%d overlap", s[0], s[1]-s[0], off, n)
			}
		}
		spans = append(spans, [2]int{off, off + n})
	})
	if n != len(spans) || rc.Datagrams.Load() != uint64(n) || rc.NTBs.Load() != 1 {
		t.Fatalf("%d returned, %d emitted, counters %d/%d", n, len(spans), rc.Datagrams.Load(), rc.NTBs.Load())
	}
}

func seedNTBs(f *testing.F, fm Format) {
	n := newNTB(fm, 512)
	if fm == NTB16 {
		n.nth(1, 512, 12).ndp(12, 0, 300, [2]int{100, 60}, [2]int{170, 60}).ndp(300, 0, 0, [2]int{400, 100})
	} else {
		n.nth(1, 512, 16).ndp(16, 0, 300, [2]int{100, 60}, [2]int{170, 60}).ndp(300, 0, 0, [2]int{400, 100})
	}
	f.Add(n.b)
	f.Add(n.b[:40])
	w := Writer{Sizes: Sizes{Format: fm, RxMax: 4096, TxMax: 4096, MaxDatagram: 1514, TxDivisor: 4, TxRemainder: 2, TxNDPAlign: 4, TxMaxDgrams: 40, MinTxPkt: 4096}}
	ntb, _, _ := w.AppendNTB(3, [][]byte{testFrame(60, 1), testFrame(1514, 2), testFrame(200, 3)})
	f.Add(ntb)
}

func FuzzReadNTB16(f *testing.F) {
	seedNTBs(f, NTB16)
	f.Fuzz(func(t *testing.T, p []byte) { fuzzRead(t, NTB16, p) })
}

func FuzzReadNTB32(f *testing.F) {
	seedNTBs(f, NTB32)
	f.Fuzz(func(t *testing.T, p []byte) { fuzzRead(t, NTB32, p) })
}

// FuzzTxRoundTrip: frames of any sizes within the limits, through the
// driver's Writer with any parameters the device may announce (clamped by
// Negotiate) and up to 4 NTBs per transfer, split into NTBs as a device
// does (NTBs) and read back by the Reader: the frames the transfer took,
// intact, in order, and nothing lost; every NTB but the last exactly
// TxMax bytes, the last no longer.
func FuzzTxRoundTrip(f *testing.F) {
	f.Add(false, uint16(4), uint16(0), uint16(4), uint16(0), uint32(16384), uint8(1), []byte{60, 0, 234, 5, 14, 0})
	f.Add(true, uint16(8), uint16(2), uint16(16), uint16(3), uint32(2048), uint8(1), []byte{0, 2, 1, 1, 200, 3})
	f.Add(false, uint16(4), uint16(0), uint16(4), uint16(0), uint32(16384), uint8(3), bytes.Repeat([]byte{0xdc, 5}, 40)) // 40 frames of 1514 bytes: three NTBs
	f.Add(true, uint16(4), uint16(2), uint16(4), uint16(0), uint32(4096), uint8(4), bytes.Repeat([]byte{0, 4}, 20))
	f.Fuzz(func(t *testing.T, ntb32 bool, div, rem, align, maxDg uint16, outMax uint32, per uint8, sizes []byte) {
		p := NTBParams{Length: 28, FormatsSupported: 3, InMaxSize: 65536, OutMaxSize: outMax,
			OutDivisor: div, OutPayloadRemainder: rem, OutAlignment: align, OutMaxDatagrams: maxDg}
		z, err := Negotiate(p, 1514, 512, Options{PreferNTB32: ntb32})
		if err != nil {
			t.Fatal(err)
		}
		w := &Writer{Sizes: z, MaxPacket: 512, PerTransfer: int(per % 5)}
		var frames [][]byte
		for i := 0; i+1 < len(sizes) && len(frames) < 256; i += 2 {
			n := 14 + int(binary.LittleEndian.Uint16(sizes[i:]))%(1514-14+1)
			frames = append(frames, testFrame(n, i))
		}
		if len(frames) == 0 {
			return
		}
		block, took, err := w.AppendBlock(uint16(len(sizes)), frames)
		if err != nil {
			t.Fatalf("%d frames: %v (sizes %+v)", len(frames), err, z)
		}
		if took < 1 || len(block) > w.BlockSize() {
			t.Fatalf("took %d, transfer %d bytes (max %d)", took, len(block), w.BlockSize())
		}
		r := &Reader{Format: z.Format, MaxBlock: z.TxMax, MaxDatagram: 1514}
		var back [][]byte
		ntbs := 0
		for off, ntb := range NTBs(block) {
			ntbs++
			n, err := r.Read(ntb, func(o, n int) { back = append(back, ntb[o:o+n]) })
			if err != nil {
				t.Fatalf("reading back the NTB at %d: %v", off, err)
			}
			if n < 1 || n > z.TxMaxDgrams || len(ntb) > z.TxMax {
				t.Fatalf("NTB at %d: %d datagrams (cap %d), %d bytes (max %d)", off, n, z.TxMaxDgrams, len(ntb), z.TxMax)
			}
			if last := off+len(ntb) == len(block); !last && len(ntb) != z.TxMax {
				t.Fatalf("NTB at %d of %d bytes, not the last: want exactly %d", off, len(ntb), z.TxMax)
			}
		}
		if max(w.PerTransfer, 1) < ntbs {
			t.Fatalf("%d NTBs in one transfer, at most %d", ntbs, w.PerTransfer)
		}
		if len(back) != took {
			t.Fatalf("%d frames back, %d sent", len(back), took)
		}
		for i := range back {
			if !bytes.Equal(back[i], frames[i]) {
				t.Fatalf("frame %d differs", i)
			}
		}
	})
}
