package cdcncm

import (
	"fmt"
	"runtime"
	"testing"

	"dongle/skbuff"
)

// benchNTB is an NTB16 of n frames of size bytes, as a device sends it.
func benchNTB(tb testing.TB, n, size int) []byte {
	w := Writer{Sizes: Sizes{Format: NTB16, TxMax: 16384, MaxDatagram: 1514, TxDivisor: 4, TxRemainder: 2, TxNDPAlign: 4, TxMaxDgrams: n, MinTxPkt: 16384}}
	fs := make([][]byte, n)
	for i := range fs {
		fs[i] = ethFrame([]byte{0x02, 0xaa, 0xbb, 0xcc, 0xdd, 0xee}, size, i)
	}
	ntb, took, err := w.AppendNTB(0, fs)
	if err != nil || took != n {
		tb.Fatalf("%d of %d frames: %v", took, n, err)
	}
	return ntb
}

// rxOnce is RxFixup's work on one NTB without a device: the NTB in a
// pooled buffer, de-aggregated, every frame freed.
func rxOnce(dr *Driver, r *Reader, ntb []byte, q *skbuff.Queue) {
	b := skbuff.Alloc(len(ntb))
	b.PutData(ntb)
	if _, err := dr.deliver(r, b, q); err != nil {
		panic(err)
	}
	q.Purge(skbuff.FreeRead)
}

// BenchmarkRxFixup: one NTB per op; throughput over the NTB's bytes and
// the cost per frame, copying small frames (the default) or sharing all.
func BenchmarkRxFixup(b *testing.B) {
	for _, c := range []struct {
		n, size, brk int
		name         string
	}{
		{10, 1514, 0, "10x1514 shared"}, {10, 1514, 2048, "10x1514 copied"},
		{200, 64, 0, "200x64 copied"}, {200, 64, -1, "200x64 shared"},
	} {
		b.Run(c.name, func(b *testing.B) {
			ntb := benchNTB(b, c.n, c.size)
			dr := &Driver{CopyBreak: c.brk}
			r := &Reader{Format: NTB16, MaxDatagram: 1514}
			var q skbuff.Queue
			b.SetBytes(int64(len(ntb)))
			b.ReportAllocs()
			for b.Loop() {
				rxOnce(dr, r, ntb, &q)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*c.n), "ns/frame")
		})
	}
}

// BenchmarkTxNTB: one NTB per op through the Writer, as TxAggBegin,
// TxAggAdd and TxAggEnd build it in the framework's block.
func BenchmarkTxNTB(b *testing.B) {
	for _, c := range []struct{ n, size int }{{10, 1514}, {40, 64}} {
		b.Run(fmt.Sprintf("%dx%d", c.n, c.size), func(b *testing.B) {
			w := &Writer{Sizes: Sizes{Format: NTB16, TxMax: 16385, MaxDatagram: 1514, TxDivisor: 4, TxRemainder: 2, TxNDPAlign: 4, TxMaxDgrams: 40, MinTxPkt: 14849}, MaxPacket: 512}
			f := testFrame(c.size, 1)
			b.SetBytes(int64(c.n * c.size))
			b.ReportAllocs()
			for b.Loop() {
				txOnce(w, f, c.n)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*c.n), "ns/frame")
		})
	}
}

func txOnce(w *Writer, f []byte, n int) {
	agg := skbuff.Alloc(w.Sizes.TxMax + 1)
	var t txState
	w.begin(agg, &t)
	for range n {
		if _, err := w.add(agg, &t, f); err != nil {
			panic(err)
		}
	}
	w.end(agg, &t)
	agg.Free(skbuff.FreeWrite)
}

