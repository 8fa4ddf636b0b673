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
