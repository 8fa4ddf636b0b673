package sim

import (
	"sync"
	"time"
)

// FlushTimer is an aggregating device's flush timer: the AX88179's
// BULKIN_QCTRL timer, the RTL8153's USB_RX_EXTRA_AGGR_TMR, NCM's NTB
// timer. A model arms it when a block being collected gets its first
// frame; when the delay has passed and the block has not been sent in the
// meantime, the timer sends it.
//
//	Arm(d) ──▶ armed, deadline = now+d ──(deadline passes)──▶ flush(), disarmed
//	              │
//	              └──(Disarm: the block was sent; Close: the device is gone)──▶ disarmed
//
// Invariants:
//   - flush runs with the model's lock held, and only while armed: a
//     firing meant for a block already sent finds the timer disarmed (or
//     armed for a younger block, whose deadline it then waits for), so a
//     block is never flushed twice and never after Close.
//   - Arm, Disarm, Armed and Close are called with the model's lock held.
//   - One time.Timer serves every block: arming allocates nothing after
//     the first time.
//
// Why not time.AfterFunc per block and a generation counter: a timer per
// block allocates per RX transfer, and the models sit on the per-packet
// path of the benchmarks that measure the driver's allocations.
type FlushTimer struct {
	mu       sync.Locker
	flush    func()
	t        *time.Timer
	armed    bool
	closed   bool
	deadline time.Time
}

// NewFlushTimer returns a disarmed timer that calls flush, with mu held,
// when an armed deadline passes. mu is the model's lock.
func NewFlushTimer(mu sync.Locker, flush func()) *FlushTimer {
	if mu == nil || flush == nil {
		panic("sim: NewFlushTimer needs the model's lock and a flush function")
	}
	return &FlushTimer{mu: mu, flush: flush}
}

// Arm starts the timer for the block being collected: flush runs once d
// has passed, unless Disarm or Close comes first. Arming an armed timer
// moves its deadline. After Close, Arm does nothing.
func (f *FlushTimer) Arm(d time.Duration) {
	if f.closed {
		return
	}
	f.armed, f.deadline = true, time.Now().Add(d)
	if f.t == nil {
		f.t = time.AfterFunc(d, f.fire)
		return
	}
	f.t.Reset(d)
}

// Disarm forgets the deadline: the block was sent (or dropped) by other
// means.
func (f *FlushTimer) Disarm() { f.armed = false }

// Armed reports whether a deadline is pending.
func (f *FlushTimer) Armed() bool { return f.armed }

// Close disarms the timer for good: the device is gone.
func (f *FlushTimer) Close() {
	f.closed, f.armed = true, false
	if f.t != nil {
		f.t.Stop()
	}
}

func (f *FlushTimer) fire() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.armed {
		return
	}
	if left := time.Until(f.deadline); left > 0 {
		f.t.Reset(left)
		return
	}
	f.armed = false
	f.flush()
}
