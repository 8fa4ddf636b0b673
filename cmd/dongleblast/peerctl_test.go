package main

import (
	"sync/atomic"
	"testing"
	"time"
)

// TestWaitRXWaitsForALateFirstFrame: frames that reach the counter only
// after the sender is done (the kernel's driver behind a model under
// TCG) are counted, not reported lost.
func TestWaitRXWaitsForALateFirstFrame(t *testing.T) {
	blast := make(chan blastResult, 1)
	blast <- blastResult{sent: 500}
	t0 := time.Now()
	count := func() uint64 {
		if time.Since(t0) < 300*time.Millisecond {
			return 0
		}
		return 500
	}
	got, first, last, _, br := waitRX(count, 500, blast, 10*time.Second)
	if got != 500 || first.IsZero() || last.IsZero() || br.sent != 500 {
		t.Fatalf("got %d (first %v last %v), blast %+v: want all 500 frames that came 300 ms after the blast", got, first, last, br)
	}
}

// TestWaitRXGivesUpOnNoFrame: with nothing arriving, it ends
// firstFrameWait after the blast, long before the timeout.
func TestWaitRXGivesUpOnNoFrame(t *testing.T) {
	defer func(w time.Duration) { firstFrameWait = w }(firstFrameWait)
	firstFrameWait = 200 * time.Millisecond
	blast := make(chan blastResult, 1)
	blast <- blastResult{sent: 10}
	var polls atomic.Int64
	t0 := time.Now()
	got, first, _, _, _ := waitRX(func() uint64 { polls.Add(1); return 0 }, 10, blast, 10*time.Second)
	el := time.Since(t0)
	if got != 0 || !first.IsZero() || el < 200*time.Millisecond || el > 5*time.Second {
		t.Fatalf("got %d in %v: want 0 after about 200 ms", got, el)
	}
	if polls.Load() < 10 {
		t.Errorf("only %d polls", polls.Load())
	}
}
