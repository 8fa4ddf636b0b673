package gousb

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"dongle/hw"
)

// fakeXfersOf is the fake seam behind an endpoint of the default path.
func fakeXfersOf(ep *Endpoint) *fakeXfers { return ep.async.x.(*fakeXfers) }

// waitKept waits until x keeps n completions for a reap.
func waitKept(t *testing.T, x *fakeXfers, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for x.keptLen() != n {
		if time.Now().After(deadline) {
			t.Fatalf("%d completions kept after 5s, want %d", x.keptLen(), n)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestWakeOncePerBatch: the backend calls into Go for the first completion
// after the endpoint has taken everything, not for each one. 20 transfers
// that complete while nobody reaps make one call of wake and one of
// Notify's fn; a poll takes all 20 and arms again, so the next transfer
// makes one call more. An endpoint that woke per completion makes 20, one
// that never armed again makes none for the 21st.
func TestWakeOncePerBatch(t *testing.T) {
	ep, done := openFakeOut(t, 32, false)
	defer done()
	x := fakeXfersOf(ep)
	var calls atomic.Int64
	ep.Notify(func() { calls.Add(1) })
	const n = 20
	ts := make([]hw.Transfer, n+1)
	for i := range n {
		ts[i] = hw.Transfer{Buf: make([]byte, 64), Cookie: i}
		if err := ep.Submit(&ts[i]); err != nil {
			t.Fatal(err)
		}
		// Each completes before the next Submit, which reaps it: a
		// Submit that armed after its reap would make the next one call.
		waitKept(t, x, 1)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		ep.mu.Lock()
		ep.async.reapLocked()
		done := ep.ring[(ep.tail-1)&uint(len(ep.ring)-1)].done
		ep.mu.Unlock()
		if done {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("20 transfers not all complete after 5s")
		}
		time.Sleep(time.Millisecond)
	}
	if w, c := x.wakes.Load(), calls.Load(); w != 1 || c != 1 {
		t.Fatalf("20 completions with nobody reaping: %d wakes, %d calls of fn; want 1 and 1", w, c)
	}
	out := make([]*hw.Transfer, n+1)
	k, err := ep.WaitBatch(polled, out)
	if k != n || err != nil {
		t.Fatalf("poll: %d, %v; want %d, nil", k, err, n)
	}
	ts[n] = hw.Transfer{Buf: make([]byte, 64), Cookie: n}
	if err := ep.Submit(&ts[n]); err != nil {
		t.Fatal(err)
	}
	for calls.Load() != 2 {
		if time.Now().After(deadline) {
			t.Fatalf("the transfer after a poll took everything: %d calls of fn, want 2", calls.Load())
		}
		time.Sleep(time.Millisecond)
	}
	if got, err := ep.Wait(context.Background()); err != nil || got != &ts[n] {
		t.Fatalf("Wait: %v, %v", got, err)
	}
	if w := x.wakes.Load(); w != 2 {
		t.Fatalf("%d wakes for two batches, want 2", w)
	}
}

// polled is a done context: WaitBatch with it is a poll.
var polled = func() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}()

// TestArmRace: a completion kept after the endpoint's reap but before its
// arm calls nothing (the backend saw the endpoint unarmed), so the arm
// must find it and the poll take it. An endpoint that trusted its earlier
// reap would answer "pending" and never hear of the transfer again.
func TestArmRace(t *testing.T) {
	ep, done := openFakeOut(t, 4, false)
	defer done()
	x := fakeXfersOf(ep)
	p := ep.dev.h.(*fakeHandle).dev.pipes[0x02]
	p.mu.Lock()
	p.block = true // completes only when cancelled
	p.mu.Unlock()
	tr := hw.Transfer{Buf: make([]byte, 8)}
	if err := ep.Submit(&tr); err != nil {
		t.Fatal(err)
	}
	x.armed.Store(false) // as after a wake the endpoint has not followed up yet
	var once bool
	kept := true
	x.beforeArm = func() {
		if once {
			return
		}
		once = true
		ep.async.cancelLocked() // the fake completes it on its event goroutine
		// Not waitKept: a failure must not stop the test with e.mu held.
		for deadline := time.Now().Add(5 * time.Second); x.keptLen() != 1; time.Sleep(time.Millisecond) {
			if time.Now().After(deadline) {
				kept = false
				return
			}
		}
	}
	out := make([]*hw.Transfer, 4)
	k, err := ep.WaitBatch(polled, out)
	if !kept {
		t.Fatal("the cancelled transfer was not kept within 5s")
	}
	if k != 1 || out[0] != &tr {
		t.Fatalf("poll with a completion kept between reap and arm: %d, %v; want the transfer", k, err)
	}
	if !errors.Is(tr.Err, hw.ErrCancelled) {
		t.Fatalf("transfer: %v, want ErrCancelled", tr.Err)
	}
	if w := x.wakes.Load(); w != 0 {
		t.Fatalf("%d wakes; the test needs the completion to have called nothing", w)
	}
}

// blockedOut is an OUT endpoint of the fake whose transfers complete only
// when cancelled, and the fake behind it.
func blockedOut(t *testing.T) (*Endpoint, *fakeXfers, func()) {
	ep, done := openFakeOut(t, 4, false)
	p := ep.dev.h.(*fakeHandle).dev.pipes[0x02]
	p.mu.Lock()
	p.block = true
	p.mu.Unlock()
	return ep, fakeXfersOf(ep), done
}

// cancelOne completes the in-flight transfer at ring index i (cancelled),
// as the OS would, without Cancel's other effects.
func cancelOne(ep *Endpoint, i uint) {
	ep.mu.Lock()
	defer ep.mu.Unlock()
	for k, b := range ep.async.busy {
		if b && ep.async.carried[k] == i {
			ep.async.x.cancel(k)
			return
		}
	}
	panic("no xfer carries that transfer")
}

// twoWaiters submits two transfers and starts two goroutines that Wait
// (up to 5 s) and send what they got on res. It returns once both have
// armed the xfers: each has found nothing to take and is about to sleep.
func twoWaiters(t *testing.T, ep *Endpoint) (t0, t1 *hw.Transfer, res chan *hw.Transfer) {
	t.Helper()
	x := fakeXfersOf(ep)
	arms := x.arms.Load()
	t0, t1 = &hw.Transfer{Buf: make([]byte, 8)}, &hw.Transfer{Buf: make([]byte, 8)}
	for _, tr := range []*hw.Transfer{t0, t1} {
		if err := ep.Submit(tr); err != nil {
			t.Fatal(err)
		}
	}
	res = make(chan *hw.Transfer, 2)
	for range 2 {
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			got, _ := ep.Wait(ctx)
			res <- got
		}()
	}
	for deadline := time.Now().Add(5 * time.Second); x.arms.Load() < arms+2; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the two waiters armed %d times in 5s, want 2", x.arms.Load()-arms)
		}
	}
	return t0, t1, res
}

