package gousb_test

import (
	"context"
	"fmt"
	"os"
	"testing"

	"dongle/hw"
	usbhw "dongle/hw/gousb"
	"dongle/hw/hwtest"
)

// knownIDs are the vendor-class chips the integration test may use (the
// minidrivers' full tables live in usbnet/asix and usbnet/ax88179).
var knownIDs = []usbhw.ID{
	{0x0b95, 0x1790}, {0x0b95, 0x178a}, // AX88179, AX88178A
	{0x0b95, 0x772b}, {0x0b95, 0x7e2b}, // AX88772B
	{0x0b95, 0x7720}, {0x0b95, 0x772a}, // AX88772
	{0x0b95, 0x1780}, // AX88178
}

// firstAdapter opens libusb and finds the first supported USB network
// adapter (CDC ECM, or an ASIX chip by ID), or skips saying what it searched.
// DONGLE_USB_DEVICE=<selector> picks one explicitly.
func firstAdapter(tb testing.TB) (*usbhw.Context, usbhw.Selector) {
	tb.Helper()
	ctx, err := usbhw.Open()
	if err != nil {
		tb.Skipf("no USB network adapter found: libusb unavailable: %v", err)
	}
	tb.Cleanup(func() {
		if err := ctx.Close(); err != nil {
			tb.Errorf("closing the libusb context: %v", err)
		}
	})
	if s := os.Getenv("DONGLE_USB_DEVICE"); s != "" {
		sel, err := usbhw.ParseSelector(s)
		if err != nil {
			tb.Fatalf("DONGLE_USB_DEVICE: %v", err)
		}
		return ctx, sel
	}
	all, err := ctx.List(nil)
	if err != nil {
		tb.Fatalf("listing USB devices: %v", err)
	}
	var refused []string
	for _, c := range all {
		switch k := c.Kind(knownIDs); {
		case k.Supported():
			tb.Logf("using %s (%s)", c, k)
			return ctx, usbhw.Selector{Kind: usbhw.ByAddress, Bus: c.Bus, Address: c.Address}
		case k != usbhw.KindNone:
			refused = append(refused, fmt.Sprintf("%s is %s, not supported", c.Info.Name(), k))
		}
	}
	tb.Skipf("no USB network adapter found (searched %d devices for CDC ECM or ASIX %v; %v)", len(all), knownIDs, refused)
	return nil, usbhw.Selector{}
}

// TestConformance runs hw/hwtest's conformance set on the first real (or
// virtual-lab) adapter, on both transfer paths (the default asynchronous
// libusb transfers, and Options.Sync). Set DONGLE_LOOPBACK=1 when frames
// sent on bulk OUT come back on bulk IN (the lab's pktecho/hostecho setups).
func TestConformance(t *testing.T) {
	ctx, sel := firstAdapter(t)
	opts := hwtest.Options{
		NoLoopback: "no loopback peer (set DONGLE_LOOPBACK=1 when the lab echoes frames)",
		NoFaults:   "a real device cannot be told to stall, time out or unplug",
	}
	if os.Getenv("DONGLE_LOOPBACK") == "1" {
		opts.NoLoopback = ""
	}
	for _, mode := range []struct {
		name string
		sync bool
	}{{"async", false}, {"sync", true}} {
		t.Run(mode.name, func(t *testing.T) {
			hwtest.Run(t, func(t *testing.T) hw.Device {
				d, err := ctx.OpenDevice(sel, &usbhw.Options{Sync: mode.sync})
				if err != nil {
					t.Fatalf("open %s: %v", sel, err)
				}
				return d
			}, opts)
		})
	}
}

// openBulkOut opens the adapter's first bulk OUT endpoint (claiming its
// interface in the right alternate setting) and primes depth 1514-byte
// transfers; cleanup cancels, reaps and closes everything.
func openBulkOut(tb testing.TB, opts *usbhw.Options, depth int) (hw.Endpoint, []hw.Transfer) {
	ctx, sel := firstAdapter(tb)
	d, err := ctx.OpenDevice(sel, opts)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { d.Close() })
	cfg, err := hw.ReadConfig(context.Background(), d, 0)
	if err != nil {
		tb.Fatal(err)
	}
	var iface, alt int
	var out hw.EndpointDesc
	for _, in := range cfg.Interfaces {
		for _, a := range in.Alts {
			for _, e := range a.Endpoints {
				if !e.In() && e.Type() == hw.XferBulk && out.Address == 0 {
					iface, alt, out = int(in.Number), int(a.Alternate), e
				}
			}
		}
	}
	if out.Address == 0 {
		tb.Skip("no bulk OUT endpoint in configuration 1")
	}
	if err := d.Claim(iface); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { d.Release(iface) })
	if err := d.SetAlt(iface, alt); err != nil {
		tb.Fatal(err)
	}
	ep, err := d.OpenEndpoint(out.Address)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		ep.Cancel()
		for ep.InFlight() > 0 {
			ep.Wait(context.Background())
		}
		if err := ep.Close(); err != nil {
			tb.Error(err)
		}
	})
	ts := make([]hw.Transfer, depth)
	for i := range ts {
		ts[i].Buf = make([]byte, 1514)
		copy(ts[i].Buf, []byte{0x02, 0, 0, 0x11, 0x22, 0x33, 0x02, 0, 0, 0xaa, 0xbb, 0xcc, 0x88, 0xb5})
		if err := ep.Submit(&ts[i]); err != nil {
			tb.Fatal(err)
		}
	}
	return ep, ts
}

// cycle reaps the oldest transfer and submits it again.
func cycle(tb testing.TB, ep hw.Endpoint) {
	t, err := ep.Wait(context.Background())
	if err != nil {
		tb.Fatal(err)
	}
	if t.Err != nil {
		tb.Fatal(t.Err)
	}
	if err := ep.Submit(t); err != nil {
		tb.Fatal(err)
	}
}

// TestRealBulkOutAllocs proves the default path's per-transfer cost on the
// real libusb: Submit (libusb_submit_transfer on a persistent transfer),
// the C completion queue, the reaper and Wait allocate nothing in steady
// state.
func TestRealBulkOutAllocs(t *testing.T) {
	ep, _ := openBulkOut(t, nil, 8)
	for range 64 {
		cycle(t, ep)
	}
	if a := testing.AllocsPerRun(200, func() { cycle(t, ep) }); a != 0 {
		t.Fatalf("a bulk OUT transfer allocates %.2f times, want 0", a)
	}
}

// BenchmarkRealBulkOut measures 1514-byte bulk OUT transfers through the
// whole real path (queue + libusb), 8 in flight, on both paths: ns/op is
// per frame; allocs/op is 0 on the default path and gousb's per-transfer
// allocations with Sync.
func BenchmarkRealBulkOut(b *testing.B) {
	for _, mode := range []struct {
		name string
		sync bool
	}{{"async", false}, {"sync", true}} {
		b.Run(mode.name, func(b *testing.B) {
			ep, _ := openBulkOut(b, &usbhw.Options{Sync: mode.sync}, 8)
			b.ReportAllocs()
			b.SetBytes(1514)
			b.ResetTimer()
			for range b.N {
				cycle(b, ep)
			}
			b.StopTimer()
		})
	}
}
