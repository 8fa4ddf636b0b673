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
	}
	// Submit reaps too, so the last completions may be reaped by the
	// last Submits: wait for the rest to be kept, then look.
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
	x.beforeArm = func() {
		if once {
			return
		}
		once = true
		ep.async.cancelLocked() // the fake completes it on its event goroutine
		waitKept(t, x, 1)
	}
	out := make([]*hw.Transfer, 4)
	k, err := ep.WaitBatch(polled, out)
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
