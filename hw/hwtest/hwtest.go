// Package hwtest is the conformance set every hw backend must pass: the sim
// engine with its models, the gousb backend on a real adapter or in the
// virtual lab, and the trace replayers (with what they cannot do skipped).
//
//	func TestConformance(t *testing.T) {
//		hwtest.Run(t, func(t *testing.T) hw.Device { return openMine(t) }, hwtest.Options{})
//	}
//
// Every subtest opens its own device and leaves it closed. A subtest a
// backend cannot run is skipped with the reason given in Options, so the
// test output says what was not checked and why.
package hwtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"dongle/hw"
)

// Faulter is the fault injection a backend may offer (sim.Device does).
type Faulter interface {
	Stall(ep uint8)
	Unplug()
	TimeoutNext(ep uint8, n int)
	ShortControl(n int)
}

// Options say what a backend cannot do. A non-empty reason skips the
// subtests that need the capability.
type Options struct {
	// NoLoopback: data written on bulk OUT does not come back on bulk IN
	// (a replayed trace, a real adapter without a loopback peer).
	NoLoopback string
	// NoFaults: the device does not implement Faulter (found automatically
	// when it does not; set it to skip a Faulter anyway).
	NoFaults string
	// NoPendingIn: a bulk IN transfer cannot be relied on to stay pending
	// (the backend completes IN transfers by itself, e.g. a replay).
	NoPendingIn string
	// Skip names further subtests to skip, with the reason.
	Skip map[string]string
	// Timeout bounds each wait for a transfer (default 5 s).
	Timeout time.Duration
}

// Layout is the bulk data pair hwtest found in the active configuration.
type Layout struct {
	Iface, Alt int
	In, Out    hw.EndpointDesc
}

// Run runs the conformance set. open returns a freshly opened device; Run
// closes it.
func Run(t *testing.T, open func(t *testing.T) hw.Device, opts Options) {
	if opts.Timeout == 0 {
		opts.Timeout = 5 * time.Second
	}
	r := &runner{open: open, opts: opts}
	for _, s := range []struct {
		name   string
		need   []string // reasons that skip it
		faults bool     // needs Faulter
		fn     func(t *testing.T, d hw.Device, l Layout)
	}{
		{"Descriptors", nil, false, r.descriptors},
		{"ControlByteCounts", nil, false, r.controlCounts},
		{"ClaimReleaseAlt", nil, false, r.claimReleaseAlt},
		{"OwnershipBusy", []string{opts.NoPendingIn}, false, r.ownership},
		{"InOrderOut", nil, false, r.inOrderOut},
		{"InOrderLoopback", []string{opts.NoLoopback}, false, r.inOrderLoopback},
		{"Cancel", []string{opts.NoPendingIn}, false, r.cancel},
		{"WaitContext", []string{opts.NoPendingIn}, false, r.waitContext},
		{"WaitBatch", nil, false, r.waitBatch},
		{"Notify", nil, false, r.notify},
		{"ZLPSubmit", nil, false, r.zlp},
		{"ErrorsWrapErrno", nil, false, r.errorsWrap},
		{"FaultStall", []string{opts.NoFaults, opts.NoPendingIn}, true, r.faultStall},
		{"FaultTimeout", []string{opts.NoFaults}, true, r.faultTimeout},
		{"FaultShortControl", []string{opts.NoFaults}, true, r.faultShortControl},
		{"FaultUnplug", []string{opts.NoFaults, opts.NoPendingIn}, true, r.faultUnplug},
	} {
		t.Run(s.name, func(t *testing.T) {
			if why := opts.Skip[s.name]; why != "" {
				t.Skip(why)
			}
			for _, why := range s.need {
				if why != "" {
					t.Skip(why)
				}
			}
			d := open(t)
			if d == nil {
				t.Fatal("open returned nil")
			}
			t.Cleanup(func() { // runs after openData's cleanups
				if err := d.Close(); err != nil && !errors.Is(err, hw.ErrClosed) {
					t.Errorf("Close at the end: %v", err)
				}
			})
			if _, ok := d.(Faulter); s.faults && !ok {
				t.Skipf("%s does not implement hwtest.Faulter", d.Info().Backend)
			}
			l := findLayout(t, d)
			s.fn(t, d, l)
		})
	}
}

type runner struct {
	open func(t *testing.T) hw.Device
	opts Options
}

func (r *runner) ctx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), r.opts.Timeout)
	t.Cleanup(cancel)
	return ctx
}

