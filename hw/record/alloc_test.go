package record_test

import (
	"context"
	"io"
	"testing"

	"dongle/hw"
	"dongle/hw/record"
	"dongle/hw/record/recordtest"
	"dongle/hw/sim"
)

// openOut records a device that takes bulk OUT transfers and does nothing
// with them (so what is measured is the recorder's) to io.Discard, and
// opens its bulk OUT endpoint; cleanup closes everything.
func openOut(tb testing.TB) hw.Endpoint {
	tb.Helper()
	dev := sim.New(&sim.Static{Device: recordtest.DeviceDescriptor, Configs: [][]byte{recordtest.Config}}, hw.Info{Backend: "sim:sink"})
	rec, err := record.New(dev, io.Discard, record.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	if err := rec.Claim(0); err != nil {
		tb.Fatal(err)
	}
	out, err := rec.OpenEndpoint(0x02)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := out.Close(); err != nil {
			tb.Error(err)
		}
		if err := rec.Release(0); err != nil {
			tb.Error(err)
		}
		if err := rec.Close(); err != nil {
			tb.Error(err)
		}
	})
	return out
}

// BenchmarkWait: one 60-byte bulk OUT transfer submitted and reaped with
// Wait through the recorder (an 'S' and a 'C' record each).
func BenchmarkWait(b *testing.B) {
	out := openOut(b)
	t := &hw.Transfer{Buf: make([]byte, 60)}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if err := out.Submit(t); err != nil {
			b.Fatal(err)
		}
		if _, err := out.Wait(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

// batchSize is how many transfers BenchmarkWaitBatch and the allocation
// test have in flight per WaitBatch.
const batchSize = 8

// submitBatch submits ts and reaps them with one WaitBatch into out.
func submitBatch(tb testing.TB, ep hw.Endpoint, ts, out []*hw.Transfer) {
	for _, t := range ts {
		if err := ep.Submit(t); err != nil {
			tb.Fatal(err)
		}
	}
	if n, err := ep.WaitBatch(context.Background(), out); err != nil || n != len(ts) {
		tb.Fatalf("WaitBatch: %d, %v; want %d", n, err, len(ts))
	}
}

func transfers(n int) []*hw.Transfer {
	ts := make([]*hw.Transfer, n)
	for i := range ts {
		ts[i] = &hw.Transfer{Buf: make([]byte, 60)}
	}
	return ts
}

// BenchmarkWaitBatch: batchSize 60-byte bulk OUT transfers submitted and
// reaped with one WaitBatch through the recorder; ns/op is per batch.
func BenchmarkWaitBatch(b *testing.B) {
	out := openOut(b)
	ts, got := transfers(batchSize), make([]*hw.Transfer, batchSize)
	b.ReportAllocs()
	for b.Loop() {
		submitBatch(b, out, ts, got)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*batchSize), "ns/transfer")
}

// TestAllocs: once warm, recording a transfer allocates nothing, reaped
// by Wait or in a batch: the id FIFO reuses its array and the records
// are built on the stack.
func TestAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are meaningless under -race (the race runtime allocates on its own); the run without -race checks them")
	}
	out := openOut(t)
	one := transfers(1)[0]
	ctx := context.Background()
	wait := func() {
		if err := out.Submit(one); err != nil {
			t.Fatal(err)
		}
		if _, err := out.Wait(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if a := testing.AllocsPerRun(200, wait); a != 0 {
		t.Errorf("Submit+Wait: %v allocs, want 0", a)
	}
	ts, got := transfers(batchSize), make([]*hw.Transfer, batchSize)
	if a := testing.AllocsPerRun(200, func() { submitBatch(t, out, ts, got) }); a != 0 {
		t.Errorf("%d Submits + WaitBatch: %v allocs, want 0", batchSize, a)
	}
	// A transfer always in flight: the FIFO never empties, so it compacts
	// instead of growing.
	x, y := transfers(1)[0], one
	if err := out.Submit(x); err != nil {
		t.Fatal(err)
	}
	if a := testing.AllocsPerRun(200, func() {
		if err := out.Submit(y); err != nil {
			t.Fatal(err)
		}
		if n, err := out.WaitBatch(ctx, got[:1]); err != nil || n != 1 || got[0] != x {
			t.Fatalf("WaitBatch(room for 1): %d, %v; want the older transfer", n, err)
		}
		x, y = y, x
	}); a != 0 {
		t.Errorf("Submit+WaitBatch with a transfer always in flight: %v allocs, want 0", a)
	}
	if _, err := out.Wait(ctx); err != nil {
		t.Fatal(err)
	}
}
