package rules

import (
	"strings"
	"testing"

	"dongle/hw"
	"dongle/usbnet"
)

// Thresholds met exactly, counters past what is cited, and texts that
// must not say what did not happen.

func TestLinkNeedsFilterExactThresholds(t *testing.T) {
	s := newScript()
	poll := s.add(0, usbnet.Event{Kind: usbnet.EventSubmit, Xfer: intr, Endpoint: intrIn})
	filter := s.ctl(1000, 1000.5, setFilter, nil, stOK) - 1 // polled exactly FilterPoll
	up := s.link(2000, true)                                // exactly FilterLag after
	fires(t, s.run(&linkNeedsFilter{}, 3000), "link-needs-filter", poll, filter, up)
}

func TestRxStarvationExactThresholdsAndCounts(t *testing.T) {
	s := newScript()
	want := starve(s, 10, 100, 5) // a gap of exactly StarveGap, data exactly StarveQuick after
	// A device-side submission is not counted outstanding: its
	// completion must not take the count below zero.
	s.add(500, usbnet.Event{Kind: usbnet.EventSubmit, Xfer: bulk, Endpoint: bulkIn})
	s.add(501, usbnet.Event{Kind: usbnet.EventComplete, Xfer: bulk, Endpoint: bulkIn, Length: 60, SubmitRecord: len(s.evs)})
	want = append(want, starve(s, 1000, 100, 5)...)
	fires(t, s.run(&rxStarve{}, 3000), "rx-starvation", want...)

	s = newScript()
	for _, t0 := range []float64{10, 1000} {
		s.urb(t0-10, t0, bulk, bulkIn, 2048, stOK)
		s.add(t0+200, usbnet.Event{Kind: usbnet.EventSubmit, Xfer: bulk, Endpoint: bulkIn, Length: 2048, HostView: true})
		s.add(t0+201, usbnet.Event{Kind: usbnet.EventComplete, Xfer: bulk, Endpoint: bulkIn, SubmitRecord: len(s.evs), Submitted: s.at(t0 + 200)})
	}
	silent(t, s.run(&rxStarve{}, 3000), "zero-length completions after the gaps")
}

func TestErrorStormAfterScatteredErrors(t *testing.T) {
	s := newScript()
	for i := 0; i < 2*StormCount; i++ { // one a second: no storm
		s.urb(float64(i)*1000, float64(i)*1000, bulk, bulkIn, 2048, stEPROTO)
	}
	_, first := s.urb(30000, 30000, intr, intrIn, 8, stETIMEDOUT)
	want := []int{first}
	for i := 1; i < StormCount; i++ {
		_, c := s.urb(30000+float64(i), 30000+float64(i), bulk, bulkIn, 2048, stEPROTO)
		want = append(want, c)
	}
	f := s.run(&errorStorm{}, 40000)
	fires(t, f, "error-storm", want...)
	// By count, most first; no empty status counted.
	if !strings.Contains(f.Summary, "-71 EPROTO ×9, -110 ETIMEDOUT ×1") || strings.Contains(f.Summary, "×0") {
		t.Errorf("summary %q", f.Summary)
	}
}

func TestDeviceVanishedCountsPastCited(t *testing.T) {
	s := newScript()
	s.urb(0, 1, bulk, bulkIn, 60, stOK)
	var want []int
	for i := 0; i < MaxCited+4; i++ {
		_, c := s.urb(2, 3, bulk, bulkIn, 2048, stESHUTDOWN)
		if i < MaxCited {
			want = append(want, c)
		}
	}
	f := s.run(&deviceVanished{}, 10)
	fires(t, f, "device-vanished", want...)
	if f.Summary != "20 URB(s) failed as the device went" {
		t.Errorf("summary %q", f.Summary)
	}
}