// findLayout is FindLayout for a subtest: a device without a bulk pair
// fails it.
func findLayout(t *testing.T, d hw.Device) Layout {
	t.Helper()
	l, err := FindLayout(context.Background(), d)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// FindLayout reads the device's descriptors and finds, in the ACTIVE
// configuration, the first interface alternate setting with a bulk IN and a
// bulk OUT endpoint. The active configuration is looked up by
// bConfigurationValue, not by index: a device may list others first (QEMU
// usb-net lists its RNDIS configuration, value 2, at index 0 and CDC
// Ethernet, value 1, at index 1; Linux picks the CDC one), and the
// endpoints of another configuration cannot be opened.
func FindLayout(ctx context.Context, d hw.Device) (Layout, error) {
	active, err := d.Configuration()
	if err != nil {
		return Layout{}, fmt.Errorf("%s: reading the active configuration: %w", d.Info().Name(), err)
	}
	dd, err := hw.ReadDeviceDescriptor(ctx, d)
	if err != nil {
		return Layout{}, fmt.Errorf("%s: %w", d.Info().Name(), err)
	}
	for i := 0; i < int(dd.NumConfigurations); i++ {
		c, err := hw.ReadConfig(ctx, d, uint8(i))
		if err != nil {
			return Layout{}, fmt.Errorf("%s: configuration index %d: %w", d.Info().Name(), i, err)
		}
		if int(c.Value) != active {
			continue
		}
		for _, in := range c.Interfaces {
			for _, a := range in.Alts {
				var l Layout
				for _, ep := range a.Endpoints {
					if ep.Type() != hw.XferBulk {
						continue
					}
					if ep.In() && l.In.Address == 0 {
						l.In = ep
					} else if !ep.In() && l.Out.Address == 0 {
						l.Out = ep
					}
				}
				if l.In.Address != 0 && l.Out.Address != 0 {
					l.Iface, l.Alt = int(in.Number), int(a.Alternate)
					return l, nil
				}
			}
		}
	}
	return Layout{}, fmt.Errorf("%s: no interface with a bulk IN/OUT pair in configuration %d: %w",
		d.Info().Name(), active, hw.ErrNotFound)
}

// openData claims the data interface, selects its alt and opens both
// endpoints; cleanup closes and releases (in the right order).
func openData(t *testing.T, d hw.Device, l Layout) (in, out hw.Endpoint) {
	t.Helper()
	if err := d.Claim(l.Iface); err != nil {
		t.Fatalf("Claim(%d): %v", l.Iface, err)
	}
	if err := d.SetAlt(l.Iface, l.Alt); err != nil {
		t.Fatalf("SetAlt(%d, %d): %v", l.Iface, l.Alt, err)
	}
	in, err := d.OpenEndpoint(l.In.Address)
	if err != nil {
		t.Fatalf("OpenEndpoint(%#02x): %v", l.In.Address, err)
	}
	out, err = d.OpenEndpoint(l.Out.Address)
	if err != nil {
		t.Fatalf("OpenEndpoint(%#02x): %v", l.Out.Address, err)
	}
	t.Cleanup(func() {
		for _, ep := range []hw.Endpoint{in, out} {
			ep.Cancel()
			for ep.InFlight() > 0 {
				ctx, cancel := context.WithTimeout(context.Background(), time.Second)
				_, err := ep.Wait(ctx)
				cancel()
				if err != nil {
					break
				}
			}
			_ = ep.Close()
		}
		_ = d.Release(l.Iface)
	})
	return in, out
}

// maxFrame is the largest Ethernet frame without FCS.
const maxFrame = 1514

// frame is a test Ethernet frame: broadcast destination, locally
// administered source, ethertype 0x88b5 (local experimental), a pattern.
func frame(seq, n int) []byte {
	b := make([]byte, n)
	copy(b, []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0, 0, 0, 0, byte(seq), 0x88, 0xb5})
	for i := 14; i < n; i++ {
		b[i] = byte(seq*7 + i)
	}
	return b
}