// BenchmarkDevice: frames through the whole driver on the fake device:
// TX (Xmit → TxAggregator → bulk OUT → completion) and RX (an NTB of 10
// frames from the device → RxFixup → netdev → handler).
func BenchmarkDevice(b *testing.B) {
	b.Run("TX 1514", func(b *testing.B) {
		// A stream: frames fill NTBs back to back (the timer only ends
		// the run), at most 2000 frames ahead of the completions.
		r := newRig(b, newFakeNCM(), New(), true)
		r.f.discard = true
		fr := ethFrame(r.d.Net.HardwareAddr(), 1514, 1)
		st := r.d.Net.Stats()
		b.ReportAllocs()
		var sent uint64
		for b.Loop() {
			x := skbuff.Alloc(len(fr))
			x.PutData(fr)
			_ = r.d.Net.Xmit(x)
			sent++
			for sent-st.TxPackets.Load()-st.TxDropped.Load() > 2000 {
				runtime.Gosched()
			}
		}
		for st.TxPackets.Load()+st.TxDropped.Load() < sent {
			runtime.Gosched()
		}
		b.ReportMetric(float64(sent)/b.Elapsed().Seconds(), "frames/s")
		if st.TxDropped.Load() != 0 {
			b.Errorf("%d frames dropped", st.TxDropped.Load())
		}
	})
	b.Run("RX 1514", func(b *testing.B) {
		r := newRig(b, newFakeNCM(), New(), true)
		r.count = true
		ntb := benchNTB(b, 10, 1514)
		b.ReportAllocs()
		var want uint64
		for b.Loop() {
			want += uint64(injectNTB(b, r, ntb))
		}
		b.ReportMetric(float64(want)/b.Elapsed().Seconds(), "frames/s")
	})
}

// injectNTB sends one NTB from the device and waits until its frames
// went up the stack.
func injectNTB(tb testing.TB, r *rig, ntb []byte) int {
	st := r.d.Net.Stats()
	before := st.RxPackets.Load()
	if err := r.f.host.SendInZLP(fakeEpIn, ntb); err != nil {
		tb.Fatal(err)
	}
	var n int
	for n = int(st.RxPackets.Load() - before); n < 10; n = int(st.RxPackets.Load() - before) {
		runtime.Gosched()
	}
	return n
}

// TestZeroAllocs: RX (NTB → frames, copied and shared) and TX (frames →
// NTB) allocate nothing per frame in steady state, alone and through the
// whole driver on the fake device.
func TestZeroAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are meaningless under -race (sync.Pool drops items)")
	}
	for _, c := range []struct{ n, size, brk int }{{10, 1514, 0}, {200, 64, 0}, {200, 64, -1}} {
		ntb := benchNTB(t, c.n, c.size)
		dr := &Driver{CopyBreak: c.brk}
		r := &Reader{Format: NTB16, MaxDatagram: 1514}
		var q skbuff.Queue
		for range 100 {
			rxOnce(dr, r, ntb, &q)
		}
		if a := testing.AllocsPerRun(200, func() { rxOnce(dr, r, ntb, &q) }); a != 0 {
			t.Errorf("RX of %d×%d (break %d): %v allocs per NTB", c.n, c.size, c.brk, a)
		}
	}
	w := &Writer{Sizes: Sizes{Format: NTB32, TxMax: 16385, MaxDatagram: 1514, TxDivisor: 4, TxRemainder: 2, TxNDPAlign: 4, TxMaxDgrams: 40, MinTxPkt: 14849}, MaxPacket: 512}
	f := testFrame(1514, 1)
	for range 100 {
		txOnce(w, f, 10)
	}
	if a := testing.AllocsPerRun(200, func() { txOnce(w, f, 10) }); a != 0 {
		t.Errorf("TX NTB of 10 frames: %v allocs", a)
	}

	rg := newRig(t, newFakeNCM(), New(), true)
	rg.f.discard = true
	rg.count = true
	fr := ethFrame(rg.d.Net.HardwareAddr(), 1514, 1)
	st := rg.d.Net.Stats()
	var sent uint64
	send := func() {
		for range 10 {
			x := skbuff.Alloc(len(fr))
			x.PutData(fr)
			_ = rg.d.Net.Xmit(x)
		}
		sent += 10
		for st.TxPackets.Load() < sent {
			runtime.Gosched()
		}
	}
	for range 100 {
		send()
	}
	if a := testing.AllocsPerRun(200, send); a != 0 {
		t.Errorf("TX path, 10 frames: %v allocs", a)
	}
	ntb := benchNTB(t, 10, 1514)
	for range 100 {
		injectNTB(t, rg, ntb)
	}
	if a := testing.AllocsPerRun(200, func() { injectNTB(t, rg, ntb) }); a != 0 {
		t.Errorf("RX path, NTB of 10 frames: %v allocs", a)
	}
	if st.TxDropped.Load()+st.TxErrors.Load()+st.RxErrors.Load() != 0 {
		t.Errorf("errors on the way")
	}
}
