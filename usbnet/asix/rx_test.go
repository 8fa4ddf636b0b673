package asix

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"testing"

	"dongle/skbuff"
)

// record frames f as the chip does: header, frame, pad to even.
func record(f []byte) []byte {
	out := binary.LittleEndian.AppendUint32(nil, uint32(len(f))|uint32(^len(f)&0xffff)<<16)
	out = append(out, f...)
	if len(f)&1 != 0 {
		out = append(out, 0)
	}
	return out
}

func frame(n int, seed byte) []byte {
	f := make([]byte, n)
	for i := range f {
		f[i] = seed + byte(i*7)
	}
	return f
}

func drain(t testing.TB, q *skbuff.Queue) [][]byte {
	var out [][]byte
	for b := q.Dequeue(); b != nil; b = q.Dequeue() {
		out = append(out, append([]byte(nil), b.Data()...))
		b.Free(skbuff.FreeRead)
	}
	return out
}

func checkLive(t testing.TB) {
	t.Helper()
	if n := skbuff.Live(); n != 0 {
		t.Fatalf("skbuff.Live() = %d after the test", n)
	}
}

// TestRxSplitEveryOffset cuts a stream of two frames at every byte
// position, which covers a header split at offsets 0..3, a frame split, and
// a pad byte carried over on its own.
func TestRxSplitEveryOffset(t *testing.T) {
	for _, sizes := range [][2]int{{60, 61}, {61, 1514}, {1513, 64}} {
		f1, f2 := frame(sizes[0], 1), frame(sizes[1], 2)
		stream := append(record(f1), record(f2)...)
		for cut := 0; cut <= len(stream); cut++ {
			var d Deframer
			var q skbuff.Queue
			if err := d.Feed(stream[:cut], &q); err != nil {
				t.Fatalf("sizes %v cut %d: first part: %v", sizes, cut, err)
			}
			if err := d.Feed(stream[cut:], &q); err != nil {
				t.Fatalf("sizes %v cut %d: second part: %v", sizes, cut, err)
			}
			got := drain(t, &q)
			if len(got) != 2 || !bytes.Equal(got[0], f1) || !bytes.Equal(got[1], f2) {
				t.Fatalf("sizes %v cut %d: got %d frames", sizes, cut, len(got))
			}
			if d.Partial() {
				t.Fatalf("sizes %v cut %d: state left over", sizes, cut)
			}
		}
	}
	checkLive(t)
}

// TestRxHeaderSplitOffsets names the four header split positions.
func TestRxHeaderSplitOffsets(t *testing.T) {
	f1, f2 := frame(100, 3), frame(200, 4)
	stream := append(record(f1), record(f2)...)
	h2 := len(record(f1))
	for k := 0; k <= 3; k++ {
		var d Deframer
		var q skbuff.Queue
		_ = d.Feed(stream[:h2+k], &q)
		if q.Len() != 1 {
			t.Fatalf("offset %d: %d frames after the first transfer, want 1", k, q.Len())
		}
		if k > 0 && d.nhdr != k {
			t.Fatalf("offset %d: %d header bytes carried, want %d", k, d.nhdr, k)
		}
		_ = d.Feed(stream[h2+k:], &q)
		got := drain(t, &q)
		if len(got) != 2 || !bytes.Equal(got[1], f2) {
			t.Fatalf("offset %d: second frame wrong", k)
		}
	}
	checkLive(t)
}

