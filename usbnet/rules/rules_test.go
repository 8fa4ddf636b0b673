package rules

import (
	"fmt"
	"strings"
	"testing"

	"dongle/hw"
	"dongle/usbnet"
)

func TestTxTimeout(t *testing.T) {
	s := newScript()
	sub, unl := s.urb(0, 5000, bulk, bulkOut, 1514, stECONNRESET)
	s.urb(10, 20, bulk, bulkOut, 60, stOK)
	stuck := s.add(100, usbnet.Event{Kind: usbnet.EventPending, Xfer: bulk, Endpoint: bulkOut, Length: 98})
	f := s.run(&txTimeout{}, 5100)
	fires(t, f, "tx-timeout", sub, unl, stuck)
	if !strings.Contains(f.Summary, "1 bulk OUT URB(s) unlinked") || !strings.Contains(f.Summary, "1 still in flight") {
		t.Errorf("summary %q", f.Summary)
	}
	if !strings.Contains(f.Evidence[0].What, "bulk OUT URB of 1514 bytes submitted") {
		t.Errorf("evidence %q: want the submission's length", f.Evidence[0].What)
	}
	if !strings.Contains(f.Evidence[1].What, "-104 ECONNRESET after 5000 ms") {
		t.Errorf("evidence %q", f.Evidence[1].What)
	}

	s = newScript()
	s.urb(0, 5000, bulk, bulkOut, 1514, stENOENT)
	fires(t, s.run(&txTimeout{}, 5000), "tx-timeout", 1, 2)
}

func TestTxTimeoutNearMisses(t *testing.T) {
	s := newScript()
	s.urb(0, 4999, bulk, bulkOut, 1514, stECONNRESET)                                                      // ifdown's unlink, not the watchdog's
	s.urb(0, 9000, bulk, bulkIn, 2048, stENOENT)                                                           // an RX URB waits as long as it likes
	s.urb(0, 9000, bulk, bulkOut, 1514, stOK)                                                              // slow, but it went
	s.urb(0, 9000, bulk, bulkOut, 1514, stEPROTO)                                                          // an error, not an unlink
	s.urb(0, 9000, intr, 0x03, 8, stENOENT)                                                                // not bulk
	s.add(9000, usbnet.Event{Kind: usbnet.EventComplete, Xfer: bulk, Endpoint: bulkOut, Status: stENOENT}) // submission not in the capture
	s.urb(4001, -1, bulk, bulkOut, 60, 0)                                                                  // in flight 4999 ms at the end
	s.urb(4001, -1, bulk, bulkIn, 60, 0)
	silent(t, s.run(&txTimeout{}, 9000), "near misses")
}

func TestErrorStorm(t *testing.T) {
	s := newScript()
	var want []int
	for i := 0; i < StormCount; i++ {
		_, c := s.urb(float64(i*100), float64(i*100)+1, bulk, bulkIn, 2048, stEPROTO)
		want = append(want, c)
	}
	_, last := s.urb(1500, 1501, intr, intrIn, 8, stETIMEDOUT)
	want = append(want, last)
	f := s.run(&errorStorm{}, 2000)
	fires(t, f, "error-storm", want...)
	if !strings.Contains(f.Summary, "11 failed URBs") || !strings.Contains(f.Summary, "-71 EPROTO ×10") || !strings.Contains(f.Summary, "-110 ETIMEDOUT ×1") {
		t.Errorf("summary %q", f.Summary)
	}

	// A window of exactly StormWindow, of every status that counts.
	s = newScript()
	want = nil
	sts := []int32{stEPROTO, stEILSEQ, stETIMEDOUT, stETIME, stEOVERFLOW, stEPIPE, stEREMOTEIO, stEPROTO, stEPROTO, stEPROTO}
	for i, st := range sts {
		_, c := s.urb(float64(i)*1000/9-1, float64(i)*1000/9, bulk, bulkOut, 64, st)
		want = append(want, c)
	}
	fires(t, s.run(&errorStorm{}, 2000), "error-storm", want...)

	// Control requests failing with protocol errors count.
	s = newScript()
	want = nil
	for i := 0; i < StormCount; i++ {
		want = append(want, s.ctl(float64(i), float64(i)+0.5, hw.Setup{RequestType: 0xc0, Request: 1, Length: 2}, nil, stEPROTO))
	}
	fires(t, s.run(&errorStorm{}, 100), "error-storm", want...)

	// Failed submissions count.
	s = newScript()
	want = nil
	for i := 0; i < StormCount; i++ {
		want = append(want, s.add(float64(i), usbnet.Event{Kind: usbnet.EventSubmitError, Xfer: bulk, Endpoint: bulkIn, Status: stEPROTO}))
	}
	fires(t, s.run(&errorStorm{}, 100), "error-storm", want...)
}

