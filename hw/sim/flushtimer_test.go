package sim_test

import (
	"sync"
	"testing"
	"time"

	"dongle/hw/sim"
)

// timerRig is a model's lock and a flush that records when it ran and
// whether the lock was held.
type timerRig struct {
	mu      sync.Mutex
	flushes chan time.Time
	unheld  int // flushes that ran without the lock held
}

func newTimerRig() (*timerRig, *sim.FlushTimer) {
	r := &timerRig{flushes: make(chan time.Time, 16)}
	return r, sim.NewFlushTimer(&r.mu, func() {
		if r.mu.TryLock() {
			r.unheld++
			r.mu.Unlock()
		}
		r.flushes <- time.Now()
	})
}

func (r *timerRig) locked(f func()) {
	r.mu.Lock()
	defer r.mu.Unlock()
	f()
}

// quiet fails if a flush comes within d.
func (r *timerRig) quiet(t *testing.T, d time.Duration, what string) {
	t.Helper()
	select {
	case <-r.flushes:
		t.Fatalf("%s: flushed", what)
	case <-time.After(d):
	}
}

func (r *timerRig) flushed(t *testing.T, what string) time.Time {
	t.Helper()
	select {
	case at := <-r.flushes:
		return at
	case <-time.After(2 * time.Second):
		t.Fatalf("%s: no flush within 2 s", what)
	}
	return time.Time{}
}

func TestFlushTimerFlushesOnceAfterTheDelayWithTheLockHeld(t *testing.T) {
	r, ft := newTimerRig()
	const d = 30 * time.Millisecond
	var armed time.Time
	r.locked(func() {
		armed = time.Now()
		ft.Arm(d)
		if !ft.Armed() {
			t.Error("Armed() false right after Arm")
		}
	})
	at := r.flushed(t, "armed")
	if at.Sub(armed) < d {
		t.Errorf("flushed %v after Arm, before the %v delay", at.Sub(armed), d)
	}
	r.quiet(t, 3*d, "after the one flush")
	r.locked(func() {
		if ft.Armed() {
			t.Error("Armed() true after the flush")
		}
	})
	if r.unheld != 0 {
		t.Errorf("%d flushes ran without the model's lock", r.unheld)
	}
	// Reused for the next block.
	r.locked(func() { ft.Arm(d) })
	r.flushed(t, "armed again")
}

func TestFlushTimerDisarmedNeverFlushes(t *testing.T) {
	r, ft := newTimerRig()
	r.locked(func() {
		ft.Arm(20 * time.Millisecond)
		ft.Disarm()
		if ft.Armed() {
			t.Error("Armed() true after Disarm")
		}
	})
	r.quiet(t, 80*time.Millisecond, "disarmed")
}

// A firing meant for a block already sent must not flush the next block
// early: re-arming moves the deadline.
func TestFlushTimerRearmMovesTheDeadline(t *testing.T) {
	r, ft := newTimerRig()
	r.locked(func() { ft.Arm(20 * time.Millisecond) })
	time.Sleep(10 * time.Millisecond)
	var rearmed time.Time
	const d = 60 * time.Millisecond
	r.locked(func() {
		ft.Disarm() // the first block went out by size
		rearmed = time.Now()
		ft.Arm(d) // the next block's first frame
	})
	at := r.flushed(t, "re-armed")
	if at.Sub(rearmed) < d {
		t.Errorf("flushed %v after the re-arm, before its %v delay (the first deadline's firing flushed it)", at.Sub(rearmed), d)
	}
	r.quiet(t, 2*d, "after the one flush")
}

func TestFlushTimerClosedStaysQuiet(t *testing.T) {
	r, ft := newTimerRig()
	r.locked(func() {
		ft.Arm(10 * time.Millisecond)
		ft.Close()
	})
	r.quiet(t, 50*time.Millisecond, "closed while armed")
	r.locked(func() {
		ft.Arm(time.Millisecond)
		if ft.Armed() {
			t.Error("Arm after Close armed the timer")
		}
	})
	r.quiet(t, 30*time.Millisecond, "armed after Close")
}

func TestFlushTimerArmAllocatesNothingOnceCreated(t *testing.T) {
	r, ft := newTimerRig()
	r.locked(func() { ft.Arm(time.Hour) })
	allocs := testing.AllocsPerRun(100, func() {
		r.locked(func() {
			ft.Disarm()
			ft.Arm(time.Hour)
		})
	})
	if allocs != 0 {
		t.Errorf("Arm allocates %v times per block", allocs)
	}
	r.locked(ft.Close)
}

func TestNewFlushTimerPanicsOnMisuse(t *testing.T) {
	for name, f := range map[string]func(){
		"no lock":  func() { sim.NewFlushTimer(nil, func() {}) },
		"no flush": func() { sim.NewFlushTimer(&sync.Mutex{}, nil) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", name)
				}
			}()
			f()
		}()
	}
}
