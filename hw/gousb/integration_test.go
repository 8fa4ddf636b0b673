package gousb_test

import (
	"context"
	"errors"
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
// virtual-lab) adapter. Set DONGLE_LOOPBACK=1 when frames sent on bulk OUT
// come back on bulk IN (the lab's pktecho/hostecho setups).
func TestConformance(t *testing.T) {
	ctx, sel := firstAdapter(t)
	opts := hwtest.Options{
		NoLoopback: "no loopback peer (set DONGLE_LOOPBACK=1 when the lab echoes frames)",
		NoFaults:   "a real device cannot be told to stall, time out or unplug",
	}
	if os.Getenv("DONGLE_LOOPBACK") == "1" {
		opts.NoLoopback = ""
	}
	hwtest.Run(t, func(t *testing.T) hw.Device {
		d, err := ctx.OpenDevice(sel, nil)
		if err != nil {
			t.Fatalf("open %s: %v", sel, err)
		}
		return d
	}, opts)
}

// BenchmarkRealBulkOut measures 1514-byte bulk OUT transfers through the
// whole real path (queue + gousb + libusb), 8 in flight: ns/op is per
// frame, allocs/op is gousb's per-transfer cost (this package adds none).
func BenchmarkRealBulkOut(b *testing.B) {
	ctx, sel := firstAdapter(b)
	d, err := ctx.OpenDevice(sel, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer d.Close()
	cfg, err := hw.ReadConfig(context.Background(), d, 0)
	if err != nil {
		b.Fatal(err)
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
		b.Skip("no bulk OUT endpoint in configuration 1")
	}
	if err := d.Claim(iface); err != nil {
		b.Fatal(err)
	}
	defer d.Release(iface)
	if err := d.SetAlt(iface, alt); err != nil {
		b.Fatal(err)
	}
	ep, err := d.OpenEndpoint(out.Address)
	if err != nil {
		b.Fatal(err)
	}
	defer ep.Close()
	ts := make([]hw.Transfer, 8)
	for i := range ts {
		ts[i].Buf = make([]byte, 1514)
		copy(ts[i].Buf, []byte{0x02, 0, 0, 0x11, 0x22, 0x33, 0x02, 0, 0, 0xaa, 0xbb, 0xcc, 0x88, 0xb5})
		if err := ep.Submit(&ts[i]); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.SetBytes(1514)
	b.ResetTimer()
	for range b.N {
		t, err := ep.Wait(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		if t.Err != nil && !errors.Is(t.Err, hw.ErrCancelled) {
			b.Fatal(t.Err)
		}
		if err := ep.Submit(t); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	ep.Cancel()
	for ep.InFlight() > 0 {
		ep.Wait(context.Background())
	}
}