func TestErrorStormNearMisses(t *testing.T) {
	s := newScript()
	for i := 0; i < StormCount; i++ { // ten failures over 1001 ms
		s.urb(float64(i)*1001/9, float64(i)*1001/9, bulk, bulkIn, 2048, stEPROTO)
	}
	silent(t, s.run(&errorStorm{}, 3000), "10 failures over 1001 ms")

	s = newScript()
	for i := 0; i < StormCount-1; i++ {
		s.urb(float64(i), float64(i), bulk, bulkIn, 2048, stEPROTO)
	}
	silent(t, s.run(&errorStorm{}, 100), "9 failures")

	s = newScript()
	for i := 0; i < 3*StormCount; i++ {
		s.ctl(float64(i), float64(i), hw.Setup{RequestType: 0x80, Request: 6, Value: 0x0600, Length: 10}, nil, stEPIPE)
		s.ctl(float64(i), float64(i), hw.Setup{RequestType: 0xc0, Request: 6, Length: 10}, nil, stEREMOTEIO)
		s.urb(float64(i), float64(i), bulk, bulkIn, 2048, stENOENT)
		s.urb(float64(i), float64(i), bulk, bulkIn, 2048, stESHUTDOWN)
		s.urb(float64(i), float64(i), bulk, bulkIn, 2048, stOK)
	}
	silent(t, s.run(&errorStorm{}, 100), "control stalls, unlinks, a gone device")
}

func TestLinkFlap(t *testing.T) {
	s := newScript()
	s.link(0, false) // bring-up: down before the first up
	s.link(100, true)
	d1 := s.link(1000, false)
	u1 := s.link(2000, true)
	d2 := s.link(3000, false)
	u2 := s.link(4000, true)
	d3 := s.link(61000, false) // the third down exactly FlapWindow after the first
	f := s.run(&linkFlap{}, 70000)
	fires(t, f, "link-flap", d1, u1, d2, u2, d3)
	if !strings.Contains(f.Summary, "down 3 times") || f.Evidence[0].What != "link down" || f.Evidence[1].What != "link up" {
		t.Errorf("finding %+v", f)
	}
}

func TestLinkFlapNearMisses(t *testing.T) {
	s := newScript()
	s.link(0, false)
	s.link(10, true)
	s.link(20, true) // no change
	s.link(1000, false)
	s.link(2000, true)
	s.link(3000, false)
	s.link(4000, true)
	s.link(61001, false) // the third down 60.001 s after the first
	silent(t, s.run(&linkFlap{}, 70000), "3 downs over more than a minute")

	s = newScript()
	s.link(0, false)
	s.link(1, true)
	s.link(2, false)
	s.link(3, true)
	s.link(4, false)
	s.link(5, true)
	s.link(6, true)
	silent(t, s.run(&linkFlap{}, 70), "2 downs")

	s = newScript()
	s.link(1, true)
	s.link(2, false)
	s.add(3, usbnet.Event{Kind: usbnet.EventLife, Life: 2})
	s.link(4, false)
	s.link(5, true)
	s.link(6, false)
	s.link(7, true)
	s.link(8, false)
	silent(t, s.run(&linkFlap{}, 70), "downs of two lives")
}

