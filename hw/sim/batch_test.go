package sim_test

import (
	"context"
	"errors"
	"testing"

	"dongle/hw"
)

// TestWaitBatch: WaitBatch takes the run of completed transfers at the
// head, oldest first, up to len(out), stops at the first one pending, and
// leaves it in flight when ctx ends; Reaps and LeftDone count what the
// calls did.
func TestWaitBatch(t *testing.T) {
	b := newBulk(t, 64)
	for i := range 3 {
		if err := b.Host().SendIn(epIn, []byte{byte(i)}); err != nil { // queued in the FIFO: no transfer yet
			t.Fatal(err)
		}
	}
	trs := make([]*hw.Transfer, 4)
	for i := range trs {
		trs[i] = &hw.Transfer{Buf: make([]byte, 64)}
		if err := b.in.Submit(trs[i]); err != nil { // the first 3 complete at once from the FIFO
			t.Fatal(err)
		}
	}
	check := func(what string, out []*hw.Transfer, want []*hw.Transfer, reaps, left uint64) {
		t.Helper()
		for i, tr := range want {
			if out[i] != tr {
				t.Fatalf("%s: out[%d] is not transfer %d", what, i, i)
			}
			if tr.Err != nil || tr.N != 1 || tr.Buf[0] != byte(indexOf(trs, tr)) {
				t.Fatalf("%s: transfer %d: N=%d Err=%v data %v", what, indexOf(trs, tr), tr.N, tr.Err, tr.Data())
			}
		}
		if s := b.Stats(epIn); s.Reaps != reaps || s.LeftDone != left {
			t.Errorf("%s: Reaps %d LeftDone %d, want %d %d", what, s.Reaps, s.LeftDone, reaps, left)
		}
	}

	out := make([]*hw.Transfer, 8)
	if n, err := b.in.WaitBatch(ctxT(t), out[:2]); err != nil || n != 2 {
		t.Fatalf("WaitBatch(room 2) with 3 done: %d, %v; want 2", n, err)
	}
	check("room 2", out, trs[:2], 1, 1)
	clear(out)
	if n, err := b.in.WaitBatch(ctxT(t), out); err != nil || n != 1 {
		t.Fatalf("WaitBatch(room 8) with 1 done and 1 pending: %d, %v; want 1", n, err)
	}
	check("room 8", out, trs[2:3], 2, 1)
	if out[1] != nil {
		t.Errorf("WaitBatch wrote past the transfer it returned")
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if n, err := b.in.WaitBatch(ctx, out); n != 0 || !errors.Is(err, context.Canceled) {
		t.Fatalf("WaitBatch(cancelled ctx) with only a pending transfer: %d, %v; want 0, context.Canceled", n, err)
	}
	if b.in.InFlight() != 1 {
		t.Fatalf("InFlight %d after WaitBatch gave up, want 1", b.in.InFlight())
	}
	if err := b.Host().SendIn(epIn, []byte{3}); err != nil {
		t.Fatal(err)
	}
	if got, err := b.in.Wait(ctxT(t)); err != nil || got != trs[3] {
		t.Fatalf("Wait: %v, %v; want transfer 3", got, err)
	}
	check("Wait", []*hw.Transfer{trs[3]}, trs[3:], 3, 1)
	if n, err := b.in.WaitBatch(ctxT(t), out); n != 0 || !errors.Is(err, hw.ErrNotFound) {
		t.Errorf("WaitBatch with nothing in flight: %d, %v; want 0, ErrNotFound", n, err)
	}
}

func indexOf(ts []*hw.Transfer, t *hw.Transfer) int {
	for i, x := range ts {
		if x == t {
			return i
		}
	}
	return -1
}
