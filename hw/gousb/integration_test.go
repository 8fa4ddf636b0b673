package gousb_test

import (
	"context"
	"maps"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"dongle/hw"
	usbhw "dongle/hw/gousb"
	"dongle/hw/hwtest"
)

// knownIDs are the vendor-class chips the integration test may use (the
// minidrivers' full tables live in usbnet/asix and usbnet/ax88179).
var knownIDs = []usbhw.ID{
	{Vendor: 0x0b95, Product: 0x1790}, {Vendor: 0x0b95, Product: 0x178a}, // AX88179, AX88178A
	{Vendor: 0x0b95, Product: 0x772b}, {Vendor: 0x0b95, Product: 0x7e2b}, // AX88772B
	{Vendor: 0x0b95, Product: 0x7720}, {Vendor: 0x0b95, Product: 0x772a}, // AX88772
	{Vendor: 0x0b95, Product: 0x1780}, // AX88178
}

// usable is this test's own choice of device (the conformance set needs a
// bulk pair and nothing else): a CDC Ethernet interface, or a chip in
// knownIDs. dongle's real policy is the driver catalog's.
func usable(c usbhw.Candidate) bool {
	if slices.Contains(knownIDs, usbhw.ID{Vendor: c.Vendor, Product: c.Product}) {
		return true
	}
	for _, i := range c.Interfaces {
		if i.Class == 0x02 && i.SubClass == 0x06 {
			return true
		}
	}
	return false
}

// adapters opens libusb and picks the adapters the lab-only tests use:
// those DONGLE_USB_DEVICE names (one selector, or several separated by
// commas, e.g. the lab's "0525:a4a2,1209:0001"), else the first supported
// USB network adapter (CDC ECM, or an ASIX chip by ID). It skips saying
// what it searched when there is none.
func adapters(tb testing.TB) (*usbhw.Context, []usbhw.Selector) {
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
		var sels []usbhw.Selector
		for _, f := range strings.Split(s, ",") {
			sel, err := usbhw.ParseSelector(strings.TrimSpace(f))
			if err != nil {
				tb.Fatalf("DONGLE_USB_DEVICE: %v", err)
			}
			sels = append(sels, sel)
		}
		return ctx, sels
	}
	all, err := ctx.List(nil)
	if err != nil {
		tb.Fatalf("listing USB devices: %v", err)
	}
	for _, c := range all {
		if usable(c) {
			tb.Logf("using %s", c)
			return ctx, []usbhw.Selector{{Kind: usbhw.ByAddress, Bus: c.Bus, Address: c.Address}}
		}
	}
	tb.Skipf("no USB network adapter found (searched %d devices for CDC ECM or ASIX %v)", len(all), knownIDs)
	return nil, nil
}

