package r8152

import (
	"testing"

	"dongle/skbuff"
)

// transfer builds a 16 KiB-ish aggregate of n-byte frames, as the chip
// sends them.
func transfer(n, size int) []byte {
	var p []byte
	for len(p)+RxDescLen+n+FCSLen <= size {
		for len(p)%RxAlign != 0 {
			p = append(p, 0)
		}
		d := make([]byte, RxDescLen)
		PutRxDesc(d, n+FCSLen, RxIPv4CS|RxUDPCS, 0)
		p = append(p, d...)
		for i := 0; i < n+FCSLen; i++ {
			p = append(p, byte(i))
		}
	}
	return p
}

func rxOnce(p []byte, q *skbuff.Queue) int {
	b := skbuff.Alloc(len(p))
	b.PutData(p)
	_, _ = deaggregate(b, DefaultCopyBreak, q)
	n := 0
	for f := q.Dequeue(); f != nil; f = q.Dequeue() {
		n++
		f.Free(skbuff.FreeRead)
	}
	return n
}

func TestRxAllocatesNothingPerFrame(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are meaningless under -race (sync.Pool drops items); run without -race")
	}
	for _, n := range []int{60, 1514} {
		p := transfer(n, 16*1024)
		var q skbuff.Queue
		rxOnce(p, &q) // warm the pools
		if a := testing.AllocsPerRun(200, func() { rxOnce(p, &q) }); a != 0 {
			t.Errorf("%d-byte frames: %v allocs per transfer, want 0", n, a)
		}
	}
}

func TestTxAllocatesNothingPerFrame(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are meaningless under -race (sync.Pool drops items); run without -race")
	}
	dr := &Driver{}
	f := make([]byte, 1514)
	once := func() {
		b := skbuff.Alloc(len(f) + TxDescLen)
		b.Reserve(TxDescLen)
		b.PutData(f)
		if err := dr.TxFixup(nil, b); err != nil {
			t.Fatal(err)
		}
		b.Free(skbuff.FreeWrite)
	}
	once()
	if a := testing.AllocsPerRun(200, once); a != 0 {
		t.Errorf("TxFixup: %v allocs per frame, want 0", a)
	}
	// The aggregating path: 16 frames into one pooled block.
	block := func() {
		agg := skbuff.Alloc(TxAggSize + 1)
		for i := 0; i < 10; i++ {
			if _, err := AggAdd(agg, f, TxAggSize); err != nil {
				t.Fatal(err)
			}
		}
		agg.Free(skbuff.FreeWrite)
	}
	block()
	if a := testing.AllocsPerRun(200, block); a != 0 {
		t.Errorf("AggAdd: %v allocs per 10-frame block, want 0", a)
	}
}

func benchRx(b *testing.B, n int) {
	p := transfer(n, 16*1024)
	var q skbuff.Queue
	frames := rxOnce(p, &q)
	b.SetBytes(int64(len(p)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		rxOnce(p, &q)
	}
	b.ReportMetric(float64(frames), "frames/op")
}

func BenchmarkRxFixup64(b *testing.B)   { benchRx(b, 64) }
func BenchmarkRxFixup1514(b *testing.B) { benchRx(b, 1514) }

func BenchmarkTxFixup1514(b *testing.B) {
	dr := &Driver{}
	f := make([]byte, 1514)
	b.SetBytes(int64(len(f)))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		s := skbuff.Alloc(len(f) + TxDescLen)
		s.Reserve(TxDescLen)
		s.PutData(f)
		if err := dr.TxFixup(nil, s); err != nil {
			b.Fatal(err)
		}
		s.Free(skbuff.FreeWrite)
	}
}

func BenchmarkTxAgg1514(b *testing.B) {
	f := make([]byte, 1514)
	b.SetBytes(int64(len(f)) * 10)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		agg := skbuff.Alloc(TxAggSize + 1)
		for j := 0; j < 10; j++ {
			if _, err := AggAdd(agg, f, TxAggSize); err != nil {
				b.Fatal(err)
			}
		}
		agg.Free(skbuff.FreeWrite)
	}
}

// TestCopyBreak: frames up to DefaultCopyBreak are copied into buffers of
// their own, longer ones share the transfer's.
func TestCopyBreak(t *testing.T) {
	for _, tc := range []struct {
		n     int
		clone bool
	}{{60, false}, {DefaultCopyBreak, false}, {DefaultCopyBreak + 1, true}, {1514, true}} {
		p := transfer(tc.n, 4096)
		b := skbuff.Alloc(len(p))
		b.PutData(p)
		var q skbuff.Queue
		if _, err := deaggregate(b, DefaultCopyBreak, &q); err != nil {
			t.Fatal(err)
		}
		for f := q.Dequeue(); f != nil; f = q.Dequeue() {
			// A clone pins the transfer's chunk, a copy only its own.
			if shared := f.Truesize() >= len(p); shared != tc.clone || f.Len() != tc.n {
				t.Errorf("%d-byte frame: truesize %d of a %d-byte transfer, len %d, want shared %v", tc.n, f.Truesize(), len(p), f.Len(), tc.clone)
			}
			if !f.CsumVerified {
				t.Errorf("%d-byte frame: checksum verdict lost", tc.n)
			}
			f.Free(skbuff.FreeRead)
		}
	}
}