func (r *runner) descriptors(t *testing.T, d hw.Device, _ Layout) {
	ctx := r.ctx(t)
	dd, err := hw.ReadDeviceDescriptor(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	info := d.Info()
	if info.Vendor != dd.Vendor || info.Product != dd.Product {
		t.Errorf("Info %04x:%04x, device descriptor %04x:%04x", info.Vendor, info.Product, dd.Vendor, dd.Product)
	}
	if dd.NumConfigurations == 0 {
		t.Errorf("bNumConfigurations 0")
	}
	for i := 0; i < int(dd.NumConfigurations); i++ {
		c, err := hw.ReadConfig(ctx, d, uint8(i))
		if err != nil {
			t.Fatalf("ReadConfig(%d): %v", i, err)
		}
		if len(c.Interfaces) == 0 {
			t.Errorf("configuration %d has no interfaces", i)
		}
	}
	for _, idx := range []uint8{dd.Manufacturer, dd.ProductStr, dd.Serial} {
		if idx == 0 {
			continue
		}
		s, err := hw.ReadString(ctx, d, idx)
		if err != nil {
			t.Errorf("ReadString(%d): %v", idx, err)
		} else if s == "" {
			t.Errorf("ReadString(%d) is empty", idx)
		}
	}
	cfg, err := d.Configuration()
	if err != nil || cfg == 0 {
		t.Errorf("Configuration() = %d, %v; want an active configuration", cfg, err)
	}
}

// descDebug is the DEBUG descriptor type (USB 2.0 table 9-5).
const descDebug uint8 = 0x0a

func getDesc(typ, idx uint8, lang uint16, n int) (hw.Setup, []byte) {
	return hw.Setup{RequestType: hw.DirIn | hw.TypeStandard | hw.RecipDevice, Request: hw.ReqGetDescriptor,
		Value: uint16(typ)<<8 | uint16(idx), Index: lang, Length: uint16(n)}, make([]byte, n)
}

func (r *runner) controlCounts(t *testing.T, d hw.Device, _ Layout) {
	ctx := r.ctx(t)
	for _, c := range []struct {
		name string
		typ  uint8
		ask  int
		want func(b []byte) int
	}{
		{"device, 8 of 18", hw.DescDevice, 8, func([]byte) int { return 8 }},
		{"device, 64 for 18", hw.DescDevice, 64, func([]byte) int { return 18 }},
		{"config header", hw.DescConfig, 9, func([]byte) int { return 9 }},
		{"config, all", hw.DescConfig, 1024, func(b []byte) int { return int(b[2]) | int(b[3])<<8 }},
		{"language list", hw.DescString, 255, func(b []byte) int { return int(b[0]) }},
	} {
		s, buf := getDesc(c.typ, 0, 0, c.ask)
		n, err := d.Control(ctx, s, buf)
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if want := c.want(buf); n != want {
			t.Errorf("%s: Control returned n=%d, want %d", c.name, n, want)
		}
		if n > 0 && buf[1] != c.typ {
			t.Errorf("%s: bDescriptorType %#x, want %#x", c.name, buf[1], c.typ)
		}
	}
}

func (r *runner) claimReleaseAlt(t *testing.T, d hw.Device, l Layout) {
	if err := d.Claim(l.Iface); err != nil {
		t.Fatalf("Claim: %v", err)
	}
	if l.Alt != 0 {
		if err := d.SetAlt(l.Iface, 0); err != nil {
			t.Fatalf("SetAlt(0): %v", err)
		}
		ep, err := d.OpenEndpoint(l.In.Address)
		if err == nil {
			_ = ep.Close()
			t.Errorf("OpenEndpoint(%#02x) in alt 0 (no endpoints) succeeded", l.In.Address)
		} else {
			checkErrno(t, "OpenEndpoint outside the current alt", err, hw.ErrNotFound)
		}
	}
	if err := d.SetAlt(l.Iface, l.Alt); err != nil {
		t.Fatalf("SetAlt(%d): %v", l.Alt, err)
	}
	ep, err := d.OpenEndpoint(l.In.Address)
	if err != nil {
		t.Fatalf("OpenEndpoint: %v", err)
	}
	if got := ep.Desc(); got.Address != l.In.Address || got.Type() != hw.XferBulk || got.MaxPacketSize != l.In.MaxPacketSize {
		t.Errorf("Desc() = %+v, want %+v", got, l.In)
	}
	checkErrno(t, "Release with an open endpoint", d.Release(l.Iface), hw.ErrBusy)
	if err := ep.Close(); err != nil {
		t.Fatalf("Endpoint.Close: %v", err)
	}
	if err := ep.Close(); err == nil {
		t.Errorf("second Endpoint.Close succeeded")
	}
	if err := d.Release(l.Iface); err != nil {
		t.Fatalf("Release: %v", err)
	}
	if err := d.Release(l.Iface); err == nil {
		t.Errorf("Release of an interface not claimed succeeded")
	}
	if _, err := d.OpenEndpoint(l.In.Address); err == nil {
		t.Errorf("OpenEndpoint on a released interface succeeded")
	}
}

func (r *runner) ownership(t *testing.T, d hw.Device, l Layout) {
	in, _ := openData(t, d, l)
	cfg, _ := d.Configuration()
	checkErrno(t, "Close while claimed", d.Close(), hw.ErrBusy)
	checkErrno(t, "SetConfiguration while claimed", d.SetConfiguration(cfg), hw.ErrBusy)
	tr := &hw.Transfer{Buf: make([]byte, 2048)}
	if err := in.Submit(tr); err != nil {
		t.Fatal(err)
	}
	checkErrno(t, "Endpoint.Close with a transfer in flight", in.Close(), hw.ErrBusy)
	if in.InFlight() != 1 {
		t.Errorf("InFlight after a failed Close = %d, want 1", in.InFlight())
	}
	in.Cancel()
	if got, err := in.Wait(r.ctx(t)); err != nil || got != tr {
		t.Fatalf("Wait after Cancel = %p, %v; want the transfer", got, err)
	}
}

func (r *runner) inOrderOut(t *testing.T, d hw.Device, l Layout) {
	_, out := openData(t, d, l)
	mps := int(l.Out.MaxPacketSize)
	// Several full packets and a short one, within an Ethernet frame: a
	// real adapter's receive buffer holds 1514 bytes and little more (the
	// Linux ECM gadget at high speed takes 1534 of a 1535-byte transfer).
	multi := 3*mps - 1
	for multi > maxFrame && multi > mps {
		multi -= mps
	}
	sizes := []int{60, 100, multi, maxFrame}
	var trs []*hw.Transfer
	for i, n := range sizes {
		tr := &hw.Transfer{Buf: frame(i, n), Cookie: i}
		if err := out.Submit(tr); err != nil {
			t.Fatalf("Submit %d: %v", i, err)
		}
		trs = append(trs, tr)
	}
	for i, want := range trs {
		got, err := out.Wait(r.ctx(t))
		if err != nil {
			t.Fatalf("Wait %d: %v", i, err)
		}
		if got != want {
			t.Fatalf("Wait %d returned transfer %v, want %v (completion out of order)", i, got.Cookie, want.Cookie)
		}
		if got.Err != nil || got.N != len(got.Buf) {
			t.Errorf("transfer %d: N=%d Err=%v, want N=%d", i, got.N, got.Err, len(got.Buf))
		}
	}
	if out.InFlight() != 0 {
		t.Errorf("InFlight = %d after reaping everything", out.InFlight())
	}
}

func (r *runner) inOrderLoopback(t *testing.T, d hw.Device, l Layout) {
	in, out := openData(t, d, l)
	if r.opts.NoPendingIn == "" {
		r.drain(t, in, l) // nothing stale may come back before these frames
	}
	mps := int(l.Out.MaxPacketSize)
	sizes := []int{60, mps + 1, 2*mps + 7, 1000}
	var ins []*hw.Transfer
	for i := range sizes {
		tr := &hw.Transfer{Buf: make([]byte, 2048), Cookie: i}
		if err := in.Submit(tr); err != nil {
			t.Fatal(err)
		}
		ins = append(ins, tr)
	}
	if in.InFlight() != len(sizes) {
		t.Errorf("InFlight = %d, want %d", in.InFlight(), len(sizes))
	}
	for i, n := range sizes {
		tr := &hw.Transfer{Buf: frame(i, n)}
		if err := out.Submit(tr); err != nil {
			t.Fatal(err)
		}
		if _, err := out.Wait(r.ctx(t)); err != nil || tr.Err != nil {
			t.Fatalf("OUT %d: %v / %v", i, err, tr.Err)
		}
	}
	for i, n := range sizes {
		got, err := in.Wait(r.ctx(t))
		if err != nil {
			t.Fatalf("IN Wait %d: %v", i, err)
		}
		if got != ins[i] {
			t.Fatalf("IN Wait %d returned transfer %v (out of order)", i, got.Cookie)
		}
		if got.Err != nil || !bytes.Equal(got.Data(), frame(i, n)) {
			t.Errorf("IN %d: N=%d Err=%v, want the %d-byte frame back", i, got.N, got.Err, n)
		}
	}
}

// cancel: Cancel completes every transfer in flight, each is returned by
// Wait in submission order and none is lost. On a live link (a real
// adapter, the lab's usb-net) an IN transfer may complete with data before
// Cancel reaches it; that is legitimate, so each transfer must come back
// either cancelled or with data, and at least one (on the drained, idle
// endpoint: normally all) must have been cancelled, or Cancel was not
// exercised at all.
func (r *runner) cancel(t *testing.T, d hw.Device, l Layout) {
	in, _ := openData(t, d, l)
	r.drain(t, in, l)
	trs := make([]*hw.Transfer, 4)
	for i := range trs {
		trs[i] = &hw.Transfer{Buf: make([]byte, 2048), Cookie: i}
		if err := in.Submit(trs[i]); err != nil {
			t.Fatal(err)
		}
	}
	if got := in.InFlight(); got != len(trs) {
		t.Errorf("InFlight = %d after %d submits, want %d", got, len(trs), len(trs))
	}
	in.Cancel()
	cancelled := 0
	for i := range trs {
		got, err := in.Wait(r.ctx(t))
		if err != nil {
			t.Fatalf("Wait %d after Cancel: %v", i, err)
		}
		if got != trs[i] {
			t.Fatalf("Wait %d returned transfer %v, want %d (wrong transfer or out of order)", i, got.Cookie, i)
		}
		if arrived(got) {
			t.Logf("transfer %d completed with %d bytes before Cancel reached it", i, got.N)
			continue
		}
		checkErrno(t, fmt.Sprintf("cancelled transfer %d", i), got.Err, hw.ErrCancelled)
		cancelled++
	}
	if in.InFlight() != 0 {
		t.Errorf("InFlight = %d after reaping cancelled transfers", in.InFlight())
	}
	if cancelled == 0 {
		t.Errorf("none of %d pending IN transfers was cancelled: all completed with data (the endpoint is not idle), so Cancel was not exercised", len(trs))
	}
}

// waitContext: Wait returns ctx.Err() (and no transfer) when ctx is done
// before the oldest transfer completes, whether ctx was done on entry or
// ends while waiting, and the transfer stays in flight: it is reaped later,
// not lost. A transfer that completes with data while Wait looks (traffic
// on a live link) is what Wait must return then; the attempt is repeated
// with a new transfer, a few times, and the subtest fails if the endpoint
// never stays idle long enough to prove the property.
func (r *runner) waitContext(t *testing.T, d hw.Device, l Layout) {
	in, _ := openData(t, d, l)
	r.drain(t, in, l)
	const attempts = 3
	for a := 1; a <= attempts; a++ {
		tr := &hw.Transfer{Buf: make([]byte, 2048)}
		if err := in.Submit(tr); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		got, err := in.Wait(ctx)
		if got == tr && arrived(tr) {
			t.Logf("attempt %d: the transfer completed with %d bytes before Wait(cancelled ctx); again", a, tr.N)
			continue
		}
		if got != nil || !errors.Is(err, context.Canceled) {
			t.Fatalf("Wait(cancelled ctx) = %v, %v; want nil, context.Canceled", got, err)
		}
		var batch [4]*hw.Transfer
		n, err := in.WaitBatch(ctx, batch[:])
		if n == 1 && batch[0] == tr && arrived(tr) {
			t.Logf("attempt %d: the transfer completed with %d bytes before WaitBatch(cancelled ctx); again", a, tr.N)
			continue
		}
		if n != 0 || batch[0] != nil || !errors.Is(err, context.Canceled) {
			t.Fatalf("WaitBatch(cancelled ctx) = %d (%v), %v; want 0, context.Canceled", n, batch[0], err)
		}
		ctx2, cancel2 := context.WithTimeout(context.Background(), 20*time.Millisecond)
		got, err = in.Wait(ctx2)
		cancel2()
		if got == tr && arrived(tr) {
			t.Logf("attempt %d: the transfer completed with %d bytes while Wait(expiring ctx) waited; again", a, tr.N)
			continue
		}
		if got != nil || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Wait(expiring ctx) = %v, %v; want nil, context.DeadlineExceeded", got, err)
		}
		if in.InFlight() != 1 {
			t.Errorf("InFlight = %d after Wait gave up, want 1 (the transfer stays in flight)", in.InFlight())
		}
		in.Cancel()
		n, err = in.WaitBatch(r.ctx(t), batch[:])
		if err != nil || n != 1 || batch[0] != tr {
			t.Fatalf("WaitBatch after Cancel = %d (%p), %v; want the one transfer Wait gave up on (%p)", n, batch[0], err, tr)
		}
		if !arrived(tr) {
			checkErrno(t, "the transfer Wait gave up on, cancelled", tr.Err, hw.ErrCancelled)
		}
		if in.InFlight() != 0 {
			t.Errorf("InFlight = %d after reaping, want 0", in.InFlight())
		}
		return
	}
	t.Fatalf("bulk IN %#02x: a transfer completed with data during each of %d attempts; the endpoint is never idle long enough to test Wait's context handling (set Options.NoPendingIn)", l.In.Address, attempts)
}