func TestDeviceVanished(t *testing.T) {
	s := newScript()
	s.urb(0, 1, bulk, bulkIn, 60, stOK)
	_, g1 := s.urb(0, 100, bulk, bulkIn, 2048, stESHUTDOWN)
	g2 := s.add(101, usbnet.Event{Kind: usbnet.EventSubmitError, Xfer: intr, Endpoint: intrIn, Status: stENODEV})
	f := s.run(&deviceVanished{}, 200)
	fires(t, f, "device-vanished", g1, g2)
	if !strings.Contains(f.Evidence[0].What, "-108 ESHUTDOWN") {
		t.Errorf("evidence %+v", f.Evidence)
	}

	s = newScript()
	s.add(0, usbnet.Event{Kind: usbnet.EventLife, Life: 1, Bus: 1, Address: 3})
	s.urb(1, 2, bulk, bulkOut, 60, stOK)
	prev, proto := s.urb(3, 4, bulk, bulkIn, 60, stEPROTO)
	first := s.add(2500, usbnet.Event{Kind: usbnet.EventLife, Life: 2, Bus: 1, Address: 4, Gap: 2496 * 1e6, PrevRecord: prev})
	f = s.run(&deviceVanished{}, 3000)
	// The -EPROTO the life ended on is the vanishing's (dummy_hcd's way).
	fires(t, f, "device-vanished", proto, prev, first)
	if !strings.Contains(f.Summary, "1 URB(s) failed") || !strings.Contains(f.Summary, "came back 1 time(s)") || !strings.Contains(f.Summary, "2.496s") ||
		!strings.Contains(f.Evidence[0].What, "-71 EPROTO") || !strings.Contains(f.Evidence[2].What, "life 2 begins at 1.4") ||
		f.Evidence[1].What != "the last record of life 1" || !f.Evidence[1].Time.Equal(s.at(4)) {
		t.Errorf("finding %+v", f)
	}
}

func TestDeviceVanishedNearMisses(t *testing.T) {
	s := newScript()
	s.urb(0, 1, bulk, bulkIn, 60, stESHUTDOWN) // before any traffic
	s.urb(2, 3, bulk, bulkIn, 0, stOK)         // no data: not traffic
	s.urb(4, 5, intr, intrIn, 8, stOK)         // not bulk
	s.urb(6, 7, bulk, bulkIn, 60, stENODEV)
	silent(t, s.run(&deviceVanished{}, 10), "gone before the device moved data")

	// usbcore disables the endpoints at a configuration change: -ESHUTDOWN,
	// and the device answers on.
	s = newScript()
	s.urb(0, 1, bulk, bulkIn, 60, stOK)
	s.urb(0, 2, intr, intrIn, 16, stESHUTDOWN)
	s.ctl(3, 4, hw.Setup{RequestType: 0, Request: hw.ReqSetConfiguration, Value: 2}, nil, stOK)
	silent(t, s.run(&deviceVanished{}, 10), "a configuration change")

	// Re-plugged before it moved any data.
	s = newScript()
	s.add(0, usbnet.Event{Kind: usbnet.EventLife, Life: 1})
	s.ctl(1, 2, hw.Setup{RequestType: 0x80, Request: 6, Value: 0x100, Length: 18}, make([]byte, 18), stOK)
	s.add(3, usbnet.Event{Kind: usbnet.EventLife, Life: 2, PrevRecord: 3})
	silent(t, s.run(&deviceVanished{}, 10), "a replug before traffic")

	// A trace that ends on errors, with no gone status and no new life.
	s = newScript()
	s.urb(0, 1, bulk, bulkIn, 60, stOK)
	s.urb(2, 3, bulk, bulkIn, 2048, stEPROTO)
	s.urb(4, 5, bulk, bulkIn, 2048, stEPROTO)
	silent(t, s.run(&deviceVanished{}, 10), "errors the trace ends on")

	// Errors, then a success, then a gone status: only the gone status is
	// the vanishing's.
	s = newScript()
	s.urb(0, 1, bulk, bulkIn, 60, stOK)
	s.urb(2, 3, bulk, bulkIn, 2048, stEPROTO)
	s.urb(4, 5, bulk, bulkIn, 60, stOK)
	_, g := s.urb(6, 7, bulk, bulkIn, 2048, stESHUTDOWN)
	fires(t, s.run(&deviceVanished{}, 10), "device-vanished", g)
}

