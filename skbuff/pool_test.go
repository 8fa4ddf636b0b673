package skbuff

import (
	"fmt"
	"runtime"
	"testing"
)

// idle is how many objects wait on the free list.
func (p *pool[T]) idle() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.free)
}

// TestPoolKeepsIdleObjectsAcrossCollections is the reason pool exists: what
// was put back is got back after garbage collections, where a sync.Pool
// alone would have dropped it and made new ones.
func TestPoolKeepsIdleObjectsAcrossCollections(t *testing.T) {
	p := newPool(8, func() *int { return new(int) })
	var held []*int
	for range 8 {
		held = append(held, p.get())
	}
	if p.made.Load() != 8 {
		t.Fatalf("an empty pool made %d objects for 8 gets, want 8", p.made.Load())
	}
	kept := map[*int]bool{}
	for _, x := range held {
		kept[x] = true
		p.put(x)
	}
	runtime.GC()
	runtime.GC()
	for i := range 8 {
		x := p.get()
		if !kept[x] {
			t.Fatalf("get %d after two collections returned an object that was never put", i)
		}
		delete(kept, x)
	}
	if p.made.Load() != 8 {
		t.Fatalf("made %d objects, want still 8: the free list lost what it held", p.made.Load())
	}
	if p.idle() != 0 {
		t.Fatalf("idle() = %d after taking all 8 back, want 0", p.idle())
	}
}

// TestPoolBoundsTheFreeList: what is put beyond the limit spills, and the
// free list holds exactly limit; gets empty the free list last in, first
// out.
func TestPoolBoundsTheFreeList(t *testing.T) {
	p := newPool(3, func() *int { return new(int) })
	xs := make([]*int, 5)
	for i := range xs {
		xs[i] = new(int)
		p.put(xs[i])
	}
	if p.idle() != 3 {
		t.Fatalf("idle() = %d after 5 puts into a pool of 3, want 3", p.idle())
	}
	for i := 2; i >= 0; i-- {
		if x := p.get(); x != xs[i] {
			t.Fatalf("get returned %p, want %p (put number %d, last in first out)", x, xs[i], i)
		}
	}
	if p.idle() != 0 {
		t.Fatalf("idle() = %d, want 0", p.idle())
	}
}

// TestPoolSpillServesOverflow: what did not fit on the free list is still
// reused while no collection has taken it. sync.Pool promises nothing, so
// the test asks only that some of 50 spilled objects come back rather than
// all 50 being made anew.
func TestPoolSpillServesOverflow(t *testing.T) {
	p := newPool(2, func() *int { return new(int) })
	put := map[*int]bool{}
	for range 52 {
		x := new(int)
		put[x] = true
		p.put(x)
	}
	reused := 0
	for range 52 {
		if put[p.get()] {
			reused++
		}
	}
	if reused <= 2 {
		t.Fatalf("%d of 52 objects came back (2 from the free list), want some of the 50 spilled ones too; made %d", reused, p.made.Load())
	}
}

func TestNewPoolRejectsANegativeLimit(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("newPool(-1) did not panic")
		}
	}()
	newPool(-1, func() *int { return new(int) })
}

// TestPoolWithoutFreeList: a limit of 0 (the package's pools under -race)
// keeps nothing on the free list; the spill still serves.
func TestPoolWithoutFreeList(t *testing.T) {
	p := newPool(0, func() *int { return new(int) })
	put := map[*int]bool{}
	for range 50 {
		x := new(int)
		put[x] = true
		p.put(x)
	}
	if p.idle() != 0 {
		t.Fatalf("idle() = %d with limit 0, want 0", p.idle())
	}
	reused := 0
	for range 50 {
		if put[p.get()] {
			reused++
		}
	}
	if reused == 0 {
		t.Fatalf("none of 50 objects put came back from the spill; made %d", p.made.Load())
	}
}

// TestPoolLimits: every size class's free list keeps 4 MiB of chunks and
// spills the rest; the header pool keeps 16384 headers. Under -race they
// keep none (idleLimit).
func TestPoolLimits(t *testing.T) {
	keeps := func(n int) int {
		if raceBuild {
			return 0
		}
		return n
	}
	check := func(name string, idle func() int, put func(), get func(), want int) {
		for n := idle(); n > 0; n-- { // what earlier tests left
			get()
		}
		for range want + 1 {
			put()
		}
		if got := idle(); got != want {
			t.Errorf("%s keeps %d after %d puts, want %d", name, got, want+1, want)
		}
		for n := idle(); n > 0; n-- {
			get()
		}
		if idle() != 0 {
			t.Errorf("%s: idle() = %d after taking every idle one, want 0", name, idle())
		}
	}
	for i, size := range classes {
		p := chunkPools[i]
		check(fmt.Sprintf("the %d B class", size), p.idle,
			func() { p.put(&chunk{mem: make([]byte, size), class: i}) },
			func() { p.get() }, keeps((4<<20)/size))
	}
	check("the header pool", buffPool.idle, func() { buffPool.put(new(Buff)) }, func() { buffPool.get() }, keeps(16384))
}