// arrived reports whether an IN transfer completed with data (traffic on
// a live link), as opposed to failing or being cancelled.
func arrived(tr *hw.Transfer) bool { return tr.Err == nil && tr.N > 0 }

// quiet is how long a bulk IN transfer must stay pending for drain to call
// the endpoint idle; maxDrain bounds the transfers it drops.
const (
	quiet    = 100 * time.Millisecond
	maxDrain = 64
)

// drain reads and drops what a bulk IN endpoint has queued until a transfer
// stays pending for quiet. On a real wire with a loopback peer the frames
// an earlier subtest sent (InOrderOut's, ZLPSubmit's) come back later and
// wait in the device (QEMU usb-net queues them for the next IN token, a
// gadget in its IN request queue) for whoever reads next. The subtests that
// need an idle endpoint (Cancel, WaitContext) or an exact loopback sequence
// (InOrderLoopback) start with it. A backend with nothing on the wire
// drops nothing: its first transfer stays pending and is cancelled.
func (r *runner) drain(t *testing.T, in hw.Endpoint, l Layout) {
	t.Helper()
	tr := &hw.Transfer{Buf: make([]byte, 2048)}
	for dropped := 0; dropped < maxDrain; dropped++ {
		if err := in.Submit(tr); err != nil {
			t.Fatalf("draining bulk IN %#02x: %v", l.In.Address, err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), quiet)
		got, err := in.Wait(ctx)
		cancel()
		if err == nil {
			if got != tr || got.Err != nil {
				t.Fatalf("draining bulk IN %#02x: Wait = transfer %p (want %p), Err %v", l.In.Address, got, tr, got.Err)
			}
			continue // stale data
		}
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("draining bulk IN %#02x: Wait(expiring ctx): %v", l.In.Address, err)
		}
		in.Cancel()
		if got, err = in.Wait(r.ctx(t)); err != nil || got != tr {
			t.Fatalf("draining bulk IN %#02x: Wait after Cancel = %p, %v; want the transfer", l.In.Address, got, err)
		}
		if arrived(tr) {
			continue // data came just before the cancel: not idle yet
		}
		checkErrno(t, "draining: the pending transfer, cancelled", tr.Err, hw.ErrCancelled)
		if dropped > 0 {
			t.Logf("dropped %d stale IN transfers before the subtest", dropped)
		}
		return
	}
	t.Fatalf("bulk IN %#02x never went idle: %d transfers in a row completed with data (set Options.NoPendingIn for a link this busy)", l.In.Address, maxDrain)
}

