package replay_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"dongle/hw"
	"dongle/hw/replay"
	"dongle/hw/usbmon"
)

// fuzzStatuses are the completion statuses FuzzModelFaults draws from:
// every class the model sorts statuses into, malformed ones included.
var fuzzStatuses = []int32{0, 0, 0, -usbmon.EPIPE, -usbmon.EPROTO, -usbmon.ETIME, -usbmon.ETIMEDOUT, -usbmon.ENOENT,
	-usbmon.ECONNRESET, -usbmon.ENODEV, -usbmon.ESHUTDOWN, -usbmon.EOVERFLOW, -usbmon.EREMOTEIO, -115, 7, -9999}

// fuzzTrace turns bytes into a bulk trace, three bytes a URB: what (IN,
// OUT, clear-halt, an unpaired completion, a refused submission), its
// status, its length. It uses faultTrace, the builder of the fault specs.
func fuzzTrace(b []byte) []usbmon.Record {
	f := &faultTrace{}
	for i := 0; i+3 <= len(b); i += 3 {
		st := fuzzStatuses[int(b[i+1])%len(fuzzStatuses)]
		n := int(b[i+2])
		data := make([]byte, n)
		switch b[i] % 6 {
		case 0, 1:
			f.in(st, data)
		case 2:
			f.out(st, data)
		case 3:
			f.clearHaltStatus([]uint8{0x82, 0x02}[n%2], st)
		case 4: // a completion whose submission the capture lacks
			f.raw(usbmon.Record{ID: f.next(), Type: 'C', XferType: usbmon.XferBulk, Endpoint: 0x82, FlagSetup: '-', Status: st, Length: uint32(n), Data: data})
		case 5: // a refused submission
			id := f.next()
			f.raw(usbmon.Record{ID: id, Type: 'S', XferType: usbmon.XferBulk, Endpoint: 0x02, FlagSetup: '-', Length: uint32(n), Data: data})
			f.raw(usbmon.Record{ID: id, Type: 'E', XferType: usbmon.XferBulk, Endpoint: 0x02, FlagSetup: '-', Status: st})
		}
	}
	return f.recs
}

// FuzzModelFaults: whatever statuses a trace holds, a model replay never
// panics, never hangs a transfer it can answer, fails transfers only with
// hw statuses, and stays gone once unplugged.
func FuzzModelFaults(f *testing.F) {
	f.Add([]byte{0, 0, 10, 0, 3, 0, 3, 0, 0, 0, 0, 20}, []byte{0, 0, 2, 0, 0})
	f.Add([]byte{2, 0, 30, 2, 3, 40, 3, 0, 1, 2, 0, 40}, []byte{1, 1, 2, 1, 1})
	f.Add([]byte{0, 0, 64, 0, 4, 0, 4, 3, 0, 0, 9, 0, 5, 9, 4}, []byte{0, 0, 0, 1, 0})
	f.Add([]byte{0, 13, 5, 0, 14, 5, 0, 15, 5, 0, 7, 0}, []byte{0, 0, 0, 0})
	f.Fuzz(fuzzModel)
}

func fuzzModel(t *testing.T, trace, steps []byte) {
	recs := fuzzTrace(trace)
	if len(recs) == 0 || len(trace) > 3*256 || len(steps) > 64 {
		return
	}
	d, err := replay.NewModel(recs, replay.ModelOptions{Name: "fuzz", Logf: func(string, ...any) {}})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Claim(0); err != nil {
		t.Fatal(err)
	}
	in, errIn := d.OpenEndpoint(0x82)
	out, errOut := d.OpenEndpoint(0x02)
	done, cancel := context.WithCancel(context.Background())
	cancel() // Wait only collects what already completed
	check := func(t *hw.Transfer) {
		if t.Err != nil && hw.StatusOf(t.Err) == hw.ErrIO && !errors.Is(t.Err, hw.ErrIO) {
			panic("transfer error carries no hw status: " + t.Err.Error())
		}
	}
	for _, s := range steps {
		gone := d.Stats().Unplugged
		switch s % 3 {
		case 0:
			if errIn != nil {
				continue
			}
			err := in.Submit(&hw.Transfer{Buf: make([]byte, 64*(1+int(s)%4))})
			if gone && !errors.Is(err, hw.ErrNoDevice) {
				t.Fatalf("submit after the unplug: %v", err)
			}
			if tr, err := in.Wait(done); err == nil {
				check(tr)
			}
		case 1:
			if errOut != nil {
				continue
			}
			if err := out.Submit(&hw.Transfer{Buf: make([]byte, int(s))}); err == nil {
				// A bounded wait: a transfer that never completes is a
				// failure with a message, not a hung fuzzer.
				ctx, stop := context.WithTimeout(context.Background(), 2*time.Second)
				tr, err := out.Wait(ctx)
				stop()
				if err != nil {
					t.Fatalf("OUT transfers complete at once: %v", err)
				}
				check(tr)
			}
		case 2:
			_ = d.ClearHalt([]uint8{0x82, 0x02}[int(s/3)%2])
		}
	}
	for _, ep := range []hw.Endpoint{in, out} {
		if ep == nil {
			continue
		}
		ep.Cancel()
		for ep.InFlight() > 0 {
			ctx, stop := context.WithTimeout(context.Background(), 2*time.Second)
			_, err := ep.Wait(ctx)
			stop()
			if err != nil {
				t.Fatalf("a cancelled transfer did not complete: %v", err)
			}
		}
		if err := ep.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if err := d.Release(0); err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
}
