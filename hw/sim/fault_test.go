package sim_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/onsi/gomega"
	"github.com/onsi/gomega/gleak"

	"dongle/hw"
	"dongle/hw/sim"
)

func TestStallAndClearHalt(t *testing.T) {
	b := newBulk(t, 64)
	tr := &hw.Transfer{Buf: make([]byte, 64)}
	_ = b.in.Submit(tr)
	b.Stall(epIn)
	if _, err := b.in.Wait(ctxT(t)); err != nil || !errors.Is(tr.Err, hw.ErrStall) {
		t.Fatalf("in flight at Stall: %v %v", err, tr.Err)
	}
	if !strings.Contains(tr.Err.Error(), "sim:bulk bus 1 addr 3 (1234:5678): bulk IN 0x81") {
		t.Errorf("error does not name the endpoint: %v", tr.Err)
	}
	// GET_STATUS(endpoint) shows the halt; CLEAR_FEATURE(ENDPOINT_HALT) clears it.
	st := make([]byte, 2)
	if n, err := b.Control(ctxT(t), hw.Setup{RequestType: 0x82, Request: hw.ReqGetStatus, Index: epIn}, st); err != nil || n != 2 || st[0] != 1 {
		t.Errorf("GET_STATUS on a halted endpoint: %v %d %v", err, n, st)
	}
	if _, err := b.Control(ctxT(t), hw.Setup{RequestType: 0x02, Request: hw.ReqClearFeature, Index: epIn}, nil); err != nil {
		t.Fatal(err)
	}
	if s := b.Stats(epIn); s.Stalls != 1 || s.StallsCleared != 1 {
		t.Errorf("stats %+v", s)
	}
	_ = b.Host().SendIn(epIn, []byte{7})
	_ = b.in.Submit(tr)
	if _, err := b.in.Wait(ctxT(t)); err != nil || tr.Err != nil || tr.N != 1 {
		t.Errorf("after clearing: %v %v", err, tr.Err)
	}
	// Stall(0) stalls the next control request only.
	b.Stall(0)
	buf := make([]byte, 18)
	s := hw.Setup{RequestType: 0x80, Request: hw.ReqGetDescriptor, Value: 0x0100}
	if _, err := b.Control(ctxT(t), s, buf); !errors.Is(err, hw.ErrStall) {
		t.Errorf("control after Stall(0): %v", err)
	}
	if _, err := b.Control(ctxT(t), s, buf); err != nil {
		t.Errorf("second control after Stall(0): %v", err)
	}
}

func TestTimeoutNextAppliesToWaitingTransfers(t *testing.T) {
	b := newBulk(t, 64)
	trs := []*hw.Transfer{{Buf: make([]byte, 64)}, {Buf: make([]byte, 64)}, {Buf: make([]byte, 64)}}
	for _, tr := range trs {
		_ = b.in.Submit(tr)
	}
	b.TimeoutNext(epIn, 2)
	_ = b.Host().SendIn(epIn, []byte{1, 2, 3})
	for i, want := range []hw.Errno{hw.ErrTimeout, hw.ErrTimeout, 0} {
		if _, err := b.in.Wait(ctxT(t)); err != nil || hw.StatusOf(trs[i].Err) != want {
			t.Errorf("transfer %d: %v %v, want %v", i, err, trs[i].Err, want)
		}
	}
	if trs[2].N != 3 {
		t.Errorf("the data went to a timed-out transfer")
	}
	if s := b.Stats(epIn); s.Timeouts != 2 {
		t.Errorf("Timeouts = %d", s.Timeouts)
	}
}