func TestHaltNotCleared(t *testing.T) {
	s := newScript()
	_, h := s.urb(0, 100, bulk, bulkIn, 2048, stEPIPE)
	_, again := s.urb(101, 102, bulk, bulkIn, 2048, stEPIPE)
	s.ctl(103, 104, hw.Setup{RequestType: hw.RecipEndpoint, Request: hw.ReqClearFeature, Index: bulkOut}, nil, stOK)          // another endpoint
	s.ctl(105, 106, hw.Setup{RequestType: hw.RecipEndpoint, Request: hw.ReqClearFeature, Index: bulkIn}, nil, stEPIPE)        // failed
	s.ctl(107, 108, hw.Setup{RequestType: hw.RecipEndpoint, Request: hw.ReqClearFeature, Value: 1, Index: bulkIn}, nil, stOK) // not ENDPOINT_HALT
	f := s.run(&haltNotCleared{}, 1100)
	fires(t, f, "halt-not-cleared", h, again)
	if !strings.Contains(f.Evidence[0].What, "endpoint 0x81") || !strings.Contains(f.Evidence[0].What, "; 1 more URBs") || !strings.Contains(f.Evidence[1].What, "still halted") {
		t.Errorf("evidence %+v", f.Evidence)
	}

	s = newScript()
	_, h1 := s.urb(0, 1, bulk, bulkOut, 64, stEPIPE)
	_, h2 := s.urb(0, 2, bulk, bulkIn, 64, stEPIPE)
	f = s.run(&haltNotCleared{}, 5000)
	fires(t, f, "halt-not-cleared", h1, h2) // by endpoint: OUT 0x02 before IN 0x81
	if !strings.HasPrefix(f.Summary, "2 bulk endpoint(s)") {
		t.Errorf("summary %q", f.Summary)
	}
}

func TestHaltNotClearedNearMisses(t *testing.T) {
	clears := []hw.Setup{
		{RequestType: hw.RecipEndpoint, Request: hw.ReqClearFeature, Index: bulkIn},
		{RequestType: 0, Request: hw.ReqSetConfiguration, Value: 1},
		{RequestType: hw.RecipInterface, Request: hw.ReqSetInterface, Index: 1, Value: 1},
	}
	for _, c := range clears {
		s := newScript()
		s.urb(0, 100, bulk, bulkIn, 2048, stEPIPE)
		s.ctl(101, 102, c, nil, stOK)
		silent(t, s.run(&haltNotCleared{}, 5000), fmt.Sprintf("cleared by %+v", c))
	}
	s := newScript()
	s.urb(0, 100, bulk, bulkIn, 2048, stEPIPE)
	s.add(200, usbnet.Event{Kind: usbnet.EventLife, Life: 2})
	silent(t, s.run(&haltNotCleared{}, 5000), "a new life")

	s = newScript()
	s.urb(0, 100, bulk, bulkIn, 2048, stEPIPE)
	silent(t, s.run(&haltNotCleared{}, 1099), "halted 999 ms before the end")

	s = newScript()
	s.urb(0, 100, intr, intrIn, 8, stEPIPE)
	s.urb(0, 100, bulk, bulkIn, 8, stEREMOTEIO)
	silent(t, s.run(&haltNotCleared{}, 9000), "not a bulk -EPIPE")
}

// starve logs one starvation episode: the last URB completing at t0, a
// gap, a URB submitted at t0+gap that completes after quick ms with data.
func starve(s *script, t0, gap, quick float64) []int {
	_, idle := s.urb(t0-10, t0, bulk, bulkIn, 2048, stOK) // not quick: no gap of its own
	sub, done := s.urb(t0+gap, t0+gap+quick, bulk, bulkIn, 2048, stOK)
	return []int{idle, sub, done}
}

func TestRxStarvation(t *testing.T) {
	s := newScript()
	want := starve(s, 10, 100, 2)
	want = append(want, starve(s, 1000, 500, 0.5)...)
	f := s.run(&rxStarve{}, 3000)
	fires(t, f, "rx-starvation", want...)
	if !strings.Contains(f.Summary, "2 gap(s)") || !strings.Contains(f.Summary, "500ms") || !strings.Contains(f.Evidence[0].What, "100 ms") {
		t.Errorf("finding %+v", f)
	}
}