// TestTwoWaiters: two goroutines wait; the first takes T0 with out full
// (room for one) while T1 is pending, so it must arm: T1's completion then
// wakes the second. An endpoint that armed only when out had room left
// would leave the second asleep until its context ends.
func TestTwoWaiters(t *testing.T) {
	ep, _, done := blockedOut(t)
	defer done()
	t0, t1, res := twoWaiters(t, ep)
	cancelOne(ep, 0)
	if got := <-res; got != t0 {
		t.Fatalf("first waiter: %v, want T0", got)
	}
	cancelOne(ep, 1)
	if got := <-res; got != t1 {
		t.Fatalf("second waiter: %v, want T1 (its wake-up was lost)", got)
	}
}

// TestNotifyAfterWait: a Wait that emptied the endpoint took the wake-up
// of its completion; a fn set after it must still hear of the next one.
// And a fn set while a completion waits to be taken is called at once.
func TestNotifyAfterWait(t *testing.T) {
	ep, done := openFakeOut(t, 4, false)
	defer done()
	t0 := &hw.Transfer{Buf: make([]byte, 8)}
	if err := ep.Submit(t0); err != nil {
		t.Fatal(err)
	}
	if got, err := ep.Wait(context.Background()); got != t0 || err != nil {
		t.Fatalf("Wait: %v, %v", got, err)
	}
	kick := make(chan struct{}, 1)
	ep.Notify(func() {
		select {
		case kick <- struct{}{}:
		default:
		}
	})
	t1 := &hw.Transfer{Buf: make([]byte, 8)}
	if err := ep.Submit(t1); err != nil {
		t.Fatal(err)
	}
	select {
	case <-kick:
	case <-time.After(5 * time.Second):
		t.Fatal("fn not called for a completion after a Wait that left nothing in flight")
	}
	if got, err := ep.Wait(context.Background()); got != t1 || err != nil {
		t.Fatalf("Wait: %v, %v", got, err)
	}

	// A completion that woke the old fn and is not yet taken, then a new
	// fn: the old one had the wake-up (the xfers are disarmed), so the
	// new one is called at once, by Notify itself.
	t2 := &hw.Transfer{Buf: make([]byte, 8)}
	if err := ep.Submit(t2); err != nil {
		t.Fatal(err)
	}
	select {
	case <-kick:
	case <-time.After(5 * time.Second):
		t.Fatal("the old fn not called for t2")
	}
	var calls atomic.Int64
	ep.Notify(func() { calls.Add(1) })
	if calls.Load() != 1 {
		t.Fatalf("fn set with a completion waiting: %d calls, want 1 at once", calls.Load())
	}
	if got, err := ep.Wait(context.Background()); got != t2 || err != nil {
		t.Fatalf("Wait: %v, %v", got, err)
	}
}

