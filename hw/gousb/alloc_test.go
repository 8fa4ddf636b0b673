package gousb

import (
	"context"
	"reflect"
	"strings"
	"testing"

	libusb "github.com/google/gousb"

	"dongle/hw"
)

func openFakeOut(tb testing.TB, workers int, sync bool) (*Endpoint, func()) {
	tb.Helper()
	dev := newECMDev(1, 4, []int{2})
	c := newContext(&fakeLib{devs: []*fakeDev{dev}}, "")
	d, err := c.OpenFirst(nil, &Options{Workers: workers, Sync: sync})
	if err != nil {
		tb.Fatal(err)
	}
	if err := d.Claim(1); err != nil {
		tb.Fatal(err)
	}
	if err := d.SetAlt(1, 1); err != nil {
		tb.Fatal(err)
	}
	ep, err := d.OpenEndpoint(0x02)
	if err != nil {
		tb.Fatal(err)
	}
	return ep.(*Endpoint), func() {
		if err := ep.Close(); err != nil {
			tb.Error(err)
		}
		d.Release(1)
		d.Close()
		c.Close()
	}
}

// TestSubmitWaitAllocs proves this package's per-transfer path (Submit,
// the hand-off to the OS, the completion or worker, Wait) allocates nothing once
// the ring has grown, on both paths. The fake seam allocates nothing
// itself; on the real default path libusbXfers adds none either (C
// transfers and buffers are allocated at OpenEndpoint), while gousb's
// synchronous transfer (Sync) allocates per call (see Endpoint).
func TestSubmitWaitAllocs(t *testing.T) {
	for _, sync := range []bool{false, true} {
		ep, done := openFakeOut(t, 8, sync)
		ts := make([]hw.Transfer, 16)
		for i := range ts {
			ts[i].Buf = make([]byte, 1514)
		}
		ctx := context.Background()
		run := func() {
			for i := range ts {
				if err := ep.Submit(&ts[i]); err != nil {
					t.Fatal(err)
				}
			}
			for range ts {
				if tr, err := ep.Wait(ctx); err != nil || tr.Err != nil {
					t.Fatal(err, tr.Err)
				}
			}
		}
		run()
		if a := testing.AllocsPerRun(100, run); a != 0 {
			t.Errorf("sync=%v: Submit/Wait of %d transfers allocates %.1f times per run, want 0", sync, len(ts), a)
		}
		done()
	}
}

// BenchmarkEndpoint is the queue's own cost per transfer against the fake
// seam, with 8 in flight, on both paths. The real path adds libusb's cost
// (and, with Sync, gousb's per-transfer allocations).
func BenchmarkEndpoint(b *testing.B) {
	for _, mode := range []struct {
		name string
		sync bool
	}{{"async", false}, {"sync", true}} {
		b.Run(mode.name, func(b *testing.B) { benchEndpoint(b, mode.sync) })
	}
}

func benchEndpoint(b *testing.B, sync bool) {
	ep, done := openFakeOut(b, 8, sync)
	defer done()
	ts := make([]hw.Transfer, 8)
	for i := range ts {
		ts[i].Buf = make([]byte, 1514)
		if err := ep.Submit(&ts[i]); err != nil {
			b.Fatal(err)
		}
	}
	ctx := context.Background()
	b.ReportAllocs()
	b.SetBytes(1514)
	b.ResetTimer()
	for range b.N {
		t, err := ep.Wait(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if err := ep.Submit(t); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	for range ts {
		ep.Wait(ctx)
	}
}

// TestGousbLayout pins what libusb.go reads from gousb by reflection: the
// libusb handle inside gousb.Device. If a gousb upgrade moves it, this
// fails here instead of ClearHalt/SetAlt failing on hardware.
func TestGousbLayout(t *testing.T) {
	f, ok := reflect.TypeOf(libusb.Device{}).FieldByName("handle")
	if !ok || f.Type.Kind() != reflect.Pointer || !strings.Contains(f.Type.Elem().Name(), "libusbDevHandle") {
		t.Fatalf("gousb.Device.handle is %v (ok=%v), want *libusbDevHandle", f.Type, ok)
	}
	if _, err := handleOf(&libusb.Device{}); err == nil {
		t.Fatal("handleOf accepted a device without a handle")
	}
}

func FuzzParseSelector(f *testing.F) {
	for _, s := range []string{"1.4", "001.004", "0b95:1790", "serial=x", "port=1-2.3", "", ":", ".", "port=", "1-2", "ffff:ffff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		sel, err := ParseSelector(s)
		if err != nil {
			if !strings.Contains(err.Error(), "device selector") {
				t.Fatalf("error does not name the selector: %v", err)
			}
			return
		}
		back, err := ParseSelector(sel.String())
		if err != nil || back != sel {
			t.Fatalf("%q → %+v → %q → %+v, %v", s, sel, sel.String(), back, err)
		}
	})
}

func TestUdevRule(t *testing.T) {
	r := UdevRule([]ID{{Vendor: 0x0b95, Product: 0x772b}, {Vendor: 0x0b95, Product: 0x1790}, {Vendor: 0x0b95, Product: 0x1790}})
	lines := strings.Split(strings.TrimSpace(r), "\n")
	var rules []string
	for _, l := range lines {
		if !strings.HasPrefix(l, "#") {
			rules = append(rules, l)
		}
	}
	want := []string{
		`SUBSYSTEM=="usb", ENV{DEVTYPE}=="usb_device", ATTR{idVendor}=="0b95", ATTR{idProduct}=="1790", GROUP="plugdev", MODE="0660"`,
		`SUBSYSTEM=="usb", ENV{DEVTYPE}=="usb_device", ATTR{idVendor}=="0b95", ATTR{idProduct}=="772b", GROUP="plugdev", MODE="0660"`,
		`SUBSYSTEM=="usb", ENV{DEVTYPE}=="usb_device", ENV{ID_USB_INTERFACES}=="*:0206??:*", GROUP="plugdev", MODE="0660"`,
	}
	if !reflect.DeepEqual(rules, want) {
		t.Fatalf("rules:\n%s\nwant:\n%s", strings.Join(rules, "\n"), strings.Join(want, "\n"))
	}
}
