package sim_test

import (
	"context"
	"testing"

	"dongle/hw"
	"dongle/hw/sim"
	"dongle/hw/sim/ecm"
)

// TestZeroAllocsPerTransfer proves the per-transfer paths allocate nothing
// in steady state: device write + host IN transfer, host OUT transfer with
// delivery to the model, and several transfers in flight.
func TestZeroAllocsPerTransfer(t *testing.T) {
	b := newBulk(t, 64)
	h := b.Host()
	frame := pattern(1000, 1)
	in := &hw.Transfer{Buf: make([]byte, 2048)}
	out := &hw.Transfer{Buf: frame}
	ctx := context.Background()
	b.model.OutFunc = func(uint8, []byte) {}
	in4 := []*hw.Transfer{{Buf: make([]byte, 2048)}, {Buf: make([]byte, 2048)}, {Buf: make([]byte, 2048)}, {Buf: make([]byte, 2048)}}
	for name, f := range map[string]func(){
		"IN": func() {
			_ = h.SendIn(epIn, frame)
			_ = b.in.Submit(in)
			if t, _ := b.in.Wait(ctx); t.N != 1000 {
				panic("short")
			}
		},
		"OUT": func() {
			_ = b.out.Submit(out)
			_, _ = b.out.Wait(ctx)
		},
		"IN4": func() {
			for _, tr := range in4 {
				_ = b.in.Submit(tr)
			}
			for range in4 {
				_ = h.SendInZLP(epIn, frame)
			}
			for range in4 {
				_, _ = b.in.Wait(ctx)
			}
		},
	} {
		f() // warm up: rings and buffers reach their size
		if n := testing.AllocsPerRun(200, f); n != 0 {
			t.Errorf("%s: %v allocs per run, want 0", name, n)
		}
	}
}

// TestZeroAllocsECMRoundTrip: bulk OUT through the ECM model, a loopback
// wire, and back on bulk IN, allocates nothing.
func TestZeroAllocsECMRoundTrip(t *testing.T) {
	rt := newRoundTrip(t)
	rt.once()
	if n := testing.AllocsPerRun(200, rt.once); n != 0 {
		t.Errorf("%v allocs per round trip, want 0", n)
	}
}

type roundTrip struct {
	in, out hw.Endpoint
	tin     *hw.Transfer
	tout    *hw.Transfer
}

func newRoundTrip(t testing.TB) *roundTrip {
	d, m := ecm.NewDevice(ecm.Options{})
	w := sim.NewWire()
	m.Connect(w.A())
	sim.NewLoopback(w.B())
	if err := d.Claim(1); err != nil {
		t.Fatal(err)
	}
	if err := d.SetAlt(1, 1); err != nil {
		t.Fatal(err)
	}
	in, _ := d.OpenEndpoint(ecm.EpIn)
	out, _ := d.OpenEndpoint(ecm.EpOut)
	t.Cleanup(func() {
		_ = in.Close()
		_ = out.Close()
		_ = d.Release(1)
		_ = d.Close()
	})
	return &roundTrip{in: in, out: out, tin: &hw.Transfer{Buf: make([]byte, 2048)},
		tout: &hw.Transfer{Buf: pattern(1514, 0xff)}}
}

func (r *roundTrip) once() {
	ctx := context.Background()
	_ = r.in.Submit(r.tin)
	_ = r.out.Submit(r.tout)
	_, _ = r.out.Wait(ctx)
	if t, _ := r.in.Wait(ctx); t.N != 1514 {
		panic("round trip lost the frame")
	}
}

// BenchmarkECMRoundTrip: one 1514-byte frame OUT through the ECM model to a
// loopback wire and back IN (full speed: 24 packets each way).
func BenchmarkECMRoundTrip(b *testing.B) {
	rt := newRoundTrip(b)
	b.ReportAllocs()
	b.SetBytes(1514)
	for b.Loop() {
		rt.once()
	}
}

// BenchmarkBulkIn: one device write and one host IN transfer.
func BenchmarkBulkIn(b *testing.B) {
	d := newBulk(b, 512)
	h := d.Host()
	frame := pattern(1514, 0)
	tr := &hw.Transfer{Buf: make([]byte, 2048)}
	ctx := context.Background()
	b.ReportAllocs()
	b.SetBytes(1514)
	for b.Loop() {
		if err := h.SendIn(epIn, frame); err != nil {
			b.Fatal(err)
		}
		if err := d.in.Submit(tr); err != nil {
			b.Fatal(err)
		}
		// Every round must move the whole frame, or the benchmark times
		// failures.
		if _, err := d.in.Wait(ctx); err != nil || tr.Err != nil || tr.N != len(frame) {
			b.Fatalf("IN transfer: %v %v, %d bytes of %d", err, tr.Err, tr.N, len(frame))
		}
	}
}
