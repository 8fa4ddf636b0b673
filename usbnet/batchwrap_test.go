package usbnet_test

import (
	"bytes"
	"context"
	"io"
	"runtime/pprof"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"dongle/hw"
	"dongle/hw/record"
	"dongle/hw/replay"
	"dongle/hw/sim"
	"dongle/hw/sim/ecm"
	"dongle/skbuff"
	"dongle/usbnet"
	"dongle/usbnet/cdcecm"
)

// gate holds usbnet's bulk IN polls at the door of WaitBatch until it is
// opened, so that transfers complete behind it and the bottom half then
// finds several done at once: the batch a wrapper must pass on. As
// hw.Endpoint.Notify asks of a wrapper that holds completions back, the
// gate wakes the bottom half when it opens.
type gate struct {
	open   chan struct{}
	parked chan struct{} // closed once a reap has been turned away at the closed gate
	notify atomic.Pointer[func()]
}

func newGate() *gate { return &gate{open: make(chan struct{}), parked: make(chan struct{})} }

func (g *gate) release() {
	select {
	case <-g.open:
	default:
		close(g.open)
		if fn := g.notify.Load(); fn != nil && *fn != nil {
			(*fn)()
		}
	}
}

// gatedDev is the device usbnet binds: its bulk IN endpoint waits at g.
type gatedDev struct {
	hw.Device
	g *gate
}

func (d gatedDev) OpenEndpoint(addr uint8) (hw.Endpoint, error) {
	ep, err := d.Device.OpenEndpoint(addr)
	if err != nil || !ep.Desc().In() || ep.Desc().Type() != hw.XferBulk {
		return ep, err
	}
	return gatedEP{ep, d.g}, nil
}

type gatedEP struct {
	hw.Endpoint
	g *gate
}

var _ hw.Endpoint = gatedEP{}

// Notify passes fn on (a call while the gate is closed only finds it
// closed) and keeps it for release.
func (e gatedEP) Notify(fn func()) {
	e.g.notify.Store(&fn)
	e.Endpoint.Notify(fn)
}

