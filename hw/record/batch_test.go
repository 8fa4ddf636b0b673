package record_test

import (
	"bytes"
	"context"
	"slices"
	"testing"
	"time"

	"dongle/hw"
	"dongle/hw/hwtest"
	"dongle/hw/record"
	"dongle/hw/record/recordtest"
	"dongle/hw/sim"
	"dongle/hw/sim/ecm"
	"dongle/hw/usbmon"
)

// reapFunc reaps want transfers from ep, the way a test wants to.
type reapFunc func(t *testing.T, ep hw.Endpoint, want int) []*hw.Transfer

func reapWait(t *testing.T, ep hw.Endpoint, want int) []*hw.Transfer {
	t.Helper()
	var got []*hw.Transfer
	for range want {
		tr, err := ep.Wait(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, tr)
	}
	return got
}

// reapBatch reaps with one WaitBatch call, which must return all want.
func reapBatch(t *testing.T, ep hw.Endpoint, want int) []*hw.Transfer {
	t.Helper()
	out := make([]*hw.Transfer, want+2)
	n, err := ep.WaitBatch(context.Background(), out)
	if err != nil {
		t.Fatal(err)
	}
	if n != want {
		t.Fatalf("WaitBatch returned %d transfers, want all %d done: the recorder did not pass the backend's batch on", n, want)
	}
	return out[:n]
}

// echoTrace records the echo device while three OUT frames (one of them
// full-packet, so a ZLP follows it) and their three IN echoes are
// submitted and then reaped with reap, and returns the trace, written with
// a clock that ticks 1 ms per record, and what was reaped.
func echoTrace(t *testing.T, reap reapFunc) ([]byte, [][]byte) {
	t.Helper()
	var trace bytes.Buffer
	clock := time.Unix(1700000000, 0)
	rec, eps := openRecorded(t, recordtest.NewEcho(), &trace, record.Options{Now: func() time.Time { clock = clock.Add(time.Millisecond); return clock }}, 0x82, 0x02)
	in, out := eps[0], eps[1]
	sends := [][]byte{recordtest.Frames[0], recordtest.Frames[1], {}, recordtest.Frames[2]}
	for _, f := range sends {
		if err := out.Submit(&hw.Transfer{Buf: f}); err != nil {
			t.Fatal(err)
		}
	}
	for range recordtest.Frames {
		if err := in.Submit(&hw.Transfer{Buf: make([]byte, 512)}); err != nil {
			t.Fatal(err)
		}
	}
	var got [][]byte
	for i, tr := range reap(t, out, len(sends)) {
		if !bytes.Equal(tr.Buf, sends[i]) || tr.Err != nil {
			t.Fatalf("OUT %d: %q, %v; want %q, nil (out of order?)", i, tr.Buf, tr.Err, sends[i])
		}
	}
	for _, tr := range reap(t, in, len(recordtest.Frames)) {
		got = append(got, tr.Data())
	}
	closeRecorded(t, rec, in, out)
	return trace.Bytes(), got
}

// TestWaitBatchRecordsAsWait: a batch reaped with one WaitBatch is logged
// exactly as the same transfers reaped with Wait one by one: the same
// records, ids, data and timestamps, byte for byte, each 'C' after the
// last 'S' in submission order; and the backend's batch reaches the caller
// whole.
func TestWaitBatchRecordsAsWait(t *testing.T) {
	byWait, echoWait := echoTrace(t, reapWait)
	byBatch, echoBatch := echoTrace(t, reapBatch)
	if !slices.EqualFunc(echoBatch, recordtest.Frames, bytes.Equal) || !slices.EqualFunc(echoWait, recordtest.Frames, bytes.Equal) {
		t.Fatalf("echoes: WaitBatch %q, Wait %q; want %q", echoBatch, echoWait, recordtest.Frames)
	}
	if !bytes.Equal(byBatch, byWait) {
		t.Errorf("the trace of a WaitBatch reap (%d bytes) differs from the trace of the same transfers reaped by Wait (%d bytes)", len(byBatch), len(byWait))
	}
	recs, _, err := usbmon.ReadAll(bytes.NewReader(byBatch))
	if err != nil {
		t.Fatal(err)
	}
	var kinds string
	var last time.Time
	subs := map[uint8][]uint64{}
	for i, r := range recs {
		kinds += string(rune(r.Type))
		if ts := r.Time(); !ts.After(last) {
			t.Errorf("record %d at %v, not after the previous (%v)", i, ts, last)
		} else {
			last = ts
		}
		switch r.Type {
		case usbmon.Submit:
			subs[r.Endpoint] = append(subs[r.Endpoint], r.ID)
		case usbmon.Complete:
			if len(subs[r.Endpoint]) == 0 || subs[r.Endpoint][0] != r.ID {
				t.Fatalf("record %d: 'C' of URB %#x on %#02x; want the oldest submitted, %#x", i, r.ID, r.Endpoint, subs[r.Endpoint])
			}
			subs[r.Endpoint] = subs[r.Endpoint][1:]
		}
	}
	if kinds != "SSSSSSSCCCCCCC" {
		t.Errorf("records %s; want 7 'S' then 7 'C'", kinds)
	}
}

