package skbuff

import (
	"fmt"
	"sync"
	"sync/atomic"
)

// pool holds the idle objects of one kind: the chunks of one size class
// (page_pool's recycling ring), or Buff headers (skbuff_head_cache). Up to
// limit of them wait on a free list; more spill into a sync.Pool, which the
// garbage collector empties:
//
//	put ─► free list (≤ limit, kept across GCs) ─► full? ─► spill (sync.Pool)
//	get ◄─ free list ◄─ empty? ◄─ spill ◄─ empty? ◄─ fresh()
//
// Why not a sync.Pool alone: a sync.Pool drops everything it holds over two
// collections. A driver's working set (its URB buffers, the frames queued
// for the device) is then made again after every second GC, and making it
// again is the allocation that brings the next GC. The free list keeps what
// was once in use, so the working set is made once.
//
// Invariants: len(free) <= limit; nothing on free or in spill is live.
// What reaches the free list is never handed back to the collector: each
// pool keeps up to limit idle objects for the life of the process.
//
// A limit of 0 is a pool without a free list: get and put go straight to
// the sync.Pool, taking no lock. The package's pools have that under the
// race detector (idleLimit): the free list's mutex would order every put
// before every later get in any goroutine, and so hide from -race the data
// races between goroutines that free and allocate buffers; sync.Pool
// orders only the put and the get of the same object.
type pool[T any] struct {
	mu    sync.Mutex
	free  []*T
	limit int
	spill sync.Pool
	fresh func() *T
	made  atomic.Uint64 // fresh calls
}

func newPool[T any](limit int, fresh func() *T) *pool[T] {
	if limit < 0 {
		panic(fmt.Sprintf("skbuff: pool limit %d: must not be negative", limit))
	}
	return &pool[T]{limit: limit, fresh: fresh}
}

// idleLimit is the free-list limit of the package's pools: n, or 0 under
// the race detector (see pool).
func idleLimit(n int) int {
	if raceBuild {
		return 0
	}
	return n
}

// get returns an idle object, or a new one.
func (p *pool[T]) get() *T {
	if p.limit > 0 {
		p.mu.Lock()
		if n := len(p.free); n > 0 {
			x := p.free[n-1]
			p.free[n-1] = nil
			p.free = p.free[:n-1]
			p.mu.Unlock()
			return x
		}
		p.mu.Unlock()
	}
	if x, ok := p.spill.Get().(*T); ok {
		return x
	}
	p.made.Add(1)
	return p.fresh()
}

// put takes back an idle object.
func (p *pool[T]) put(x *T) {
	if p.limit > 0 {
		p.mu.Lock()
		if len(p.free) < p.limit {
			p.free = append(p.free, x)
			p.mu.Unlock()
			return
		}
		p.mu.Unlock()
	}
	p.spill.Put(x)
}