func TestRxStarvationNearMisses(t *testing.T) {
	cases := map[string]func(s *script){
		"one episode": func(s *script) { starve(s, 10, 100, 1) },
		"a gap of 99 ms": func(s *script) {
			starve(s, 10, 99, 1)
			starve(s, 1000, 99, 1)
		},
		"the device had nothing (completes after 5.5 ms)": func(s *script) {
			starve(s, 10, 200, 5.5)
			starve(s, 1000, 200, 5.5)
		},
		"another URB still outstanding": func(s *script) {
			s.urb(0, -1, bulk, bulkIn, 2048, 0)
			starve(s, 10, 200, 1)
			starve(s, 1000, 200, 1)
		},
		"ifdown's unlinks": func(s *script) {
			for _, t0 := range []float64{10, 1000} {
				s.urb(t0-5, t0, bulk, bulkIn, 2048, stENOENT)
				s.urb(t0+200, t0+201, bulk, bulkIn, 2048, stOK)
			}
		},
		"empty completions": func(s *script) {
			for _, t0 := range []float64{10, 1000} {
				s.urb(t0-5, t0, bulk, bulkIn, 2048, stOK)
				s.add(t0+200, usbnet.Event{Kind: usbnet.EventSubmit, Xfer: bulk, Endpoint: bulkIn, Length: 2048, HostView: true})
				s.add(t0+201, usbnet.Event{Kind: usbnet.EventComplete, Xfer: bulk, Endpoint: bulkIn, Status: stEPROTO, SubmitRecord: len(s.evs), Submitted: s.at(t0 + 200)})
			}
		},
		"a device-side log": func(s *script) {
			for _, t0 := range []float64{10, 1000} {
				s.urb(t0-5, t0, bulk, bulkIn, 2048, stOK)
				s.add(t0+200, usbnet.Event{Kind: usbnet.EventSubmit, Xfer: bulk, Endpoint: bulkIn, Length: 2048})
				s.add(t0+201, usbnet.Event{Kind: usbnet.EventComplete, Xfer: bulk, Endpoint: bulkIn, Length: 60, SubmitRecord: len(s.evs), Submitted: s.at(t0 + 200)})
			}
		},
		"URBs submitted before the capture": func(s *script) {
			for _, t0 := range []float64{10, 1000} {
				s.urb(t0-5, t0, bulk, bulkIn, 2048, stOK)
				s.add(t0+50, usbnet.Event{Kind: usbnet.EventComplete, Xfer: bulk, Endpoint: bulkIn, Length: 60})
				s.urb(t0+200, t0+201, bulk, bulkIn, 2048, stOK)
			}
		},
		"bulk OUT": func(s *script) {
			for _, t0 := range []float64{10, 1000} {
				s.urb(t0-5, t0, bulk, bulkOut, 64, stOK)
				s.urb(t0+200, t0+201, bulk, bulkOut, 64, stOK)
			}
		},
	}
	for name, build := range cases {
		s := newScript()
		build(s)
		silent(t, s.run(&rxStarve{}, 5000), name)
	}
}

var vendorRead = hw.Setup{RequestType: hw.DirIn | hw.TypeVendor | hw.RecipDevice, Request: 1, Value: 0x10, Length: 4}

func TestRegisterAccess(t *testing.T) {
	s := newScript()
	s.ctl(0, 1, vendorRead, []byte{1, 2, 3, 4}, stOK)
	r1 := s.ctl(2, 3, vendorRead, nil, stETIMEDOUT)
	r2 := s.ctl(4, 5, vendorRead, []byte{1, 2}, stOK)
	r3 := s.ctl(6, 7, vendorRead, []byte{0xff, 0xff, 0xff, 0xff}, stOK)
	write := hw.Setup{RequestType: hw.DirOut | hw.TypeVendor | hw.RecipDevice, Request: 1, Length: 2}
	r4 := s.ctl(8, 9, write, []byte{0, 0}, stEPIPE)
	f := s.run(&registerAccess{}, 10)
	fires(t, f, "register-access", r1, r2, r3, r4)
	for i, w := range []string{"-110 ETIMEDOUT", "returned 2 bytes, fewer", "4 bytes, all 0xff", "-32 EPIPE"} {
		if !strings.Contains(f.Evidence[i].What, w) {
			t.Errorf("evidence %d %q lacks %q", i, f.Evidence[i].What, w)
		}
	}
	for _, st := range []int32{stETIME, stEPROTO, stEILSEQ, stEREMOTEIO} {
		s := newScript()
		r := s.ctl(0, 1, vendorRead, nil, st)
		fires(t, s.run(&registerAccess{}, 10), "register-access", r)
	}
}