// batchOut is how many OUT transfers waitBatch has in flight, and
// batchRoom how many one WaitBatch call may return: fewer, so that "up to
// len(out)" is checked too.
const (
	batchOut    = 4
	batchRoom   = 3
	batchSettle = 100 * time.Millisecond
)

// waitBatch: WaitBatch panics on an empty out (a programming error) and
// fails with ErrNotFound when nothing is in flight; with batchOut OUT
// transfers completed it returns batchRoom of them in one call, oldest
// first, and the last in the next: everything already done, never more
// than out holds, in submission order. An OUT transfer completes on its
// own (a model takes it at once, a real device within microseconds), so
// the calls are made once every transfer has had time to: attempt a waits
// a×batchSettle first (time enough for the virtual lab under TCG). An
// endpoint that returns one transfer per call (a wrapper that reaps with
// Wait) fails every attempt.
func (r *runner) waitBatch(t *testing.T, d hw.Device, l Layout) {
	_, out := openData(t, d, l)
	func() {
		defer func() {
			if recover() == nil {
				t.Errorf("WaitBatch with an empty out did not panic")
			}
		}()
		_, _ = out.WaitBatch(r.ctx(t), nil)
	}()
	var batch [batchRoom]*hw.Transfer
	n, err := out.WaitBatch(r.ctx(t), batch[:])
	if n != 0 {
		t.Errorf("WaitBatch with nothing in flight returned %d transfers", n)
	}
	checkErrno(t, "WaitBatch with nothing in flight", err, hw.ErrNotFound)

	const attempts = 8
	var got []int // what each call returned, for the failure message
	for a := range attempts {
		trs := make([]*hw.Transfer, batchOut)
		for i := range trs {
			trs[i] = &hw.Transfer{Buf: frame(i, 60+i), Cookie: i}
			if err := out.Submit(trs[i]); err != nil {
				t.Fatalf("Submit %d: %v", i, err)
			}
		}
		time.Sleep(time.Duration(a) * batchSettle)
		got = got[:0]
		for next := 0; next < len(trs); {
			clear(batch[:])
			n, err := out.WaitBatch(r.ctx(t), batch[:])
			if err != nil {
				t.Fatalf("WaitBatch after %d of %d transfers: %v", next, len(trs), err)
			}
			if n < 1 || n > len(batch) {
				t.Fatalf("WaitBatch returned %d transfers, want 1..%d", n, len(batch))
			}
			for i, tr := range batch[:n] {
				if tr != trs[next] {
					t.Fatalf("WaitBatch returned, at %d of %d, transfer %v; want %d (wrong transfer or out of order)", i, n, cookie(tr), next)
				}
				if tr.Err != nil || tr.N != len(tr.Buf) {
					t.Errorf("transfer %d: N=%d Err=%v, want N=%d", next, tr.N, tr.Err, len(tr.Buf))
				}
				next++
			}
			if n < len(batch) && batch[n] != nil {
				t.Errorf("WaitBatch wrote past the %d transfers it returned", n)
			}
			got = append(got, n)
		}
		if out.InFlight() != 0 {
			t.Fatalf("InFlight = %d after WaitBatch reaped everything", out.InFlight())
		}
		if len(got) == 2 && got[0] == batchRoom {
			return
		}
		t.Logf("attempt %d: WaitBatch calls returned %v transfers; want %d, then %d", a, got, batchRoom, batchOut-batchRoom)
	}
	t.Errorf("bulk OUT %#02x: with %d transfers submitted %d ms before, WaitBatch(room for %d) returned %v: it does not return every transfer already completed (a wrapper reaping one at a time?)",
		l.Out.Address, batchOut, (attempts-1)*batchSettle/time.Millisecond, batchRoom, got)
}

