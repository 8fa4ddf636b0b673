package skbuff_test

import (
	"runtime"
	"testing"

	"dongle/skbuff"
)

// skbCycle is one buffer's life on a receive path: dev_alloc_skb(1536),
// reserve 2 (IP alignment), put 1500, push a 14-byte link header, free.
func skbCycle() {
	b := skbuff.Alloc(1536)
	b.Reserve(2)
	b.Put(1500)
	b.Push(14)
	b.Free(skbuff.FreeRead)
}

func BenchmarkSkbCycle(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		skbCycle()
	}
}

func BenchmarkQueueCycle(b *testing.B) {
	b.ReportAllocs()
	var q skbuff.Queue
	for range 8 {
		q.QueueTail(skbuff.Alloc(64))
	}
	for b.Loop() {
		q.QueueTail(q.Dequeue())
	}
	q.Purge(skbuff.FreeRead)
}

func TestSkbCycleAllocatesNothing(t *testing.T) {
	// Under -race the pools are sync.Pools alone, and the race runtime
	// drops some of their puts at random: a cycle may then make its chunk
	// and header again, never more.
	want := 0.0
	if raceEnabled {
		want = 2
	}
	skbCycle() // warm the pools
	if n := testing.AllocsPerRun(1000, skbCycle); n > want {
		t.Fatalf("Alloc/Reserve/Put/Push/Free allocated %v times per cycle, want at most %v", n, want)
	}
	if skbuff.Live() != 0 {
		t.Fatalf("Live() = %d after the cycles", skbuff.Live())
	}
}

// workingSet allocates what a driver holds in flight (n buffers of size
// bytes, as a transmit queue or a set of URBs does), then frees it all.
func workingSet(n, size int) {
	held := make([]*skbuff.Buff, 0, n)
	for range n {
		held = append(held, skbuff.Alloc(size))
	}
	for _, b := range held {
		b.Free(skbuff.FreeWrite)
	}
}

// TestWorkingSetSurvivesCollections: a working set made once is not made
// again after garbage collections. With the pools emptied by each second
// GC, every buffer of it would be made again (chunk and header), and those
// allocations bring the next GC. That is what the race build does, on
// purpose (skbuff/race.go): there the test asserts it.
func TestWorkingSetSurvivesCollections(t *testing.T) {
	for _, w := range []struct{ n, size int }{{256, 64}, {256, 1536}, {100, 16384}} {
		want := uint64(0)
		if raceEnabled {
			want = 2 * uint64(w.n)
		}
		workingSet(w.n, w.size) // made once
		for round := range 3 {
			runtime.GC()
			runtime.GC()
			before := skbuff.Made()
			workingSet(w.n, w.size)
			if made := skbuff.Made() - before; made != want {
				t.Errorf("%d buffers of %d B after two collections (round %d): %d chunks and headers made again, want %d", w.n, w.size, round, made, want)
			}
		}
	}
	if skbuff.Live() != 0 {
		t.Fatalf("Live() = %d after the rounds", skbuff.Live())
	}
}

// FuzzBuffOps drives a buffer through a sequence of operations chosen by
// the input and checks the geometry invariant after each one. Operations
// that would be misuse are checked to panic and to change nothing.
func FuzzBuffOps(f *testing.F) {
	f.Add([]byte{0, 10, 1, 5, 2, 3, 3, 20, 4, 2})
	f.Add([]byte{1, 200, 1, 200, 2, 90})
	f.Add([]byte{5, 0, 3, 0, 6, 1})
	f.Fuzz(func(t *testing.T, ops []byte) {
		b := skbuff.Alloc(128)
		var clone *skbuff.Buff
		defer func() {
			b.Free(skbuff.FreeRead)
			if clone != nil {
				clone.Free(skbuff.FreeRead)
			}
			if skbuff.Live() != 0 {
				t.Fatalf("leak: Live() = %d", skbuff.Live())
			}
		}()
		total := b.Headroom() + b.Len() + b.Tailroom()
		for i := 0; i+1 < len(ops); i += 2 {
			n := int(ops[i+1])
			hr, ln, tr := b.Headroom(), b.Len(), b.Tailroom()
			shared := clone != nil
			mustPanic := false
			switch ops[i] % 7 {
			case 0:
				mustPanic = ln != 0 || n > tr
				expectPanic(t, mustPanic, func() { b.Reserve(n) })
			case 1:
				mustPanic = n > tr || (shared && n >= 0)
				expectPanic(t, mustPanic, func() { b.Put(n) })
			case 2:
				mustPanic = n > hr || shared
				expectPanic(t, mustPanic, func() { b.Push(n) })
			case 3:
				p := b.Pull(n)
				if (p == nil) != (n > ln) {
					t.Fatalf("Pull(%d) with len %d returned %v", n, ln, p)
				}
			case 4:
				b.Trim(n)
				if want := min(n, ln); b.Len() != want {
					t.Fatalf("Trim(%d) from %d: len %d", n, ln, b.Len())
				}
			case 5:
				if clone == nil {
					clone = b.Clone()
				} else {
					clone.Free(skbuff.FreeRead)
					clone = nil
				}
			case 6:
				c := b.Copy()
				if string(c.Data()) != string(b.Data()) || c.Headroom() != b.Headroom() {
					t.Fatalf("Copy differs")
				}
				c.Free(skbuff.FreeRead)
			}
			if mustPanic && (b.Headroom() != hr || b.Len() != ln || b.Tailroom() != tr) {
				t.Fatalf("a refused op changed the buffer: %v", b)
			}
			if b.Headroom() < 0 || b.Len() < 0 || b.Tailroom() < 0 || b.Headroom()+b.Len()+b.Tailroom() != total {
				t.Fatalf("invariant broken: %v", b)
			}
		}
	})
}

func expectPanic(t *testing.T, want bool, fn func()) {
	t.Helper()
	got := false
	func() {
		defer func() {
			if r := recover(); r != nil {
				if _, ok := r.(*skbuff.PanicError); !ok {
					t.Fatalf("panic with %T, want *skbuff.PanicError", r)
				}
				got = true
			}
		}()
		fn()
	}()
	if got != want {
		t.Fatalf("panicked = %v, want %v", got, want)
	}
}