func TestRegisterAccessNearMisses(t *testing.T) {
	s := newScript()
	s.ctl(0, 1, hw.Setup{RequestType: vendorRead.RequestType, Request: 1, Length: 2}, []byte{0xff, 0xff}, stOK) // a blank EEPROM word
	s.ctl(0, 1, vendorRead, []byte{0xff, 0xff, 0xff, 0xfe}, stOK)
	s.ctl(0, 1, hw.Setup{RequestType: 0x80, Request: 6, Value: 0x100, Length: 18}, nil, stETIMEDOUT) // standard
	s.ctl(0, 1, hw.Setup{RequestType: 0xa1, Request: 0x80, Length: 28}, []byte{1}, stOK)             // class, short
	s.ctl(0, 1, vendorRead, nil, stENOENT)
	s.ctl(0, 1, vendorRead, nil, stESHUTDOWN)
	s.ctl(0, 1, hw.Setup{RequestType: vendorRead.RequestType, Request: 1}, nil, stOK)             // no data asked
	s.add(2, usbnet.Event{Kind: usbnet.EventComplete, Xfer: hw.XferControl, Status: stETIMEDOUT}) // no setup known
	silent(t, s.run(&registerAccess{}, 10), "near misses")
}

var setFilter = hw.Setup{RequestType: cdcClassIntf, Request: cdcSetPacketFilter, Value: 0x0e}

func TestLinkNeedsFilter(t *testing.T) {
	s := newScript()
	poll := s.add(0, usbnet.Event{Kind: usbnet.EventSubmit, Xfer: intr, Endpoint: intrIn, Length: 16})
	s.add(10, usbnet.Event{Kind: usbnet.EventSubmit, Xfer: intr, Endpoint: intrIn, Length: 16})
	s.link(500, false)
	s.ctl(600, 601, hw.Setup{RequestType: cdcClassIntf, Request: cdcSetPacketFilter}, nil, stEPIPE) // refused: not set
	s.ctl(900, 901, setFilter, nil, stOK)
	filter := s.ctl(1100, 1101, setFilter, nil, stOK) - 1
	up := s.link(2000, true)
	s.ctl(2100, 2101, setFilter, nil, stOK) // after the link: not the one it waited for
	f := s.run(&linkNeedsFilter{}, 3000)
	fires(t, f, "link-needs-filter", poll, filter, up)
	if !strings.Contains(f.Evidence[1].What, "0x0e") || !strings.Contains(f.Summary, "1.1s of polling") || !strings.Contains(f.Summary, "up 900ms after") {
		t.Errorf("finding %+v", f)
	}
}

// TestLinkNeedsFilterAfterLinkDown: a device that withholds link until
// the filter does so after each link down, not only at bind (the lab's
// capture: the link down, 2.1 s of polling, the filter, the link up).
func TestLinkNeedsFilterAfterLinkDown(t *testing.T) {
	s := newScript()
	s.add(0, usbnet.Event{Kind: usbnet.EventSubmit, Xfer: intr, Endpoint: intrIn})
	s.link(5, false) // not up yet: no span of its own
	s.ctl(10, 11, setFilter, nil, stOK)
	s.link(20, true) // at once: the first link needed nothing
	down := s.link(800, false)
	filter := s.ctl(2950, 2951, setFilter, nil, stOK) - 1
	up := s.link(2952, true)
	down2 := s.link(4000, false)
	filter2 := s.ctl(5000, 5001, setFilter, nil, stOK) - 1
	up2 := s.link(5100, true)
	f := s.run(&linkNeedsFilter{}, 6000)
	fires(t, f, "link-needs-filter", down, filter, up, down2, filter2, up2)
	if !strings.Contains(f.Summary, "2.15s of polling") || !strings.Contains(f.Summary, "(2 times)") || !strings.HasPrefix(f.Evidence[0].What, "link down") {
		t.Errorf("finding %+v", f)
	}
}

// TestLinkNeedsFilterNewLife: a new life starts without link; its first
// poll begins a span.
func TestLinkNeedsFilterNewLife(t *testing.T) {
	s := newScript()
	s.add(0, usbnet.Event{Kind: usbnet.EventSubmit, Xfer: intr, Endpoint: intrIn})
	s.link(10, true)
	s.add(100, usbnet.Event{Kind: usbnet.EventLife, Life: 2, Bus: 1, Address: 4})
	poll := s.add(200, usbnet.Event{Kind: usbnet.EventSubmit, Xfer: intr, Endpoint: intrIn})
	filter := s.ctl(1300, 1301, setFilter, nil, stOK) - 1
	up := s.link(1400, true)
	fires(t, s.run(&linkNeedsFilter{}, 3000), "link-needs-filter", poll, filter, up)
}

