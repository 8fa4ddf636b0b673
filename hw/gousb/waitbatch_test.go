package gousb

import (
	"context"
	"errors"
	"testing"
	"time"

	"dongle/hw"
)

// TestWaitBatch: WaitBatch returns completed transfers oldest first, never
// more than out holds, every transfer exactly once, and Wait's errors when
// nothing is in flight or the context ends first.
func TestWaitBatch(t *testing.T) {
	for _, sync := range []bool{false, true} {
		ep, done := openFakeOut(t, 8, sync)
		const n = 50
		ts := make([]hw.Transfer, n)
		for i := range ts {
			ts[i] = hw.Transfer{Buf: make([]byte, 64), Cookie: i}
			if err := ep.Submit(&ts[i]); err != nil {
				t.Fatal(err)
			}
		}
		out := make([]*hw.Transfer, 7)
		next, calls := 0, 0
		for next < n {
			k, err := ep.WaitBatch(context.Background(), out)
			if err != nil {
				t.Fatalf("sync=%v: WaitBatch after %d: %v", sync, next, err)
			}
			if k < 1 || k > len(out) {
				t.Fatalf("sync=%v: WaitBatch returned %d transfers, want 1..%d", sync, k, len(out))
			}
			for _, tr := range out[:k] {
				if tr != &ts[next] {
					t.Fatalf("sync=%v: got transfer %v, want %d (submission order)", sync, tr.Cookie, next)
				}
				if tr.Err != nil || tr.N != 64 {
					t.Fatalf("sync=%v: transfer %d: N %d err %v", sync, next, tr.N, tr.Err)
				}
				next++
			}
			calls++
		}
		if ep.InFlight() != 0 {
			t.Fatalf("sync=%v: %d still in flight", sync, ep.InFlight())
		}
		if _, err := ep.WaitBatch(context.Background(), out); !errors.Is(err, hw.ErrNotFound) {
			t.Fatalf("sync=%v: WaitBatch with nothing in flight: %v, want ErrNotFound", sync, err)
		}
		t.Logf("sync=%v: %d transfers in %d WaitBatch calls", sync, n, calls)
		done()
	}
}

// TestWaitBatchTakesAllDone tells WaitBatch from a loop of Wait: with all
// 8 submitted transfers already complete, one WaitBatch with room for 7
// returns exactly 7 (an implementation returning one per call fails here)
// and the next returns the last one.
func TestWaitBatchTakesAllDone(t *testing.T) {
	for _, sync := range []bool{false, true} {
		ep, done := openFakeOut(t, 8, sync)
		ts := make([]hw.Transfer, 8)
		for i := range ts {
			ts[i] = hw.Transfer{Buf: make([]byte, 64), Cookie: i}
			if err := ep.Submit(&ts[i]); err != nil {
				t.Fatal(err)
			}
		}
		allDone := func() bool {
			ep.mu.Lock()
			defer ep.mu.Unlock()
			if ep.async != nil {
				ep.async.reapLocked() // what the OS completed, the endpoint has not yet looked at
			}
			mask := uint(len(ep.ring) - 1)
			for i := ep.head; i != ep.tail; i++ {
				if !ep.ring[i&mask].done {
					return false
				}
			}
			return ep.tail-ep.head == uint(len(ts))
		}
		deadline := time.Now().Add(5 * time.Second)
		for !allDone() {
			if time.Now().After(deadline) {
				t.Fatalf("sync=%v: transfers not all done after 5s", sync)
			}
			time.Sleep(time.Millisecond)
		}
		out := make([]*hw.Transfer, 7)
		k, err := ep.WaitBatch(context.Background(), out)
		if err != nil || k != 7 {
			t.Fatalf("sync=%v: first WaitBatch: %d, %v; want 7, nil", sync, k, err)
		}
		for i, tr := range out[:k] {
			if tr != &ts[i] {
				t.Fatalf("sync=%v: out[%d] is transfer %v, want %d", sync, i, tr.Cookie, i)
			}
		}
		k, err = ep.WaitBatch(context.Background(), out)
		if err != nil || k != 1 || out[0] != &ts[7] {
			t.Fatalf("sync=%v: second WaitBatch: %d, %v; want 1 (transfer 7), nil", sync, k, err)
		}
		if ep.InFlight() != 0 {
			t.Fatalf("sync=%v: %d still in flight", sync, ep.InFlight())
		}
		done()
	}
}

// TestWaitBatchContext: a context that ends first leaves the transfer in
// flight, to be reaped later.
func TestWaitBatchContext(t *testing.T) {
	ep, done := openFakeOut(t, 4, false)
	defer done()
	p := ep.dev.h.(*fakeHandle).dev.pipes[0x02]
	p.mu.Lock()
	p.block = true
	p.mu.Unlock()
	var tr hw.Transfer
	tr.Buf = make([]byte, 8)
	if err := ep.Submit(&tr); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	out := make([]*hw.Transfer, 4)
	if _, err := ep.WaitBatch(ctx, out); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("WaitBatch: %v, want DeadlineExceeded", err)
	}
	if ep.InFlight() != 1 {
		t.Fatalf("InFlight %d, want 1", ep.InFlight())
	}
	ep.Cancel()
	k, err := ep.WaitBatch(context.Background(), out)
	if err != nil || k != 1 || out[0] != &tr || !errors.Is(tr.Err, hw.ErrCancelled) {
		t.Fatalf("after Cancel: k %d err %v transfer err %v", k, err, tr.Err)
	}
}

// TestWaitBatchAllocs: a Submit/WaitBatch round allocates nothing.
func TestWaitBatchAllocs(t *testing.T) {
	ep, done := openFakeOut(t, 8, false)
	defer done()
	ts := make([]hw.Transfer, 8)
	for i := range ts {
		ts[i].Buf = make([]byte, 64)
	}
	out := make([]*hw.Transfer, 8)
	ctx := context.Background()
	round := func() {
		for i := range ts {
			if err := ep.Submit(&ts[i]); err != nil {
				t.Fatal(err)
			}
		}
		for got := 0; got < len(ts); {
			k, err := ep.WaitBatch(ctx, out)
			if err != nil {
				t.Fatal(err)
			}
			got += k
		}
	}
	round() // grow the ring
	if a := testing.AllocsPerRun(100, round); a != 0 {
		t.Fatalf("Submit+WaitBatch: %v allocs per round, want 0", a)
	}
}
