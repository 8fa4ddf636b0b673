package ax88179

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"

	"dongle/skbuff"
)

// aggregate lays frames out as the chip does (IPE pad, 8-byte padding,
// header + dummy per frame, pad2, trailer). hdr[i] adds header flags.
func aggregate(ipe bool, frames [][]byte, hdr ...uint32) []byte {
	pad := 0
	if ipe {
		pad = 2
	}
	var pk []byte
	var hs []byte
	for i, f := range frames {
		l := pad + len(f)
		p := make([]byte, (l+7)&^7)
		copy(p[pad:], f)
		pk = append(pk, p...)
		h := uint32(l) << 16
		if i < len(hdr) {
			h |= hdr[i]
		}
		hs = binary.LittleEndian.AppendUint32(hs, h)
		hs = binary.LittleEndian.AppendUint32(hs, RxHdrDropErr)
	}
	t := append(append(pk, hs...), 0, 0, 0, 0)
	return binary.LittleEndian.AppendUint32(t, uint32(2*len(frames))|uint32(len(pk))<<16)
}

func frame(n int, seed byte) []byte {
	f := make([]byte, n)
	for i := range f {
		f[i] = seed + byte(i*7)
	}
	return f
}

// fill builds the 16 KiB benchmark transfer of frames of size n.
func fill(n int) ([]byte, int) {
	per := (2+n+7)&^7 + 8
	cnt := (16384 - 8) / per
	fs := make([][]byte, cnt)
	for i := range fs {
		fs[i] = frame(n, byte(i))
	}
	return aggregate(true, fs), cnt
}

// cves are the CVE-2022-48805 shapes, built from a good two-frame transfer.
func cves() map[string][]byte {
	good := aggregate(true, [][]byte{frame(60, 1), frame(100, 2)})
	le := binary.LittleEndian
	tr := len(good) - 4
	pk := int(le.Uint32(good[tr:]) >> 16)
	mut := func(f func(t []byte)) []byte { t := append([]byte(nil), good...); f(t); return t }
	return map[string][]byte{
		"short":            good[:3],
		"no packets":       mut(func(t []byte) { le.PutUint32(t[tr:], uint32(pk)<<16) }),
		"hdr_off trailer":  mut(func(t []byte) { le.PutUint32(t[tr:], 4|uint32(tr+1)<<16) }),
		"hdr array past":   mut(func(t []byte) { le.PutUint32(t[tr:], 0x40|uint32(pk)<<16) }),
		"overlaps headers": mut(func(t []byte) { le.PutUint32(t[pk+8:], uint32(pk-64+4)<<16) }),
		"past end":         mut(func(t []byte) { le.PutUint32(t[pk+8:], uint32(len(t))<<16) }),
	}
}

func TestWalkCVEShapes(t *testing.T) {
	want := map[string]error{
		"short": ErrRxShort, "no packets": ErrRxNoPackets, "hdr_off trailer": ErrRxHdrOffInTrailer,
		"hdr array past": ErrRxHdrArrayPastEnd, "overlaps headers": ErrRxPacketOverlapsHdr, "past end": ErrRxPacketPastEnd,
	}
	for name, in := range cves() {
		_, err := Walk(in, true, func(Frame) {})
		if !errors.Is(err, want[name]) {
			t.Errorf("%s: got %v, want %v", name, err, want[name])
		}
	}
}

func runFixup(t testing.TB, dr *Driver, in []byte) ([]*skbuff.Buff, RxCounts, error) {
	b := skbuff.AllocRaw(len(in))
	b.PutData(in)
	var q skbuff.Queue
	c, err := dr.deaggregate(b, true, &q)
	var out []*skbuff.Buff
	for x := q.Dequeue(); x != nil; x = q.Dequeue() {
		out = append(out, x)
	}
	return out, c, err
}