// notify: Notify's fn is a wake-up a reaper can live on. With fn set on
// bulk OUT, notifyOut transfers are reaped by polls alone (WaitBatch with a
// done ctx), made only after a call of fn: all come back, in order, none
// twice. Then notifyOneByOne more, each submitted once the last is
// reaped, so every one must call fn anew: a completion that called
// nothing would leave its transfer unreaped, and the subtest fails on its
// timeout. A poll never blocks: with the
// oldest transfer pending it fails with the ctx's error, with nothing in
// flight with ErrNotFound, allocating nothing. Cancel calls fn too, for the bulk IN transfer
// it completes. After Notify(nil) a completion calls nothing; a fn set
// after a Wait that emptied the endpoint is called for the next one.
func (r *runner) notify(t *testing.T, d hw.Device, l Layout) {
	in, out := openData(t, d, l)
	polled, cancel := context.WithCancel(context.Background())
	cancel()
	type waker struct {
		calls atomic.Int64
		kick  chan struct{}
	}
	newWaker := func() *waker { return &waker{kick: make(chan struct{}, 1)} }
	call := func(w *waker) func() {
		return func() {
			w.calls.Add(1)
			select {
			case w.kick <- struct{}{}:
			default:
			}
		}
	}
	wait := func(w *waker, what string) {
		t.Helper()
		select {
		case <-w.kick:
		case <-time.After(r.opts.Timeout):
			t.Fatalf("%s: fn not called within %v (%d calls so far)", what, r.opts.Timeout, w.calls.Load())
		}
	}

	wo := newWaker()
	out.Notify(call(wo))
	var batch [batchRoom]*hw.Transfer
	n, err := out.WaitBatch(polled, batch[:])
	if n != 0 {
		t.Errorf("a poll with nothing in flight returned %d transfers", n)
	}
	checkErrno(t, "a poll with nothing in flight", err, hw.ErrNotFound)
	if !raceEnabled {
		// A reaper that lives on Notify polls every endpoint on every
		// wake-up, so an idle endpoint's answer is on the per-packet path.
		if a := testing.AllocsPerRun(100, func() { _, _ = out.WaitBatch(polled, batch[:]) }); a != 0 {
			t.Errorf("a poll with nothing in flight allocates %.1f times; want 0", a)
		}
	}
	const notifyOut, notifyOneByOne = 8, 4
	trs := make([]*hw.Transfer, notifyOut)
	for i := range trs {
		trs[i] = &hw.Transfer{Buf: frame(i, 60+i), Cookie: i}
		if err := out.Submit(trs[i]); err != nil {
			t.Fatalf("Submit %d: %v", i, err)
		}
	}
	for next := 0; next < len(trs); {
		wait(wo, fmt.Sprintf("bulk OUT %#02x, %d of %d transfers reaped (InFlight %d)", l.Out.Address, next, len(trs), out.InFlight()))
		for {
			clear(batch[:])
			n, err := out.WaitBatch(polled, batch[:])
			if n == 0 {
				if next < len(trs) && !errors.Is(err, context.Canceled) {
					t.Fatalf("a poll with transfer %d the oldest in flight: %v, want context.Canceled (pending) or a transfer", next, err)
				}
				break
			}
			if err != nil {
				t.Fatalf("a poll returned %d transfers and an error: %v", n, err)
			}
			for i, tr := range batch[:n] {
				if next >= len(trs) || tr != trs[next] {
					t.Fatalf("a poll returned, at %d of %d, transfer %v; want %d (wrong transfer, out of order or twice)", i, n, cookie(tr), next)
				}
				if tr.Err != nil || tr.N != len(tr.Buf) {
					t.Errorf("transfer %d: N=%d Err=%v, want N=%d", next, tr.N, tr.Err, len(tr.Buf))
				}
				next++
			}
		}
	}
	if out.InFlight() != 0 {
		t.Fatalf("InFlight = %d after every transfer was reaped", out.InFlight())
	}
	// One at a time: each completion calls fn anew (an endpoint that
	// called it once, for the burst, would leave the second unreaped).
	// A call with nothing new is allowed: wait again.
	for i := range notifyOneByOne {
		tr := &hw.Transfer{Buf: frame(i, 60+i), Cookie: i}
		if err := out.Submit(tr); err != nil {
			t.Fatalf("Submit %d of %d alone: %v", i, notifyOneByOne, err)
		}
		for {
			wait(wo, fmt.Sprintf("bulk OUT %#02x, transfer %d of %d alone", l.Out.Address, i, notifyOneByOne))
			clear(batch[:])
			n, err := out.WaitBatch(polled, batch[:])
			if n == 1 && batch[0] == tr {
				break
			}
			if n != 0 || !errors.Is(err, context.Canceled) {
				t.Fatalf("a poll for transfer %d alone: %d (%v), %v; want it, or context.Canceled while it is pending", i, n, cookie(batch[0]), err)
			}
		}
	}

	// A poll of a pending bulk IN transfer needs one that stays pending.
	pendingPoll := r.opts.NoPendingIn == ""
	if pendingPoll {
		r.drain(t, in, l)
	} else {
		t.Logf("not checked: a poll of a pending bulk IN transfer (%s)", r.opts.NoPendingIn)
	}
	wi := newWaker()
	in.Notify(call(wi))
	tr := &hw.Transfer{Buf: make([]byte, 2048)}
	if err := in.Submit(tr); err != nil {
		t.Fatal(err)
	}
	if pendingPoll {
		// Pending: the poll says so, and gives nothing up.
		clear(batch[:])
		n, err := in.WaitBatch(polled, batch[:])
		switch {
		case n == 0 && errors.Is(err, context.Canceled):
		case n == 1 && batch[0] == tr && arrived(tr):
			t.Logf("the bulk IN transfer got %d bytes before the poll; Cancel is tested on a second one", tr.N)
			tr = &hw.Transfer{Buf: make([]byte, 2048)}
			if err := in.Submit(tr); err != nil {
				t.Fatal(err)
			}
		default:
			t.Fatalf("a poll with the bulk IN transfer pending: %d (%v), %v; want 0, context.Canceled", n, cookie(batch[0]), err)
		}
	}
	in.Cancel()
	for {
		wait(wi, fmt.Sprintf("bulk IN %#02x, Cancel", l.In.Address))
		clear(batch[:])
		n, err := in.WaitBatch(polled, batch[:])
		if n == 1 && batch[0] == tr {
			break
		}
		if n != 0 || !errors.Is(err, context.Canceled) {
			t.Fatalf("a poll after Cancel called fn: %d (%v), %v; want the cancelled transfer", n, cookie(batch[0]), err)
		}
	}
	if !arrived(tr) {
		checkErrno(t, "the transfer Notify's test cancelled", tr.Err, hw.ErrCancelled)
	}

	out.Notify(nil)
	before := wo.calls.Load()
	last := &hw.Transfer{Buf: frame(0, 60)}
	if err := out.Submit(last); err != nil {
		t.Fatal(err)
	}
	if got, err := out.Wait(r.ctx(t)); err != nil || got != last {
		t.Fatalf("Wait after Notify(nil) = %v, %v", cookie(got), err)
	}
	if c := wo.calls.Load(); c != before {
		t.Errorf("a completion after Notify(nil) called the old fn (%d calls, %d before)", c, before)
	}

	// That Wait took the last completion and left nothing in flight: a fn
	// set now hears of the next one (an endpoint that calls fn once a
	// batch must have armed itself for it).
	wn := newWaker()
	out.Notify(call(wn))
	again := &hw.Transfer{Buf: frame(1, 61)}
	if err := out.Submit(again); err != nil {
		t.Fatal(err)
	}
	wait(wn, fmt.Sprintf("bulk OUT %#02x, a fn set after a Wait that emptied the endpoint", l.Out.Address))
	if got, err := out.Wait(r.ctx(t)); err != nil || got != again {
		t.Fatalf("Wait after the new fn's call = %v, %v", cookie(got), err)
	}
	out.Notify(nil)
}