func TestCorruptDescriptorsChangesOnlyWhatTheHostReads(t *testing.T) {
	b := newBulk(t, 64)
	b.CorruptDescriptors(func(cfg []byte) { cfg[18+4], cfg[18+5] = 0, 0 })
	c, err := hw.ReadConfig(ctxT(t), b, 0)
	if err != nil {
		t.Fatal(err)
	}
	if mp := c.Interfaces[0].Alts[0].Endpoints[0].MaxPacketSize; mp != 0 {
		t.Errorf("host reads wMaxPacketSize %d, want 0", mp)
	}
	if b.in.Desc().MaxPacketSize != 0 {
		t.Errorf("Endpoint.Desc does not show the corrupted descriptor")
	}
	// The device still packetises at 64.
	_ = b.Host().SendIn(epIn, pattern(100, 0))
	tr := &hw.Transfer{Buf: make([]byte, 64)}
	_ = b.in.Submit(tr)
	if _, err := b.in.Wait(ctxT(t)); err != nil || tr.N != 64 {
		t.Errorf("device behaviour changed: N=%d", tr.N)
	}
	b.CorruptDescriptors(func(cfg []byte) { cfg[9] = 0xf0 }) // lying bLength
	if _, err := hw.ReadConfig(ctxT(t), b, 0); err == nil {
		t.Errorf("a lying bLength parsed")
	} else {
		var de *hw.DescError
		if !errors.As(err, &de) {
			t.Errorf("not a DescError: %v", err)
		}
	}
	if !strings.Contains(strings.Join(b.Log(), "\n"), "fault: configuration descriptors corrupted") {
		t.Errorf("fault not logged: %q", b.Log())
	}
}

