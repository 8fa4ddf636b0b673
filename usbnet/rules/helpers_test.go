package rules

import (
	"slices"
	"testing"
	"time"

	"dongle/hw"
	"dongle/usbnet"
)

// script builds a stream of events the way decode hands them out: record
// numbers from 1, times in milliseconds from t0.
type script struct {
	t0  time.Time
	evs []usbnet.Event
}

func newScript() *script { return &script{t0: time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)} }

func (s *script) at(ms float64) time.Time {
	return s.t0.Add(time.Duration(ms * float64(time.Millisecond)))
}

// add appends e at ms and returns its record number.
func (s *script) add(ms float64, e usbnet.Event) int {
	e.Record, e.Time = len(s.evs)+1, s.at(ms)
	s.evs = append(s.evs, e)
	return e.Record
}

// urb logs a submission at sub and its completion at done (done < 0: none)
// and returns both record numbers.
func (s *script) urb(sub, done float64, xfer, ep uint8, length int, status int32) (int, int) {
	r1 := s.add(sub, usbnet.Event{Kind: usbnet.EventSubmit, Xfer: xfer, Endpoint: ep, Length: length, HostView: true})
	if done < 0 {
		return r1, 0
	}
	n := length
	if status != 0 {
		n = 0
	}
	r2 := s.add(done, usbnet.Event{Kind: usbnet.EventComplete, Xfer: xfer, Endpoint: ep, Length: n, Status: status, Submitted: s.at(sub), SubmitRecord: r1, SubmitLength: length})
	return r1, r2
}

// ctl logs a control request (OUT data on the submission, IN data on the
// completion) and returns the completion's record.
func (s *script) ctl(sub, done float64, st hw.Setup, data []byte, status int32) int {
	e := usbnet.Event{Kind: usbnet.EventSubmit, Xfer: hw.XferControl, Setup: st, HasSetup: true, Length: int(st.Length), HostView: true}
	if !st.In() {
		e.Data = data
	}
	r1 := s.add(sub, e)
	c := usbnet.Event{Kind: usbnet.EventComplete, Xfer: hw.XferControl, Setup: st, HasSetup: true, Status: status, Submitted: s.at(sub), SubmitRecord: r1}
	if st.In() {
		c.Data, c.Length = data, len(data)
	}
	return s.add(done, c)
}

func (s *script) link(ms float64, up bool) int {
	return s.add(ms, usbnet.Event{Kind: usbnet.EventLink, Up: up})
}

func (s *script) transfer(ms float64, ep uint8, length, frames int, data []byte) int {
	return s.add(ms, usbnet.Event{Kind: usbnet.EventTransfer, Xfer: hw.XferBulk, Endpoint: ep, Length: length, Frames: frames, Data: data})
}

// run feeds the script to r and returns its verdict at end (ms).
func (s *script) run(r usbnet.Rule, end float64) *usbnet.Finding {
	for i := range s.evs {
		r.Observe(&s.evs[i])
	}
	return r.Verdict(s.at(end))
}

func cited(f *usbnet.Finding) []int {
	var out []int
	for _, e := range f.Evidence {
		out = append(out, e.Record)
	}
	return out
}

// fires asserts that f is rule's finding citing exactly want, in order.
func fires(t *testing.T, f *usbnet.Finding, rule string, want ...int) {
	t.Helper()
	if f == nil {
		t.Fatalf("%s did not fire", rule)
	}
	if f.Rule != rule || f.Summary == "" || len(f.Causes) == 0 || len(f.Try) == 0 {
		t.Errorf("finding %+v: want rule %s with a summary, causes and what to try", f, rule)
	}
	if got := cited(f); !slices.Equal(got, want) {
		t.Errorf("%s cites %v, want %v", rule, got, want)
	}
	for _, e := range f.Evidence {
		if e.What == "" || e.Time.IsZero() {
			t.Errorf("%s: evidence %+v without a time or a description", rule, e)
		}
	}
}

func silent(t *testing.T, f *usbnet.Finding, why string) {
	t.Helper()
	if f != nil {
		t.Errorf("%s: %s fired: %s %v", why, f.Rule, f.Summary, cited(f))
	}
}

const (
	bulkIn   = 0x81
	bulkOut  = 0x02
	intrIn   = 0x83
	bulk     = hw.XferBulk
	intr     = hw.XferInterrupt
	stOK     = int32(0)
	ms       = 1.0
	second   = 1000.0
	setupLen = 8
)

func timeDur(k int) time.Duration { return time.Duration(k) }