func TestLinkNeedsFilterNearMisses(t *testing.T) {
	cases := map[string]func(s *script){
		"polled 999 ms": func(s *script) {
			s.add(1, usbnet.Event{Kind: usbnet.EventSubmit, Xfer: intr, Endpoint: intrIn})
			s.ctl(1000, 1001, setFilter, nil, stOK)
			s.link(1100, true)
		},
		"link up 1001 ms after": func(s *script) {
			s.add(0, usbnet.Event{Kind: usbnet.EventSubmit, Xfer: intr, Endpoint: intrIn})
			s.ctl(2000, 2001, setFilter, nil, stOK)
			s.link(3001, true)
		},
		"link up before the filter": func(s *script) {
			s.add(0, usbnet.Event{Kind: usbnet.EventSubmit, Xfer: intr, Endpoint: intrIn})
			s.link(500, true)
			s.link(600, false)
			s.link(1700, true) // back on its own
			s.ctl(2000, 2001, setFilter, nil, stOK)
			s.link(2100, true)
		},
		"polled 999 ms after the link went down": func(s *script) {
			s.add(0, usbnet.Event{Kind: usbnet.EventSubmit, Xfer: intr, Endpoint: intrIn})
			s.link(500, true)
			s.link(600, false)
			s.ctl(1599, 1600, setFilter, nil, stOK)
			s.link(1700, true)
		},
		"the filter while the link was up": func(s *script) {
			s.add(0, usbnet.Event{Kind: usbnet.EventSubmit, Xfer: intr, Endpoint: intrIn})
			s.link(500, true)
			s.ctl(1600, 1601, setFilter, nil, stOK)
			s.link(2600, false)
			s.link(2700, true)
		},
		"no filter": func(s *script) {
			s.add(0, usbnet.Event{Kind: usbnet.EventSubmit, Xfer: intr, Endpoint: intrIn})
			s.link(2100, true)
		},
		"no polling": func(s *script) {
			s.ctl(2000, 2001, setFilter, nil, stOK)
			s.link(2100, true)
		},
		"no link": func(s *script) {
			s.add(0, usbnet.Event{Kind: usbnet.EventSubmit, Xfer: intr, Endpoint: intrIn})
			s.ctl(2000, 2001, setFilter, nil, stOK)
			s.link(2100, false)
		},
		"a bulk submission is no polling": func(s *script) {
			s.add(0, usbnet.Event{Kind: usbnet.EventSubmit, Xfer: bulk, Endpoint: bulkIn})
			s.add(0, usbnet.Event{Kind: usbnet.EventSubmit, Xfer: intr, Endpoint: 0x03})
			s.ctl(2000, 2001, setFilter, nil, stOK)
			s.link(2100, true)
		},
	}
	for name, build := range cases {
		s := newScript()
		build(s)
		silent(t, s.run(&linkNeedsFilter{}, 5000), name)
	}
}

func TestPoorAggregation(t *testing.T) {
	s := newScript()
	s.transfer(0.7499, bulkIn, 1514, 1, nil) // 250.1 µs before the run: not in it
	var want []int
	for i := 0; i < AggRun; i++ {
		at := 1 + float64(i)*0.25 // exactly AggGap apart
		c := s.transfer(at, bulkIn, 1514, 1, nil)
		s.transfer(at, bulkOut, 3000, 2, nil) // TX is not the chip's aggregation
		s.transfer(at, bulkIn, 0, 0, nil)     // nothing decoded
		if i < MaxCited {
			want = append(want, c)
		}
	}
	f := s.run(&poorAggregation{}, 1000)
	fires(t, f, "poor-aggregation", want...)
	if !strings.HasPrefix(f.Summary, "1 run(s)") || !strings.Contains(f.Summary, "the longest 32 transfers, 4000 frames/s") ||
		!strings.Contains(f.Evidence[0].What, "a run begins") || !strings.Contains(f.Evidence[1].What, "250 µs after") {
		t.Errorf("finding %+v", f)
	}

	// Two runs, the first ended by a gap: both cited (up to the cap), the
	// summary gives the longer.
	s = newScript()
	want = nil
	for r, n := range []int{AggRun, AggRun + 8} {
		for i := 0; i < n; i++ {
			c := s.transfer(float64(r)*100+float64(i)*0.1, bulkIn, 1514, 1, nil)
			if len(want) < MaxCited {
				want = append(want, c)
			}
		}
	}
	f = s.run(&poorAggregation{}, 1000)
	fires(t, f, "poor-aggregation", want...)
	if !strings.HasPrefix(f.Summary, "2 run(s)") || !strings.Contains(f.Summary, "the longest 40 transfers") {
		t.Errorf("finding %+v", f)
	}
}