// TestConformance runs hw/hwtest's conformance set on each real (or
// virtual-lab) adapter, on both transfer paths (the default asynchronous
// libusb transfers, and Options.Sync). Set DONGLE_LOOPBACK=1 when frames
// sent on bulk OUT come back on bulk IN (the lab: its host peer echoes
// everything usb-net sends, and the ECM gadget's gecm0 echoes EtherType
// 0x88b5, which hwtest's frames use). Traffic on the bulk IN endpoint is
// fine: hwtest drains it before the subtests that need an idle endpoint.
func TestConformance(t *testing.T) {
	ctx, sels := adapters(t)
	opts := hwtest.Options{
		NoLoopback: "no loopback peer (set DONGLE_LOOPBACK=1 when the lab echoes frames)",
		NoFaults:   "a real device cannot be told to stall, time out or unplug",
	}
	if os.Getenv("DONGLE_LOOPBACK") == "1" {
		opts.NoLoopback = ""
	}
	for _, sel := range sels {
		t.Run(sel.String(), func(t *testing.T) {
			opts := opts
			if opts.NoLoopback == "" && isQEMUUSBNet(t, ctx, sel) {
				// Measured in the lab: after the async run's ZLPSubmit the
				// host peer got an empty frame and then no frame at all, so
				// the sync run's InOrderLoopback timed out. (QEMU's dgram
				// netdev sends the empty frame, sendto returns 0, and QEMU
				// takes 0 as "not sent": it queues every later frame.)
				opts.Skip = map[string]string{"ZLPSubmit": "QEMU usb-net forwards a lone zero-length packet as an " +
					"empty frame, after which its dgram netdev passes no frame to the peer: the loopback would stop " +
					"(ZLPSubmit runs without DONGLE_LOOPBACK and on the lab's ECM gadget)"}
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
		})
	}
}

// isQEMUUSBNet reports whether sel is QEMU's emulated usb-net (0525:a4a2,
// manufacturer string "QEMU"), not a real Linux g_ether with that ID.
func isQEMUUSBNet(tb testing.TB, ctx *usbhw.Context, sel usbhw.Selector) bool {
	tb.Helper()
	d, err := ctx.OpenDevice(sel, nil)
	if err != nil {
		tb.Fatalf("open %s: %v", sel, err)
	}
	defer d.Close()
	info := d.Info()
	if info.Vendor != 0x0525 || info.Product != 0xa4a2 {
		return false
	}
	rctx := context.Background()
	dd, err := hw.ReadDeviceDescriptor(rctx, d)
	if err != nil || dd.Manufacturer == 0 {
		return false
	}
	m, err := hw.ReadString(rctx, d, dd.Manufacturer)
	return err == nil && m == "QEMU"
}

// drivers is the kernel driver of each interface of sel's active
// configuration, as sysfs lists it ("" for none).
func drivers(tb testing.TB, ctx *usbhw.Context, sel usbhw.Selector) map[int]string {
	tb.Helper()
	cs, err := ctx.List(func(c usbhw.Candidate) bool { return sel.Match(c.Info) })
	if err != nil || len(cs) != 1 {
		tb.Fatalf("listing %s: %d found, %v", sel, len(cs), err)
	}
	m := map[int]string{}
	for _, i := range cs[0].Interfaces {
		if i.Config == cs[0].ActiveConfig {
			m[i.Number] = i.Driver
		}
	}
	return m
}

// TestRealReleaseRebinds: a program that claims only the data interface
// (what hwtest and openBulkOut do) and releases it leaves every interface
// with the kernel driver it had, although cdc_ether binds the control and
// the data interface together and libusb re-attaches only the one
// released. Skipped when no kernel driver is bound (nothing to restore).
func TestRealReleaseRebinds(t *testing.T) {
	ctx, sels := adapters(t)
	for _, sel := range sels {
		t.Run(sel.String(), func(t *testing.T) {
			before := drivers(t, ctx, sel)
			bound := 0
			for _, drv := range before {
				if drv != "" {
					bound++
				}
			}
			if bound == 0 {
				t.Skipf("%s: no kernel driver bound (%v), nothing to re-attach", sel, before)
			}
			d, err := ctx.OpenDevice(sel, nil)
			if err != nil {
				t.Fatal(err)
			}
			l, err := hwtest.FindLayout(context.Background(), d)
			if err != nil {
				d.Close()
				t.Fatal(err)
			}
			if err := d.Claim(l.Iface); err != nil {
				d.Close()
				t.Fatal(err)
			}
			if got := drivers(t, ctx, sel)[l.Iface]; got != "usbfs" {
				t.Errorf("interface %d claimed: driver %q, want usbfs", l.Iface, got)
			}
			if err := d.SetAlt(l.Iface, l.Alt); err != nil {
				t.Error(err)
			}
			if err := d.Release(l.Iface); err != nil {
				t.Error(err)
			}
			if after := drivers(t, ctx, sel); !maps.Equal(after, before) {
				t.Errorf("%s: kernel drivers after Release %v, before Claim %v", sel, after, before)
			}
			if err := d.Close(); err != nil {
				t.Error(err)
			}
		})
	}
}

// openBulkOut opens the first adapter's bulk OUT endpoint of the data pair
// in the ACTIVE configuration (hwtest.FindLayout: QEMU usb-net's first
// configuration is RNDIS, not the CDC one Linux selects), claiming its
// interface in the alternate setting that has it, and primes depth
// 1514-byte transfers. Cleanup (run in reverse: endpoint, interface,
// device, context) reaps and closes everything, so the kernel driver comes
// back.
func openBulkOut(tb testing.TB, opts *usbhw.Options, depth int) (hw.Endpoint, []hw.Transfer) {
	ctx, sels := adapters(tb)
	d, err := ctx.OpenDevice(sels[0], opts)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := d.Close(); err != nil {
			tb.Error(err)
		}
	})
	l, err := hwtest.FindLayout(context.Background(), d)
	if err != nil {
		tb.Skipf("adapter %s has no bulk IN/OUT pair in its active configuration to send on: %v", sels[0], err)
	}
	if err := d.Claim(l.Iface); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := d.Release(l.Iface); err != nil {
			tb.Error(err)
		}
	})
	if err := d.SetAlt(l.Iface, l.Alt); err != nil {
		tb.Fatal(err)
	}
	ep, err := d.OpenEndpoint(l.Out.Address)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		ep.Cancel()
		for ep.InFlight() > 0 {
			wctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			_, err := ep.Wait(wctx)
			cancel()
			if err != nil {
				tb.Errorf("reaping bulk OUT %#02x: %v", l.Out.Address, err)
				break
			}
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
// the completion through the transfer callback and Wait allocate nothing in steady
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