// cookie is a transfer's Cookie, or nil for no transfer.
func cookie(tr *hw.Transfer) any {
	if tr == nil {
		return nil
	}
	return tr.Cookie
}

func (r *runner) zlp(t *testing.T, d hw.Device, l Layout) {
	_, out := openData(t, d, l)
	tr := &hw.Transfer{Buf: []byte{}}
	if err := out.Submit(tr); err != nil {
		t.Fatalf("Submit of a zero-length OUT: %v", err)
	}
	got, err := out.Wait(r.ctx(t))
	if err != nil || got != tr || tr.Err != nil || tr.N != 0 {
		t.Errorf("ZLP completed as %v, N=%d Err=%v", err, tr.N, tr.Err)
	}
}

func (r *runner) errorsWrap(t *testing.T, d hw.Device, l Layout) {
	in, _ := openData(t, d, l)
	_, err := in.Wait(r.ctx(t))
	checkErrno(t, "Wait with nothing in flight", err, hw.ErrNotFound)
	// A STALLed control request must come back as ErrStall naming the
	// request. The probe is GET_DESCRIPTOR(DEBUG): a device without a debug
	// port does not support that descriptor type, and USB 2.0 9.4.3 makes
	// that a Request Error (STALL); host debug-port code relies on it. (A
	// missing string index is no such probe: QEMU answers it with zero
	// bytes instead of stalling.)
	s, buf := getDesc(descDebug, 0, 0, 4)
	_, err = d.Control(r.ctx(t), s, buf)
	checkErrno(t, "GET_DESCRIPTOR(DEBUG) of a device without a debug port", err, hw.ErrStall)
	_, err = d.OpenEndpoint(0x8f)
	if err == nil {
		t.Errorf("OpenEndpoint(0x8f) succeeded")
	} else if hw.StatusOf(err) == hw.ErrIO {
		var he *hw.Error
		if !errors.As(err, &he) {
			t.Errorf("OpenEndpoint(0x8f): %v is not an *hw.Error", err)
		}
	}
}