// TestWaitAfterClose: a closed endpoint's transfers are freed, so Wait
// and a poll answer from the queue alone (ErrNotFound: nothing in
// flight), touching nothing of the backend's.
func TestWaitAfterClose(t *testing.T) {
	ep, done := openFakeOut(t, 4, false)
	tr := &hw.Transfer{Buf: make([]byte, 8)}
	if err := ep.Submit(tr); err != nil {
		t.Fatal(err)
	}
	if _, err := ep.Wait(context.Background()); err != nil {
		t.Fatal(err)
	}
	done() // Close
	out := make([]*hw.Transfer, 1)
	if _, err := ep.WaitBatch(polled, out); !errors.Is(err, hw.ErrNotFound) {
		t.Fatalf("poll after Close: %v, want ErrNotFound", err)
	}
	if _, err := ep.Wait(context.Background()); !errors.Is(err, hw.ErrNotFound) {
		t.Fatalf("Wait after Close: %v, want ErrNotFound", err)
	}
	ep.Notify(func() {}) // arms nothing: the transfers are freed
}

// TestFullOutWakesNextWaiter: two transfers completed with one wake-up
// between them (the second found the ring unarmed); the waiter that gets
// it takes one (room for one) and must pass the wake-up on for the other,
// which no completion will announce again.
func TestFullOutWakesNextWaiter(t *testing.T) {
	ep, x, done := blockedOut(t)
	defer done()
	t0, t1, res := twoWaiters(t, ep)
	x.armed.Store(false) // both waiters armed it: now neither completion calls wake
	cancelOne(ep, 0)
	cancelOne(ep, 1)
	waitKept(t, x, 2)
	ep.mu.Lock()
	ep.wakeWaiter() // the one wake-up both completions share
	ep.mu.Unlock()
	got := map[*hw.Transfer]bool{}
	for range 2 {
		got[<-res] = true
	}
	if !got[t0] || !got[t1] {
		t.Fatalf("the waiters got %v; want T0 and T1 (the second waiter was not woken for what the first left)", got)
	}
}