func TestEngineOrder(t *testing.T) {
	s := newScript()
	s.urb(0, 1, bulk, bulkIn, 60, stOK) // traffic
	_, inHalt := s.urb(0, 2, bulk, bulkIn, 2048, stEPIPE)
	s.urb(0, 2.5, bulk, bulkOut, 60, stOK) // the device still answers: the halt is not the vanishing's
	_, gone := s.urb(0, 3, bulk, bulkOut, 60, stESHUTDOWN)
	_, outHalt := s.urb(0, 4, bulk, bulkOut, 64, stEPIPE)
	g := NewEngine([]usbnet.Rule{&deviceVanished{}, &haltNotCleared{}})
	for i := range s.evs {
		g.Observe(&s.evs[i])
	}
	e := usbnet.Event{Kind: usbnet.EventPending, Xfer: hw.XferBulk, Endpoint: bulkIn, Record: 99, Time: s.at(5000)} // the end
	g.Observe(&e)
	fs := g.Findings()
	// halt-not-cleared cites OUT (record 8) before IN (record 4): its
	// first record is 4, before device-vanished's 6.
	if len(fs) != 2 || fs[0].Rule != "halt-not-cleared" || fs[1].Rule != "device-vanished" ||
		cited(&fs[0])[0] != outHalt || cited(&fs[0])[1] != inHalt || cited(&fs[1])[0] != gone {
		t.Errorf("findings %v", fs)
	}

	// Two rules citing the same first record keep the catalogue's order.
	s = newScript()
	for i := 0; i < StormCount; i++ {
		s.urb(float64(i), float64(i), bulk, bulkIn, 2048, stEPIPE)
	}
	g = NewEngine([]usbnet.Rule{&errorStorm{}, &haltNotCleared{}})
	for i := range s.evs {
		g.Observe(&s.evs[i])
	}
	g.Observe(&e)
	fs = g.Findings()
	if len(fs) != 2 || fs[0].Rule != "error-storm" || fs[1].Rule != "halt-not-cleared" || cited(&fs[0])[0] != cited(&fs[1])[0] {
		t.Errorf("findings %v", fs)
	}
}

func TestTimelineEdges(t *testing.T) {
	tl := NewTimeline()
	for i := 0; i < MaxBuckets; i++ {
		e := usbnet.Event{Kind: usbnet.EventTransfer, Time: newScript().at(float64(i) * 10), Endpoint: bulkIn, Frames: 1}
		tl.Observe(&e)
	}
	if tl.Interval != FirstInterval || len(tl.Buckets) != MaxBuckets {
		t.Fatalf("%d buckets of %v: full, not yet coarsened", len(tl.Buckets), tl.Interval)
	}
	e := usbnet.Event{Kind: usbnet.EventTransfer, Time: newScript().at(float64(MaxBuckets) * 10), Endpoint: bulkIn, Frames: 1}
	tl.Observe(&e)
	if tl.Interval != 2*FirstInterval || len(tl.Buckets) != MaxBuckets/2+1 || tl.Buckets[0].RxFrames != 2 {
		t.Fatalf("%d buckets of %v after one more", len(tl.Buckets), tl.Interval)
	}

	tl = NewTimeline()
	for i := 0; i < 5; i++ {
		e := usbnet.Event{Kind: usbnet.EventTransfer, Time: newScript().at(float64(i) * 10), Endpoint: bulkIn, Frames: i}
		tl.Observe(&e)
	}
	for _, c := range []struct{ n, rows, k int }{{5, 5, 1}, {4, 3, 2}, {3, 3, 2}, {2, 2, 4}, {1, 1, 8}} {
		rows, iv := tl.Rows(c.n)
		if len(rows) != c.rows || iv != FirstInterval*timeDur(c.k) {
			t.Errorf("Rows(%d): %d rows of %v, want %d of %v", c.n, len(rows), iv, c.rows, FirstInterval*timeDur(c.k))
		}
	}
	var b strings.Builder
	tl.WriteText(&b, 10)
	if strings.Contains(b.String(), "SET_CONFIGURATION") || strings.Contains(b.String(), "device appears") || strings.Contains(b.String(), "*") || strings.Contains(b.String(), "×") {
		t.Errorf("a quiet timeline's text names events:\n%s", b.String())
	}
}