// reversing returns each batch its endpoint's WaitBatch reaps in reverse:
// a backend that breaks submission order (a bug the recorder still pairs).
type reversing struct{ hw.Device }

func (d reversing) OpenEndpoint(addr uint8) (hw.Endpoint, error) {
	ep, err := d.Device.OpenEndpoint(addr)
	return reversedEP{ep}, err
}

type reversedEP struct{ hw.Endpoint }

func (e reversedEP) WaitBatch(ctx context.Context, out []*hw.Transfer) (int, error) {
	n, err := e.Endpoint.WaitBatch(ctx, out)
	slices.Reverse(out[:n])
	return n, err
}

// TestOutOfOrderPairs: transfers a backend returns out of submission order
// are logged with their own URB ids, and later ones still pair.
func TestOutOfOrderPairs(t *testing.T) {
	var trace bytes.Buffer
	rec, eps := openRecorded(t, reversing{recordtest.NewEcho()}, &trace, record.Options{}, 0x02)
	out := eps[0]
	// Lengths 1..4, then 5..7: each 'C' must carry its own 'S''s id.
	reapN := func(first, k int) {
		for i := range k {
			if err := out.Submit(&hw.Transfer{Buf: make([]byte, first+i)}); err != nil {
				t.Fatal(err)
			}
		}
		got := make([]*hw.Transfer, k)
		if n, err := out.WaitBatch(context.Background(), got); err != nil || n != k {
			t.Fatalf("WaitBatch: %d, %v; want %d", n, err, k)
		}
		if len(got[0].Buf) != first+k-1 {
			t.Fatalf("the reversing backend returned %d bytes first, want %d", len(got[0].Buf), first+k-1)
		}
	}
	reapN(1, 4)
	reapN(5, 3)
	closeRecorded(t, rec, out)
	recs, _, err := usbmon.ReadAll(&trace)
	if err != nil {
		t.Fatal(err)
	}
	urbs := usbmon.Pair(recs)
	if len(urbs) != 7 {
		t.Fatalf("%d URBs, want 7", len(urbs))
	}
	for i, u := range urbs {
		if u.Submit == nil || u.Complete == nil {
			t.Fatalf("URB %d is not paired: %+v", i, u)
		}
		if u.Complete.Length != u.Submit.Length {
			t.Errorf("URB %#x: submitted %d bytes, completed %d: the 'C' carries another transfer's id", u.Submit.ID, u.Submit.Length, u.Complete.Length)
		}
	}
}

// faultingRecorder is a recorder that offers the recorded sim device's
// fault injection, so the conformance set's fault subtests run through it.
type faultingRecorder struct {
	*record.Device
	sim *sim.Device
}

var _ hwtest.Faulter = faultingRecorder{}

func (f faultingRecorder) Stall(ep uint8)              { f.sim.Stall(ep) }
func (f faultingRecorder) Unplug()                     { f.sim.Unplug() }
func (f faultingRecorder) TimeoutNext(ep uint8, n int) { f.sim.TimeoutNext(ep, n) }
func (f faultingRecorder) ShortControl(n int)          { f.sim.ShortControl(n) }

// TestConformance runs the conformance set through the recorder, in front
// of the ECM model with a loopback plug: a recorded device is a device.
func TestConformance(t *testing.T) {
	hwtest.Run(t, func(t *testing.T) hw.Device {
		d, m := ecm.NewDevice(ecm.Options{})
		w := sim.NewWire()
		m.Connect(w.A())
		sim.NewLoopback(w.B())
		rec, err := record.New(d, &bytes.Buffer{}, record.Options{})
		if err != nil {
			t.Fatal(err)
		}
		return faultingRecorder{rec, d}
	}, hwtest.Options{})
}

// foreign returns, in place of the first transfer each WaitBatch reaps, a
// transfer that was never submitted through the recorder (a backend bug).
type foreign struct{ hw.Device }