func FuzzRxFixup(f *testing.F) {
	f.Add(aggregate(true, [][]byte{frame(60, 1)}))
	f.Add(aggregate(true, [][]byte{frame(60, 1), frame(1514, 2), frame(300, 3)}, 0, RxHdrCRCErr, RxHdrL4TCP))
	big, _ := fill(64)
	f.Add(big)
	for _, in := range cves() {
		f.Add(in)
	}
	dr := &Driver{}
	f.Fuzz(func(t *testing.T, in []byte) {
		orig := append([]byte(nil), in...)
		var seen []Frame
		c, werr := Walk(in, true, func(fr Frame) { seen = append(seen, fr) })
		if len(in) >= 4 && werr == nil {
			off := int(binary.LittleEndian.Uint32(in[len(in)-4:]) >> 16)
			for _, fr := range seen {
				if fr.Off < 0 || fr.Len < 14 || fr.Off+fr.Len > off {
					t.Fatalf("frame %+v outside the packet area [0,%d)", fr, off)
				}
			}
		}
		if c.Frames != len(seen) {
			t.Fatalf("counted %d frames, delivered %d", c.Frames, len(seen))
		}
		bufs, c2, err := runFixup(t, dr, in)
		if (err == nil) != (werr == nil) || c2 != c || len(bufs) != len(seen) {
			t.Fatalf("fixup disagrees with Walk: %v/%v %+v/%+v %d/%d", err, werr, c2, c, len(bufs), len(seen))
		}
		for i, b := range bufs {
			if !bytes.Equal(b.Data(), in[seen[i].Off:seen[i].Off+seen[i].Len]) {
				t.Fatalf("frame %d bytes differ", i)
			}
			b.Free(skbuff.FreeRead)
		}
		if !bytes.Equal(in, orig) {
			t.Fatal("RX fixup modified its input")
		}
		if n := skbuff.Live(); n != 0 {
			t.Fatalf("%d buffers live after the fixup", n)
		}
	})
}

// benchFixup de-aggregates the same transfer again and again: each round
// clones the filled transfer (as if the USB stack had just filled it; the
// clone shares the bytes, so nothing is copied before the fixup) and frees
// the frames it produced.
func benchFixup(b *testing.B, n, copyBreak int) {
	in, cnt := fill(n)
	src := skbuff.AllocRaw(len(in))
	src.PutData(in)
	defer src.Free(skbuff.FreeRead)
	dr := &Driver{CopyBreak: copyBreak}
	var q skbuff.Queue
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		c, err := dr.deaggregate(src.Clone(), true, &q)
		if err != nil || c.Frames != cnt {
			b.Fatalf("%v %+v", err, c)
		}
		q.Purge(skbuff.FreeRead)
	}
}

func BenchmarkRxFixup64(b *testing.B)       { benchFixup(b, 64, 0) }
func BenchmarkRxFixup64Clone(b *testing.B)  { benchFixup(b, 64, -1) }
func BenchmarkRxFixup1514(b *testing.B)     { benchFixup(b, 1514, 0) }
func BenchmarkRxFixup1514Copy(b *testing.B) { benchFixup(b, 1514, 2048) }

// BenchmarkCopy16K copies the same 16 KiB: the cost of one memcpy of the
// transfer, to compare the fixup against.
func BenchmarkCopy16K(b *testing.B) {
	in, _ := fill(1514)
	dst := make([]byte, len(in))
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		copy(dst, in)
	}
}

// BenchmarkTxFixup is the TX framing of one 1514-byte frame: the 8-byte
// header pushed into the buffer's headroom and filled in (the pad byte is
// appended on exact packet multiples), undone after each op so the buffer
// is reused. The result feeds a sink so the work cannot be optimised away.
func BenchmarkTxFixup(b *testing.B) {
	buf := skbuff.Alloc(1514 + 1)
	buf.Put(1514)
	var sink int
	b.ReportAllocs()
	b.SetBytes(1514)
	for i := 0; i < b.N; i++ {
		h := buf.Push(8)
		if PutTxHeader(h, 1514-(i&1)*10, 512) {
			sink++
		}
		sink += int(h[0])
		buf.Pull(8)
	}
	buf.Free(skbuff.FreeWrite)
	if sink == -1 {
		b.Fatal(sink)
	}
}

func TestRxFixupAllocsPerRun(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool is randomised under -race")
	}
	for _, tc := range []struct {
		n, brk int
	}{{64, 0}, {64, -1}, {1514, 0}} {
		in, cnt := fill(tc.n)
		src := skbuff.AllocRaw(len(in))
		src.PutData(in)
		dr := &Driver{CopyBreak: tc.brk}
		var q skbuff.Queue
		round := func() {
			c, err := dr.deaggregate(src.Clone(), true, &q)
			if err != nil || c.Frames != cnt {
				t.Fatalf("%v %+v", err, c)
			}
			q.Purge(skbuff.FreeRead)
		}
		round() // warm the pools
		if a := testing.AllocsPerRun(200, round); a != 0 {
			t.Errorf("%d-byte frames, copy break %d: %.1f allocs per transfer, want 0", tc.n, tc.brk, a)
		}
		src.Free(skbuff.FreeRead)
	}
	if n := skbuff.Live(); n != 0 {
		t.Fatalf("%d buffers live", n)
	}
}