func (e gatedEP) wait(ctx context.Context) error {
	select {
	case <-e.g.open:
		return nil
	default:
	}
	select {
	case <-e.g.parked:
	default:
		close(e.g.parked) // only the bottom half gets here
	}
	select {
	case <-e.g.open:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (e gatedEP) Wait(ctx context.Context) (*hw.Transfer, error) {
	if err := e.wait(ctx); err != nil {
		return nil, err
	}
	return e.Endpoint.Wait(ctx)
}

func (e gatedEP) WaitBatch(ctx context.Context, out []*hw.Transfer) (int, error) {
	if err := e.wait(ctx); err != nil {
		return 0, err
	}
	return e.Endpoint.WaitBatch(ctx, out)
}

// wrapped is a device whose endpoints wrap wraps. By default that is
// hidingEP, a wrapper that hides batching, the bug the test must catch:
// its WaitBatch reaps one transfer per call, as a wrapper that reaps with
// Wait (or that type-asserted an optional batching interface it did not
// forward) would.
type wrapped struct {
	hw.Device
	wrap func(hw.Endpoint) hw.Endpoint // nil: hidingEP
}

func (d wrapped) OpenEndpoint(addr uint8) (hw.Endpoint, error) {
	ep, err := d.Device.OpenEndpoint(addr)
	if err != nil || d.wrap == nil {
		return hidingEP{ep}, err
	}
	return d.wrap(ep), nil
}

type hidingEP struct{ hw.Endpoint }

func (e hidingEP) WaitBatch(ctx context.Context, out []*hw.Transfer) (int, error) {
	return e.Endpoint.WaitBatch(ctx, out[:1])
}

// TestWrappersPassBatchesOn: whatever wraps the backend (the recorder,
// which the suite puts around every device; a replay backend under it),
// usbnet's bottom half gets every transfer that completed while it was
// away in one WaitBatch: RxMaxBatch is the whole run, not 1. The gate holds
// the bottom half's polls back while the run completes, so the numbers are exact. The
// "hidden" case is the control: a wrapper reaping one at a time between
// usbnet and the recorder drives RxMaxBatch to 1, which the real cases
// would fail on.
func TestWrappersPassBatchesOn(t *testing.T) {
	const frames = 6 // bulk IN transfers completed behind the gate (< MinRxURBs)
	for _, c := range []struct {
		name     string
		hide     bool
		wantMax  uint64
		wantReap uint64
	}{
		{"record(sim:ecm)", false, frames, 1},
		{"hidden(record(sim:ecm))", true, 1, frames},
	} {
		t.Run(c.name, func(t *testing.T) {
			noLiveAtEnd(t)
			sd, wire, rec := recordedECM(t)
			var dev hw.Device = rec
			if c.hide {
				dev = wrapped{Device: rec}
			}
			g := newGate()
			d := openGated(t, gatedDev{dev, g}, g, rec)
			sendBehindGate(t, d, g, wire, frames)
			if st := sd.Stats(d.In.Address); st.Completed != frames {
				t.Fatalf("the model completed %d bulk IN transfers, want %d (stats %+v)", st.Completed, frames, st)
			}
			g.release()
			waitRx(t, d, frames)
			checkBatches(t, d, c.wantMax, c.wantReap)
		})
	}
}

// TestReplayPassesBatchesOn: a model replay of QEMU's usb-net under Linux's
// cdc_ether completes, from the recording, the bulk IN transfers usbnet
// submits at open, before Open returns: its 6 frames (fixture sidecar
// rx_frames). Behind the recorder, as in the suite, they reach the bottom
// half as one batch.
func TestReplayPassesBatchesOn(t *testing.T) {
	const frames = 6
	noLiveAtEnd(t)
	rd, err := replay.Open("../fixtures/qemu-usbnet-cdc_ether.pcap", replay.ModelOptions{Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := rd.(*replay.Model); !ok {
		t.Fatalf("replay.Open chose %T, want a model replay", rd)
	}
	rec, err := record.New(rd, io.Discard, record.Options{})
	if err != nil {
		t.Fatal(err)
	}
	g := newGate()
	d := openGated(t, gatedDev{rec, g}, g, rec)
	g.release()
	waitRx(t, d, frames)
	checkBatches(t, d, frames, 1)
}

// recordedECM is the ECM model on a wire, behind the recorder (as the
// suite runs every device); the caller closes rec.
func recordedECM(t *testing.T) (*sim.Device, *sim.Wire, *record.Device) {
	t.Helper()
	sd, m := ecm.NewDevice(ecm.Options{})
	wire := sim.NewWire()
	m.Connect(wire.A())
	rec, err := record.New(sd, io.Discard, record.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return sd, wire, rec
}

// sendBehindGate waits for carrier and for usbnet's bulk IN poll to be
// turned away at g, then puts n test frames on the wire: their transfers complete
// behind the gate.
func sendBehindGate(t *testing.T, d *usbnet.Dev, g *gate, wire *sim.Wire, n int) {
	t.Helper()
	for deadline := time.Now().Add(2 * time.Second); !d.Net.Carrier(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("no carrier")
		}
	}
	select {
	case <-g.parked:
	case <-time.After(2 * time.Second):
		t.Fatal("no bulk IN poll reached the gate")
	}
	frame := make([]byte, 100)
	copy(frame, d.Net.HardwareAddr())
	frame[12], frame[13] = testType>>8, testType&0xff
	for i := range n {
		if !wire.B().Send(frame) {
			t.Fatalf("frame %d lost on the wire", i)
		}
	}
}

// openGated probes dev (the gatedDev stack), opens the interface and
// registers the teardown: the gate opens first, so that Stop's bottom
// half can drain, then the stack goes down and the recorder closes the backend.
func openGated(t *testing.T, dev hw.Device, g *gate, rec *record.Device) *usbnet.Dev {
	t.Helper()
	d := probed(t, dev, cdcecm.New(), rec, g.release)
	if err := d.Net.Open(); err != nil {
		t.Fatal(err)
	}
	return d
}

func waitRx(t *testing.T, d *usbnet.Dev, n uint64) {
	t.Helper()
	for deadline := time.Now().Add(2 * time.Second); d.Net.Stats().RxPackets.Load() < n; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d frames received", d.Net.Stats().RxPackets.Load(), n)
		}
	}
}

func checkBatches(t *testing.T, d *usbnet.Dev, wantMax, wantReaps uint64) {
	t.Helper()
	c := d.Counters()
	if got := c.RxMaxBatch.Load(); got != wantMax {
		t.Errorf("RxMaxBatch %d, want %d", got, wantMax)
	}
	if got := c.RxReaps.Load(); got != wantReaps {
		t.Errorf("RxReaps %d, want %d", got, wantReaps)
	}
}

// slowFixup gives netdev's bottom half time to deliver a frame before
// each RxFixup after the first, and records whether one was delivered by
// then: a frame handed to netdev before its batch's fixups end would be.
type slowFixup struct {
	usbnet.Minidriver
	handled atomic.Bool // set by the test's handler
	calls   int
	early   atomic.Bool // a fixup saw a frame already delivered
}

func (f *slowFixup) RxFixup(d *usbnet.Dev, b *skbuff.Buff, q *skbuff.Queue) error {
	if f.calls++; f.calls > 1 {
		for deadline := time.Now().Add(30 * time.Millisecond); time.Now().Before(deadline) && !f.handled.Load(); {
			time.Sleep(time.Millisecond)
		}
		if f.handled.Load() {
			f.early.Store(true)
		}
	}
	return f.Minidriver.RxFixup(d, b, q)
}

// TestBatchHandedOverAsOneList: the frames of one batch reach netdev in one
// RxList, after the batch's fixups: no frame is delivered while a later
// transfer of its batch is still being parsed. With netdev's backlog
// bounded at 2 and its handler holding the first frame, the batch of six
// leaves two in the backlog and four dropped at once (rx_packets 6,
// rx_dropped 4), every dropped frame freed (noLiveAtEnd).
func TestBatchHandedOverAsOneList(t *testing.T) {
	const frames = 6
	noLiveAtEnd(t)
	_, wire, rec := recordedECM(t)
	g := newGate()
	drv := &slowFixup{Minidriver: cdcecm.New()}
	hold := make(chan struct{})
	entered := make(chan struct{}, frames)
	d := probed(t, gatedDev{rec, g}, drv, rec, func() {
		close(hold)
		g.release()
	})
	d.Net.MaxBacklog = 2
	d.Net.AddHandler(testType, func(b *skbuff.Buff) {
		drv.handled.Store(true)
		entered <- struct{}{}
		<-hold
		b.Free(skbuff.FreeRead)
	})
	if err := d.Net.Open(); err != nil {
		t.Fatal(err)
	}
	sendBehindGate(t, d, g, wire, frames)
	g.release()
	waitRx(t, d, frames)
	select {
	case <-entered:
	case <-time.After(2 * time.Second):
		t.Fatal("no frame reached the handler")
	}
	if drv.early.Load() {
		t.Fatal("a frame reached netdev's handler while its batch was still being parsed")
	}
	if got := d.Net.Stats().RxDropped.Load(); got != frames-2 {
		t.Fatalf("rx_dropped %d, want %d (a backlog of 2, a batch of %d)", got, frames-2, frames)
	}
	checkBatches(t, d, frames, 1)
}

// TestOpenStartsTwoGoroutines: an open ECM device runs the bottom half and
// the kevent worker, and nothing else of usbnet's: no goroutine waits on
// an endpoint (hw.Endpoint.Notify wakes the bottom half), as the package
// doc draws it. A reaper per pipe would make five.
func TestOpenStartsTwoGoroutines(t *testing.T) {
	noLiveAtEnd(t)
	_, _, rec := recordedECM(t)
	g := newGate()
	g.release()
	d := openGated(t, rec, g, rec)
	var buf bytes.Buffer
	if err := pprof.Lookup("goroutine").WriteTo(&buf, 2); err != nil {
		t.Fatal(err)
	}
	var started []string
	for _, st := range strings.Split(buf.String(), "\n\n") {
		if strings.Contains(st, "created by dongle/usbnet.") {
			started = append(started, strings.SplitN(st, "\n", 3)[1])
		}
	}
	if len(started) != 2 {
		t.Errorf("%s open: usbnet runs %d goroutines, want 2 (bottom half, kevent worker):\n%s", d.Name(), len(started), strings.Join(started, "\n"))
	}
	// The bottom half's queues have room for every transfer the device
	// owns (each RX slot, each TX slot's frame and ZLP, the status
	// transfer), so that no completion ever grows them.
	if want := d.RxURBs + 2*d.TxURBs + 1; d.DoneRoom() != want {
		t.Errorf("the done queue has room for %d completions, want %d", d.DoneRoom(), want)
	}
}

// lateCancelEP is an endpoint whose Cancel takes effect a moment later,
// as libusb's does (the OS completes a cancelled URB when it gets to it):
// Cancel only asks.
type lateCancelEP struct{ hw.Endpoint }

func (e lateCancelEP) Cancel() { time.AfterFunc(20*time.Millisecond, e.Endpoint.Cancel) }

// TestStopWaitsForLateCancellations: Stop's bottom half ends only once
// nothing is in flight, not at the first pass after Stop cancelled: with
// every bulk IN transfer still out when Stop asks, Stop returns once they
// are all back, every endpoint closes, and no buffer is live.
func TestStopWaitsForLateCancellations(t *testing.T) {
	noLiveAtEnd(t)
	sd, m := ecm.NewDevice(ecm.Options{})
	m.Connect(sim.NewWire().A())
	d, err := usbnet.Probe(wrapped{sd, func(ep hw.Endpoint) hw.Endpoint { return lateCancelEP{ep} }}, cdcecm.New())
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Net.Open(); err != nil {
		t.Fatal(err)
	}
	if err := d.Disconnect(); err != nil {
		t.Fatalf("Disconnect with every cancellation late: %v", err)
	}
	if err := sd.Close(); err != nil {
		t.Fatal(err)
	}
	if st := sd.Stats(d.In.Address); st.Cancelled == 0 || st.Completed != st.Submitted {
		t.Errorf("bulk IN: %+v; want every transfer submitted back, some cancelled", st)
	}
}
