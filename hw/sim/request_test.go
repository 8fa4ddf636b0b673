package sim_test

import (
	"errors"
	"strings"
	"testing"

	"dongle/hw"
	"dongle/hw/sim"
)

func TestRequestLogKeepsCopiesOfWhatWasSentAndAnswered(t *testing.T) {
	var l sim.RequestLog
	in := hw.Setup{RequestType: 0xc0, Request: 1, Length: 8}
	out := hw.Setup{RequestType: 0x40, Request: 2, Length: 2}
	buf := []byte{1, 2, 3, 4, 5, 6, 7, 8}
	l.Log(in, buf, 3, nil)          // an IN answer of 3 bytes
	l.Log(out, buf[:2], 0, nil)     // OUT: all the host sent
	l.Log(in, buf, 99, nil)         // n past the buffer: the buffer
	l.Log(in, buf, -1, hw.ErrStall) // stalled, nothing answered
	buf[0] = 0xee                   // the log holds copies
	got := l.Requests()
	want := [][]byte{{1, 2, 3}, {1, 2}, {1, 2, 3, 4, 5, 6, 7, 8}, nil}
	if len(got) != len(want) {
		t.Fatalf("%d requests logged, want %d", len(got), len(want))
	}
	for i, r := range got {
		if string(r.Data) != string(want[i]) {
			t.Errorf("request %d: data % x, want % x", i, r.Data, want[i])
		}
	}
	if got[1].Setup != out || got[1].Stalled() || !got[3].Stalled() || !errors.Is(got[3].Err, hw.ErrStall) {
		t.Errorf("setup or stall lost: %v", got)
	}
	if s := got[3].String(); !strings.Contains(s, "STALL") {
		t.Errorf("a stalled request prints %q", s)
	}
	if s := got[0].String(); strings.Contains(s, "STALL") || !strings.Contains(s, "01 02 03") {
		t.Errorf("an answered request prints %q", s)
	}
	if st := l.Stalled(); len(st) != 1 || st[0].Setup != in {
		t.Errorf("Stalled() = %v, want the one stalled request", st)
	}
	got[0] = sim.Request{}
	if l.Requests()[0].Setup != in {
		t.Error("Requests returns the log's own slice")
	}
	l.ClearRequests()
	if n := len(l.Requests()); n != 0 {
		t.Errorf("%d requests after ClearRequests", n)
	}
}