func TestRxErrors(t *testing.T) {
	good := record(frame(100, 5))
	bad := append([]byte(nil), good...)
	bad[2] ^= 1 // complement half
	over := record(frame(1600, 6))
	runt := record(frame(10, 7))
	for _, tc := range []struct {
		name   string
		in     [][]byte
		want   error
		frames int
		stat   func(*RxStats) uint64
	}{
		{"bad header drops the rest", [][]byte{append(append(append([]byte(nil), good...), bad...), good...)}, ErrBadHeader, 1, func(s *RxStats) uint64 { return s.BadHeader.Load() }},
		{"oversize", [][]byte{append(append([]byte(nil), over...), good...)}, ErrOversize, 0, func(s *RxStats) uint64 { return s.Oversize.Load() }},
		{"runt keeps sync", [][]byte{append(append([]byte(nil), runt...), good...)}, ErrRunt, 1, func(s *RxStats) uint64 { return s.Runt.Load() }},
		// A frame carried over, then a transfer that does not continue it:
		// the header where the next record should start is garbage.
		{"sync lost", [][]byte{good[:50], append(make([]byte, 60), good...)}, ErrSyncLost, 0, func(s *RxStats) uint64 { return s.SyncLost.Load() }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var d Deframer
			var q skbuff.Queue
			var first error
			for _, in := range tc.in {
				if err := d.Feed(in, &q); err != nil && first == nil {
					first = err
				}
			}
			if !errors.Is(first, tc.want) {
				t.Fatalf("error %v, want %v", first, tc.want)
			}
			var fe *FrameError
			if !errors.As(first, &fe) {
				t.Fatalf("error %T is not a *FrameError", first)
			}
			if n := tc.stat(&d.Stats); n != 1 {
				t.Fatalf("counter %d, want 1", n)
			}
			if got := drain(t, &q); len(got) != tc.frames {
				t.Fatalf("%d frames, want %d", len(got), tc.frames)
			}
			d.Reset()
			checkLive(t)
		})
	}
}

// TestRxResetFreesPartial is the 2017 unbind leak: a partial frame must be
// freed by Reset.
func TestRxResetFreesPartial(t *testing.T) {
	var d Deframer
	var q skbuff.Queue
	_ = d.Feed(record(frame(1000, 1))[:300], &q)
	if skbuff.Live() != 1 || !d.Partial() {
		t.Fatalf("want one partial buffer, live %d", skbuff.Live())
	}
	d.Reset()
	if d.Stats.Discarded.Load() != 1 {
		t.Fatal("discard not counted")
	}
	checkLive(t)
}

func TestTxFrame(t *testing.T) {
	for _, mp := range []int{64, 512} {
		for n := 1; n <= 1514; n++ {
			b := skbuff.Alloc(n + 4)
			b.PutData(frame(n, 9))
			if err := Frame(b, mp); err != nil {
				t.Fatal(err)
			}
			data := b.Data()
			h := binary.LittleEndian.Uint32(data)
			if h != uint32(n)|uint32(n^0xffff)<<16 {
				t.Fatalf("n %d: header %#x", n, h)
			}
			pad := (n+4)%mp == 0
			wantLen := n + 4
			if pad {
				wantLen += 4
				if !bytes.Equal(data[n+4:], TxPad[:]) {
					t.Fatalf("n %d mp %d: pad % x", n, mp, data[n+4:])
				}
			}
			if len(data) != wantLen || len(data)%mp == 0 {
				t.Fatalf("n %d mp %d: length %d (a multiple of wMaxPacketSize would not end)", n, mp, len(data))
			}
			b.Free(skbuff.FreeWrite)
		}
	}
	b := skbuff.AllocRaw(100)
	b.PutData(frame(60, 0))
	if err := Frame(b, 512); !errors.Is(err, ErrTxFrame) {
		t.Fatalf("no headroom: %v", err)
	}
	if err := Frame(b, 0); !errors.Is(err, ErrTxFrame) {
		t.Fatalf("wMaxPacketSize 0: %v", err)
	}
	b.Free(skbuff.FreeWrite)
	checkLive(t)
}

// TestTxFixupAllocs proves TX framing allocates nothing.
func TestTxFixupAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are meaningless under -race: sync.Pool drops items on purpose")
	}
	b := skbuff.Alloc(2048)
	b.Put(1000)
	allocs := testing.AllocsPerRun(1000, func() {
		if err := Frame(b, 512); err != nil {
			t.Fatal(err)
		}
		b.Pull(4)
	})
	b.Free(skbuff.FreeWrite)
	if allocs != 0 {
		t.Fatalf("Frame: %v allocs/op, want 0", allocs)
	}
	checkLive(t)
}

// TestRxFixupAllocs: deframing a transfer allocates only the pooled
// buffers it hands out (which, recycled, allocate nothing either).
func TestRxFixupAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are meaningless under -race: sync.Pool drops items on purpose")
	}
	var stream []byte
	for i := 0; i < 10; i++ {
		stream = append(stream, record(frame(100+i*37, byte(i)))...)
	}
	var d Deframer
	var q skbuff.Queue
	// Each round must really deframe all ten frames: a Feed that refused
	// the stream would allocate nothing too.
	var bad error
	allocs := testing.AllocsPerRun(500, func() {
		err1 := d.Feed(stream[:700], &q)
		err2 := d.Feed(stream[700:], &q)
		if n := q.Len(); (err1 != nil || err2 != nil || n != 10) && bad == nil {
			bad = fmt.Errorf("%d frames out of 10 (errors %v, %v)", n, err1, err2)
		}
		q.Purge(skbuff.FreeRead)
	})
	if bad != nil {
		t.Fatal(bad)
	}
	if allocs != 0 {
		t.Fatalf("Feed: %v allocs/op in steady state, want 0", allocs)
	}
	checkLive(t)
}