func TestUnplugCompletesEverything(t *testing.T) {
	b := newBulk(t, 64)
	trs := []*hw.Transfer{{Buf: make([]byte, 64)}, {Buf: make([]byte, 64)}}
	for _, tr := range trs {
		_ = b.in.Submit(tr)
	}
	done := make(chan error)
	go func() { _, err := b.in.Wait(context.Background()); done <- err }()
	b.Unplug()
	select {
	case err := <-done:
		if err != nil || !errors.Is(trs[0].Err, hw.ErrNoDevice) {
			t.Errorf("blocked Wait after Unplug: %v %v", err, trs[0].Err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Unplug did not wake a blocked Wait")
	}
	if _, err := b.in.Wait(ctxT(t)); err != nil || !errors.Is(trs[1].Err, hw.ErrNoDevice) {
		t.Errorf("second: %v", trs[1].Err)
	}
	if _, err := b.in.Wait(ctxT(t)); !errors.Is(err, hw.ErrNoDevice) {
		t.Errorf("Wait with nothing in flight after unplug: %v", err)
	}
	for name, err := range map[string]error{
		"SetConfiguration": b.SetConfiguration(1), "ClearHalt": b.ClearHalt(epIn), "Reset": b.Reset(),
		"SetAlt": b.SetAlt(0, 0), "Submit": b.out.Submit(&hw.Transfer{Buf: []byte{1}}),
	} {
		if !errors.Is(err, hw.ErrNoDevice) {
			t.Errorf("%s after unplug: %v", name, err)
		}
	}
	if _, err := b.Configuration(); !errors.Is(err, hw.ErrNoDevice) {
		t.Errorf("Configuration after unplug: %v", err)
	}
	if s := b.Stats(epIn); s.NoDevice != 2 {
		t.Errorf("NoDevice = %d", s.NoDevice)
	}
}

// After an unplug, a poller (usbnet's bottom half) and a submitter meet
// the endpoint's ErrNoDevice at once, each the first to ask for it: the
// error is made once, under the device lock (go test -race catches it
// made outside).
func TestUnpluggedErrorsRace(t *testing.T) {
	b := newBulk(t, 64)
	b.Unplug()
	polled, cancel := context.WithCancel(context.Background())
	cancel()
	errs := make(chan error, 2)
	go func() {
		var out [1]*hw.Transfer
		_, err := b.out.WaitBatch(polled, out[:])
		errs <- err
	}()
	go func() { errs <- b.out.Submit(&hw.Transfer{Buf: []byte{1}}) }()
	for range 2 {
		if err := <-errs; !errors.Is(err, hw.ErrNoDevice) {
			t.Errorf("after unplug: %v, want ErrNoDevice", err)
		}
	}
}

func TestOwnershipRules(t *testing.T) {
	b := newBulk(t, 64)
	if _, err := b.OpenEndpoint(epIn); !errors.Is(err, hw.ErrBusy) {
		t.Errorf("second OpenEndpoint: %v", err)
	}
	if err := b.SetAlt(0, 0); !errors.Is(err, hw.ErrBusy) {
		t.Errorf("SetAlt with open endpoints: %v", err)
	}
	if err := b.Claim(5); !errors.Is(err, hw.ErrNotFound) {
		t.Errorf("Claim of a missing interface: %v", err)
	}
	if err := b.SetConfiguration(1); !errors.Is(err, hw.ErrBusy) {
		t.Errorf("SetConfiguration while claimed: %v", err)
	}
	// Through a raw SET_CONFIGURATION as well.
	if _, err := b.Control(ctxT(t), hw.Setup{Request: hw.ReqSetConfiguration, Value: 1}, nil); !errors.Is(err, hw.ErrBusy) {
		t.Errorf("raw SET_CONFIGURATION while claimed: %v", err)
	}
	if n, _ := b.Control(ctxT(t), hw.Setup{RequestType: 0x80, Request: hw.ReqGetConfiguration}, make([]byte, 1)); n != 1 {
		t.Errorf("GET_CONFIGURATION n=%d", n)
	}
}

func TestResetCancelsInFlight(t *testing.T) {
	b := newBulk(t, 64)
	tr := &hw.Transfer{Buf: make([]byte, 64)}
	_ = b.in.Submit(tr)
	_ = b.Host().SendIn(epIn, pattern(128, 0)) // fills tr; 64 left queued... then flushed
	_, _ = b.in.Wait(ctxT(t))
	_ = b.in.Submit(tr)
	_, _ = b.in.Wait(ctxT(t)) // second 64
	_ = b.in.Submit(tr)
	if err := b.Reset(); err != nil {
		t.Fatal(err)
	}
	if _, err := b.in.Wait(ctxT(t)); err != nil || !errors.Is(tr.Err, hw.ErrCancelled) {
		t.Errorf("after reset: %v", tr.Err)
	}
	if c, _ := b.Configuration(); c != 1 {
		t.Errorf("configuration lost at reset")
	}
}

func TestWaitHonoursContextWithoutLeaking(t *testing.T) {
	g := gomega.NewWithT(t)
	before := gleak.Goroutines()
	b := newBulk(t, 64)
	tr := &hw.Transfer{Buf: make([]byte, 64)}
	_ = b.in.Submit(tr)
	for i := 0; i < 50; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
		if _, err := b.in.Wait(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Wait: %v", err)
		}
		cancel()
	}
	if b.in.InFlight() != 1 {
		t.Errorf("InFlight = %d", b.in.InFlight())
	}
	b.in.Cancel()
	_, _ = b.in.Wait(ctxT(t))
	g.Eventually(gleak.Goroutines).ShouldNot(gleak.HaveLeaked(before))
}

func TestShortControl(t *testing.T) {
	b := newBulk(t, 64)
	b.ShortControl(3)
	buf := make([]byte, 9)
	n, err := b.Control(ctxT(t), hw.Setup{RequestType: 0x80, Request: hw.ReqGetDescriptor, Value: 0x0200}, buf)
	if err != nil || n != 3 {
		t.Errorf("n=%d err=%v", n, err)
	}
	if _, err := hw.ReadConfig(ctxT(t), b, 0); err != nil {
		t.Errorf("next read: %v", err)
	}
	if s := b.ControlStats(); s.Shortened != 1 {
		t.Errorf("Shortened = %d", s.Shortened)
	}
	b.ShortControl(3)
	if _, err := hw.ReadConfig(ctxT(t), b, 0); !errors.Is(err, hw.ErrShort) {
		t.Errorf("ReadConfig with a 3-byte header: %v", err)
	}
}

func TestFakeScriptsTransfers(t *testing.T) {
	cfg := bulkConfig(64)
	f := sim.NewFake(&sim.Static{Device: bulkDeviceDesc, Configs: [][]byte{cfg}}, hw.Info{})
	_ = f.Claim(0)
	in, _ := f.OpenEndpoint(epIn)
	out, _ := f.OpenEndpoint(epOut)
	t1, t2 := &hw.Transfer{Buf: make([]byte, 8)}, &hw.Transfer{Buf: []byte("hello")}
	_ = in.Submit(t1)
	_ = out.Submit(t2)
	p1, err := f.Next(ctxT(t))
	if err != nil || p1.Endpoint() != epIn || !p1.In() || p1.Len() != 8 {
		t.Fatalf("first pending: %v", err)
	}
	p2, _ := f.Next(ctxT(t))
	if string(p2.Sent()) != "hello" {
		t.Errorf("Sent = %q", p2.Sent())
	}
	if err := p1.CompleteIn([]byte("too long for it"), nil); err != nil {
		t.Fatal(err)
	}
	if _, _ = in.Wait(ctxT(t)); !errors.Is(t1.Err, hw.ErrOverflow) || t1.N != 8 {
		t.Errorf("CompleteIn too long: %v N=%d", t1.Err, t1.N)
	}
	_ = p2.Complete(2, hw.ErrTimeout)
	if _, _ = out.Wait(ctxT(t)); !errors.Is(t2.Err, hw.ErrTimeout) || t2.N != 2 {
		t.Errorf("Complete(2, timeout): %v N=%d", t2.Err, t2.N)
	}
	if err := p2.Complete(0, nil); !errors.Is(err, hw.ErrNotFound) {
		t.Errorf("completing twice: %v", err)
	}
	// Completed out of order, reaped in order.
	a, c := &hw.Transfer{Buf: make([]byte, 4)}, &hw.Transfer{Buf: make([]byte, 4)}
	_ = in.Submit(a)
	_ = in.Submit(c)
	pa, _ := f.Next(ctxT(t))
	pc, _ := f.Next(ctxT(t))
	_ = pc.CompleteIn([]byte{2}, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Millisecond)
	defer cancel()
	if _, err := in.Wait(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Wait returned before the oldest completed: %v", err)
	}
	_ = pa.CompleteIn([]byte{1}, nil)
	if x, _ := in.Wait(ctxT(t)); x != a {
		t.Errorf("order")
	}
	if x, _ := in.Wait(ctxT(t)); x != c {
		t.Errorf("order")
	}
	// Cancel drops what the test has not taken.
	_ = in.Submit(a)
	in.Cancel()
	if f.Queued() != 0 {
		t.Errorf("Queued = %d after Cancel", f.Queued())
	}
	if _, _ = in.Wait(ctxT(t)); !errors.Is(a.Err, hw.ErrCancelled) {
		t.Errorf("%v", a.Err)
	}
	_ = in.Close()
	_ = out.Close()
	_ = f.Release(0)
	if err := f.Close(); err != nil {
		t.Error(err)
	}
}

func TestWire(t *testing.T) {
	w := sim.NewWire()
	capA, capB := sim.NewCapture(), sim.NewCapture()
	w.A().Attach(capA)
	w.B().Attach(capB)
	var tapped []int
	remove := w.Tap(func(from *sim.End, f []byte) { tapped = append(tapped, len(f)) })
	if !w.A().Send([]byte{1, 2, 3}) || !w.B().Send([]byte{4}) {
		t.Fatal("send failed")
	}
	if got := capB.Frames(); len(got) != 1 || len(got[0]) != 3 {
		t.Errorf("B got %v", got)
	}
	if got := capA.Frames(); len(got) != 1 || got[0][0] != 4 {
		t.Errorf("A got %v", got)
	}
	w.SetCut(true)
	if w.A().Send([]byte{9}) {
		t.Errorf("cut wire delivered")
	}
	remove()
	w.SetCut(false)
	w.A().Send([]byte{5, 5})
	if len(tapped) != 3 || w.Lost(0) != 1 || w.Sent(0) != 3 {
		t.Errorf("tapped %v lost %d sent %d", tapped, w.Lost(0), w.Sent(0))
	}
	if _, err := capB.WaitFor(ctxT(t), 2); err != nil {
		t.Error(err)
	}
	lw := sim.NewWire()
	c := sim.NewCapture()
	lw.A().Attach(c)
	l := sim.NewLoopback(lw.B())
	lw.A().Send([]byte{1})
	if c.Len() != 1 || l.Count() != 1 {
		t.Errorf("loopback")
	}
}