func (r *runner) faultStall(t *testing.T, d hw.Device, l Layout) {
	f := d.(Faulter)
	in, _ := openData(t, d, l)
	tr := &hw.Transfer{Buf: make([]byte, 2048)}
	if err := in.Submit(tr); err != nil {
		t.Fatal(err)
	}
	f.Stall(l.In.Address)
	if got, err := in.Wait(r.ctx(t)); err != nil || got != tr {
		t.Fatalf("Wait after Stall: %v", err)
	}
	checkErrno(t, "transfer on a stalled endpoint", tr.Err, hw.ErrStall)
	if err := in.Submit(tr); err != nil {
		t.Fatal(err)
	}
	if _, err := in.Wait(r.ctx(t)); err != nil {
		t.Fatal(err)
	}
	checkErrno(t, "transfer submitted while halted", tr.Err, hw.ErrStall)
	if err := d.ClearHalt(l.In.Address); err != nil {
		t.Fatalf("ClearHalt: %v", err)
	}
	if err := in.Submit(tr); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := in.Wait(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("after ClearHalt the transfer should stay pending, Wait = %v (Err %v)", err, tr.Err)
	}
}

func (r *runner) faultTimeout(t *testing.T, d hw.Device, l Layout) {
	f := d.(Faulter)
	_, out := openData(t, d, l)
	f.TimeoutNext(l.Out.Address, 1)
	for i, want := range []hw.Errno{hw.ErrTimeout, 0} {
		tr := &hw.Transfer{Buf: frame(i, 60)}
		if err := out.Submit(tr); err != nil {
			t.Fatal(err)
		}
		if _, err := out.Wait(r.ctx(t)); err != nil {
			t.Fatal(err)
		}
		if hw.StatusOf(tr.Err) != want {
			t.Errorf("OUT %d after TimeoutNext(1): Err %v, want %v", i, tr.Err, want)
		}
	}
	f.TimeoutNext(0, 1)
	s, buf := getDesc(hw.DescDevice, 0, 0, 18)
	_, err := d.Control(r.ctx(t), s, buf)
	checkErrno(t, "control after TimeoutNext(0, 1)", err, hw.ErrTimeout)
	if n, err := d.Control(r.ctx(t), s, buf); err != nil || n != 18 {
		t.Errorf("the next control request: n=%d err=%v, want 18 bytes", n, err)
	}
}

func (r *runner) faultShortControl(t *testing.T, d hw.Device, _ Layout) {
	f := d.(Faulter)
	f.ShortControl(4)
	s, buf := getDesc(hw.DescDevice, 0, 0, 18)
	n, err := d.Control(r.ctx(t), s, buf)
	if err != nil || n != 4 {
		t.Errorf("Control after ShortControl(4): n=%d err=%v, want 4 bytes", n, err)
	}
	if _, err := hw.ReadDeviceDescriptor(r.ctx(t), d); err != nil {
		t.Errorf("ShortControl lasted past one request: %v", err)
	}
}

func (r *runner) faultUnplug(t *testing.T, d hw.Device, l Layout) {
	f := d.(Faulter)
	in, out := openData(t, d, l)
	tr := &hw.Transfer{Buf: make([]byte, 2048)}
	if err := in.Submit(tr); err != nil {
		t.Fatal(err)
	}
	f.Unplug()
	if got, err := in.Wait(r.ctx(t)); err != nil || got != tr {
		t.Fatalf("Wait after Unplug: %v", err)
	}
	checkErrno(t, "transfer in flight at unplug", tr.Err, hw.ErrNoDevice)
	checkErrno(t, "Submit after unplug", out.Submit(&hw.Transfer{Buf: frame(0, 60)}), hw.ErrNoDevice)
	s, buf := getDesc(hw.DescDevice, 0, 0, 18)
	_, err := d.Control(r.ctx(t), s, buf)
	checkErrno(t, "Control after unplug", err, hw.ErrNoDevice)
	checkErrno(t, "Claim after unplug", d.Claim(l.Iface), hw.ErrNoDevice)
	for _, ep := range []hw.Endpoint{in, out} {
		if err := ep.Close(); err != nil {
			t.Errorf("Endpoint.Close after unplug: %v", err)
		}
	}
	if err := d.Release(l.Iface); err != nil {
		t.Errorf("Release after unplug: %v", err)
	}
	if err := d.Close(); err != nil {
		t.Errorf("Close after unplug: %v", err)
	}
}

// checkErrno fails unless err wraps want and names its object (*hw.Error).
func checkErrno(t *testing.T, what string, err error, want hw.Errno) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Errorf("%s: got %v, want an error wrapping %v", what, err, want)
		return
	}
	var he *hw.Error
	if !errors.As(err, &he) || he.Object == "" {
		t.Errorf("%s: %v does not name the object that failed", what, err)
	}
}