func rxTransfer16K() []byte {
	var stream []byte
	for i := 0; len(stream) < 16384-1600; i++ {
		stream = append(stream, record(frame(60+(i*389)%1455, byte(i)))...)
	}
	return stream
}

func BenchmarkRxFixup(b *testing.B) {
	stream := rxTransfer16K()
	var d Deframer
	var q skbuff.Queue
	b.SetBytes(int64(len(stream)))
	b.ReportAllocs()
	for b.Loop() {
		_ = d.Feed(stream, &q)
		q.Purge(skbuff.FreeRead)
	}
}

// BenchmarkRxClone measures the alternative Linux does not use for ASIX:
// cloning the transfer buffer and trimming per frame. It avoids the copy
// but pins the whole transfer per frame (truesize) and cannot serve split
// frames; kept to show why Feed copies.
func BenchmarkRxClone(b *testing.B) {
	stream := rxTransfer16K()
	var q skbuff.Queue
	b.SetBytes(int64(len(stream)))
	b.ReportAllocs()
	for b.Loop() {
		t := skbuff.Alloc(len(stream))
		t.PutData(stream)
		for off := 0; off+4 <= len(stream); {
			n := int(binary.LittleEndian.Uint32(stream[off:]) & 0x7ff)
			c := t.Clone()
			c.Pull(off + 4)
			c.Trim(n)
			q.QueueTail(c)
			off += 4 + (n+1)&^1
		}
		t.Free(skbuff.FreeRead)
		q.Purge(skbuff.FreeRead)
	}
}

func BenchmarkTxFixup(b *testing.B) {
	buf := skbuff.Alloc(2048)
	buf.Put(1514)
	b.ReportAllocs()
	for b.Loop() {
		if err := Frame(buf, 512); err != nil {
			b.Fatal(err)
		}
		buf.Pull(4)
	}
	buf.Free(skbuff.FreeWrite)
}

// FuzzRxFixup feeds arbitrary bytes, cut in two transfers anywhere, and
// checks that no frame outside 14..DefaultMaxLen comes out and nothing
// leaks. Run it with minimisation bounded (the test binary is large, so
// the default 60 s minimisation of each new input dominates):
//
//	go test -run='^$' -fuzz=FuzzRxFixup -fuzztime=10s -fuzzminimizetime=0 ./usbnet/asix/
func FuzzRxFixup(f *testing.F) {
	good := append(record(frame(60, 1)), record(frame(1514, 2))...)
	good = append(good, record(frame(61, 3))...)
	f.Add(good, uint16(0))
	f.Add(good, uint16(66))
	f.Add(good, uint16(67))
	f.Add(good, uint16(1581))
	bad := append([]byte(nil), good...)
	bad[3] ^= 0x80
	f.Add(bad, uint16(10))
	f.Add([]byte{0x00, 0x00, 0xff, 0xff, 0x05}, uint16(1))
	f.Add(record(frame(1600, 4)), uint16(3))
	f.Fuzz(func(t *testing.T, data []byte, cut uint16) {
		var d Deframer
		var q skbuff.Queue
		c := int(cut) % (len(data) + 1)
		for _, part := range [][]byte{data[:c], data[c:]} {
			// Bad input is refused with a typed error that names the frame.
			if err := d.Feed(part, &q); err != nil {
				var fe *FrameError
				if !errors.As(err, &fe) {
					t.Fatalf("Feed error %v (%T) is not a *FrameError", err, err)
				}
			}
		}
		for b := q.Dequeue(); b != nil; b = q.Dequeue() {
			if b.Len() < EthHLen || b.Len() > DefaultMaxLen {
				t.Fatalf("frame of %d bytes came out", b.Len())
			}
			b.Free(skbuff.FreeRead)
		}
		d.Reset()
		if n := skbuff.Live(); n != 0 {
			t.Fatalf("%d buffers leaked", n)
		}
	})
}