func (d foreign) OpenEndpoint(addr uint8) (hw.Endpoint, error) {
	ep, err := d.Device.OpenEndpoint(addr)
	return foreignEP{ep}, err
}

type foreignEP struct{ hw.Endpoint }

func (e foreignEP) WaitBatch(ctx context.Context, out []*hw.Transfer) (int, error) {
	n, err := e.Endpoint.WaitBatch(ctx, out)
	if n > 0 {
		out[0] = &hw.Transfer{Buf: []byte{1, 2, 3}, N: 3}
	}
	return n, err
}

// TestForeignTransfer: a transfer the recorder never saw submitted is
// logged with URB id 0 (unpaired), without disturbing the ids of the
// transfers it did see.
func TestForeignTransfer(t *testing.T) {
	var trace bytes.Buffer
	rec, eps := openRecorded(t, foreign{recordtest.NewEcho()}, &trace, record.Options{}, 0x02)
	out := eps[0]
	for range 2 {
		if err := out.Submit(&hw.Transfer{Buf: make([]byte, 10)}); err != nil {
			t.Fatal(err)
		}
	}
	got := make([]*hw.Transfer, 2)
	if n, err := out.WaitBatch(context.Background(), got); err != nil || n != 2 {
		t.Fatalf("WaitBatch: %d, %v", n, err)
	}
	closeRecorded(t, rec, out)
	recs, _, err := usbmon.ReadAll(&trace)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 4 {
		t.Fatalf("%d records, want 2 'S' and 2 'C'", len(recs))
	}
	if c := recs[2]; c.Type != usbmon.Complete || c.ID != 0 || c.Length != 3 {
		t.Errorf("the foreign transfer's 'C': type %c id %#x length %d; want 'C', id 0, 3 bytes", rune(c.Type), c.ID, c.Length)
	}
	if c := recs[3]; c.Type != usbmon.Complete || c.ID != recs[1].ID {
		t.Errorf("the second transfer's 'C' has id %#x, want its 'S''s %#x", c.ID, recs[1].ID)
	}
}

// TestFullBufferIn: an IN transfer that fills its buffer exactly is logged
// with all its data.
func TestFullBufferIn(t *testing.T) {
	var trace bytes.Buffer
	rec, eps := openRecorded(t, recordtest.NewEcho(), &trace, record.Options{}, 0x82, 0x02)
	in, out := eps[0], eps[1]
	f := recordtest.Frames[0]
	tin, tout := &hw.Transfer{Buf: make([]byte, len(f))}, &hw.Transfer{Buf: f}
	if err := in.Submit(tin); err != nil {
		t.Fatal(err)
	}
	if err := out.Submit(tout); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, ep := range []hw.Endpoint{out, in} {
		if tr, err := ep.Wait(ctx); err != nil || tr.Err != nil {
			t.Fatalf("%v, %v", err, tr)
		}
	}
	if tin.N != len(tin.Buf) {
		t.Fatalf("the IN transfer got %d of %d bytes, want it full", tin.N, len(tin.Buf))
	}
	closeRecorded(t, rec, in, out)
	recs, _, err := usbmon.ReadAll(&trace)
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range usbmon.Pair(recs) {
		if u.Endpoint() == 0x82 && !bytes.Equal(u.Data(), f) {
			t.Errorf("the full IN transfer is logged with %d bytes of data, want the %d-byte frame", len(u.Data()), len(f))
		}
	}
}

// openRecorded records dev into trace, with interface 0 claimed and the
// given endpoints open.
func openRecorded(t *testing.T, dev hw.Device, trace *bytes.Buffer, opts record.Options, addrs ...uint8) (*record.Device, []hw.Endpoint) {
	t.Helper()
	rec, err := record.New(dev, trace, opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := rec.Claim(0); err != nil {
		t.Fatal(err)
	}
	eps := make([]hw.Endpoint, len(addrs))
	for i, a := range addrs {
		if eps[i], err = rec.OpenEndpoint(a); err != nil {
			t.Fatal(err)
		}
	}
	return rec, eps
}

// closeRecorded closes eps and rec, as a driver would, so that everything
// recorded is in the trace.
func closeRecorded(t *testing.T, rec *record.Device, eps ...hw.Endpoint) {
	t.Helper()
	for _, ep := range eps {
		if err := ep.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if err := rec.Release(0); err != nil {
		t.Fatal(err)
	}
	if err := rec.Close(); err != nil {
		t.Fatal(err)
	}
}
