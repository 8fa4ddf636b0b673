package record

import (
	"context"
	"io"
	"testing"

	"dongle/hw"
	"dongle/hw/record/recordtest"
)

// TestPendingStaysBounded: with a transfer always in flight the id FIFO
// never empties, so it must compact (not grow) when its array is full:
// its capacity stays that of the most transfers ever in flight at once.
func TestPendingStaysBounded(t *testing.T) {
	rec, err := New(recordtest.NewEcho(), io.Discard, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := rec.Claim(0); err != nil {
		t.Fatal(err)
	}
	ep, err := rec.OpenEndpoint(0x02)
	if err != nil {
		t.Fatal(err)
	}
	e := ep.(*Endpoint)
	x, y := &hw.Transfer{Buf: make([]byte, 60)}, &hw.Transfer{Buf: make([]byte, 60)}
	if err := e.Submit(x); err != nil {
		t.Fatal(err)
	}
	out := make([]*hw.Transfer, 1)
	for range 1000 {
		if err := e.Submit(y); err != nil {
			t.Fatal(err)
		}
		if n, err := e.WaitBatch(context.Background(), out); err != nil || n != 1 || out[0] != x {
			t.Fatalf("WaitBatch: %d, %v; want the older transfer", n, err)
		}
		x, y = y, x
	}
	if c := cap(e.pending); c > 4 {
		t.Errorf("the id FIFO's capacity grew to %d with at most 2 transfers in flight", c)
	}
	if _, err := e.Wait(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	if err := rec.Release(0); err != nil {
		t.Fatal(err)
	}
	if err := rec.Close(); err != nil {
		t.Fatal(err)
	}
}