func TestPoorAggregationNearMisses(t *testing.T) {
	s := newScript()
	for i := 0; i < AggRun-1; i++ {
		s.transfer(float64(i)*0.1, bulkIn, 1514, 1, nil)
	}
	silent(t, s.run(&poorAggregation{}, 1000), "31 transfers")

	s = newScript()
	for i := 0; i < AggRun; i++ {
		s.transfer(float64(i)*0.2501, bulkIn, 1514, 1, nil)
	}
	silent(t, s.run(&poorAggregation{}, 1000), "250.1 µs apart")

	s = newScript()
	for i := 0; i < 2*AggRun-2; i++ {
		s.transfer(float64(i)*0.1, bulkIn, 1514, 1, nil)
		if i == AggRun-2 {
			s.transfer(float64(i)*0.1+0.05, bulkIn, 3028, 2, nil)
		}
	}
	silent(t, s.run(&poorAggregation{}, 1000), "a transfer of two frames in the run")

	s = newScript()
	for i := 0; i < AggRun; i++ {
		s.transfer(float64(i)*0.1, bulkOut, 1514, 1, nil)
	}
	silent(t, s.run(&poorAggregation{}, 1000), "bulk OUT")
}

func TestRxOverflow(t *testing.T) {
	s := newScript()
	_, o1 := s.urb(0, 1, bulk, bulkIn, 2048, stEOVERFLOW)
	s.urb(0, 1, bulk, bulkOut, 2048, stEOVERFLOW)
	s.urb(0, 1, intr, intrIn, 8, stEOVERFLOW)
	s.urb(0, 1, bulk, bulkIn, 2048, stEPROTO)
	s.add(2, usbnet.Event{Kind: usbnet.EventSubmitError, Xfer: bulk, Endpoint: bulkIn, Status: stEOVERFLOW})
	_, o2 := s.urb(3, 4, bulk, bulkIn, 2048, stEOVERFLOW)
	f := s.run(&rxOverflow{}, 10)
	fires(t, f, "rx-overflow", o1, o2)
	if !strings.Contains(f.Summary, "2 bulk IN") || !strings.Contains(f.Evidence[0].What, "0x81") {
		t.Errorf("finding %+v", f)
	}
	s = newScript()
	s.urb(0, 1, bulk, bulkIn, 2048, stOK)
	silent(t, s.run(&rxOverflow{}, 10), "no babble")
}

// TestErrorStormAtALifesEnd: the failures a disconnect leaves are
// device-vanished's; a storm the device survives, or one in a later life,
// is still a storm.
func TestErrorStormAtALifesEnd(t *testing.T) {
	storm := func(s *script, at float64) []int {
		var c []int
		for i := 0; i < StormCount; i++ {
			_, r := s.urb(at+float64(i), at+float64(i)+0.5, bulk, bulkIn, 2048, stEPROTO)
			c = append(c, r)
		}
		return c
	}
	s := newScript()
	storm(s, 0)
	s.urb(20, 21, bulk, bulkIn, 2048, stESHUTDOWN)
	silent(t, s.run(&errorStorm{}, 100), "a storm ended by -ESHUTDOWN with no success after it")

	s = newScript()
	storm(s, 0)
	s.add(50, usbnet.Event{Kind: usbnet.EventLife, Life: 2})
	silent(t, s.run(&errorStorm{}, 100), "a storm ended by a re-enumeration")

	s = newScript()
	want := storm(s, 0)
	s.urb(20, 21, bulk, bulkIn, 2048, stESHUTDOWN)
	s.urb(30, 31, bulk, bulkIn, 2048, stOK) // the device still answers: a configuration change's -108
	fires(t, s.run(&errorStorm{}, 100), "error-storm", want...)

	s = newScript()
	want = storm(s, 0)
	s.urb(15, 16, bulk, bulkIn, 2048, stOK)
	s.urb(20, 21, bulk, bulkIn, 2048, stESHUTDOWN)
	fires(t, s.run(&errorStorm{}, 100), "error-storm", want...)

	s = newScript()
	storm(s, 0)
	s.add(50, usbnet.Event{Kind: usbnet.EventLife, Life: 2})
	want = storm(s, 100)
	fires(t, s.run(&errorStorm{}, 200), "error-storm", want...)
}
