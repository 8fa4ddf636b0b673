package rules_test

import (
	"bytes"
	"encoding/binary"
	"encoding/xml"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"dongle/hw"
	"dongle/usbnet"
	"dongle/usbnet/ax88179"
	"dongle/usbnet/catalog"
	"dongle/usbnet/cdcecm"
	"dongle/usbnet/cdcncm"
	"dongle/usbnet/r8152"
	"dongle/usbnet/rules"
)

// ruleNames is the contract of /work/notes/rules.md (issue 21): the
// fixed names `dongle diag` prints and fixtures/failure-<rule>.pcap uses.
var ruleNames = []string{
	"tx-timeout", "error-storm", "link-flap", "device-vanished", "halt-not-cleared", "rx-starvation",
	"register-access", "ntb-oversize", "checksum-fail", "link-needs-filter", "poor-aggregation", "rx-overflow",
}

func catalogue(t *testing.T) []usbnet.RuleInfo {
	t.Helper()
	var drivers []usbnet.Minidriver
	for _, e := range catalog.Entries() {
		drivers = append(drivers, e.ForModels())
	}
	return rules.Catalogue(drivers)
}

func TestCatalogueHasEveryRuleOnce(t *testing.T) {
	var got []string
	for _, i := range catalogue(t) {
		got = append(got, i.Name)
		if i.Title == "" || i.Trigger == "" || len(i.Causes) == 0 || len(i.Try) == 0 || i.Severity < usbnet.SeverityWarning || i.Severity > usbnet.SeverityCritical {
			t.Errorf("rule %s: incomplete entry %+v", i.Name, i)
		}
	}
	want := slices.Clone(ruleNames)
	slices.Sort(want)
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("catalogue %v, want %v", got, want)
	}
}

func names(rs []usbnet.Rule) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.Info().Name)
	}
	return out
}

func TestForDriver(t *testing.T) {
	generic := names(rules.Generic(false))
	if slices.Contains(generic, "poor-aggregation") {
		t.Errorf("poor-aggregation for a device that does not batch: %v", generic)
	}
	if !slices.Contains(names(rules.Generic(true)), "poor-aggregation") {
		t.Error("no poor-aggregation for a device that batches")
	}
	for _, c := range []struct {
		drv  usbnet.Minidriver
		want []string
		not  []string
	}{
		{nil, generic, []string{"poor-aggregation", "checksum-fail", "ntb-oversize"}},
		{cdcecm.Driver{}, generic, []string{"poor-aggregation", "checksum-fail", "ntb-oversize"}},
		{&r8152.Driver{}, []string{"poor-aggregation", "checksum-fail"}, []string{"ntb-oversize"}},
		{&ax88179.Driver{}, []string{"poor-aggregation", "checksum-fail"}, []string{"ntb-oversize"}},
		{cdcncm.New(), []string{"poor-aggregation", "ntb-oversize"}, []string{"checksum-fail"}},
	} {
		got := names(rules.ForDriver(c.drv, nil))
		for _, w := range c.want {
			if !slices.Contains(got, w) {
				t.Errorf("%T: %v lacks %s", c.drv, got, w)
			}
		}
		for _, w := range c.not {
			if slices.Contains(got, w) {
				t.Errorf("%T: %v has %s", c.drv, got, w)
			}
		}
	}
	// Fresh instances each call: a trace's state never leaks into the next.
	a, b := rules.ForDriver(&r8152.Driver{}, nil), rules.ForDriver(&r8152.Driver{}, nil)
	for i := range a {
		if a[i] == b[i] {
			t.Errorf("%s: one instance for two traces", a[i].Info().Name)
		}
	}
}

// at is 12:00 plus ms.
func at(ms int) time.Time {
	return time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC).Add(time.Duration(ms) * time.Millisecond)
}

func TestEngineOrdersFindings(t *testing.T) {
	g := rules.NewEngine(rules.Generic(false))
	rec := 0
	feed := func(e usbnet.Event) {
		rec++
		e.Record = rec
		g.Observe(&e)
	}
	// rx-overflow (error) first in the trace, then a halt (critical),
	// then a register read garbage (error).
	feed(usbnet.Event{Kind: usbnet.EventComplete, Time: at(0), Xfer: hw.XferBulk, Endpoint: 0x81, Status: -75})
	feed(usbnet.Event{Kind: usbnet.EventComplete, Time: at(1), Xfer: hw.XferBulk, Endpoint: 0x81, Status: -32})
	feed(usbnet.Event{Kind: usbnet.EventComplete, Time: at(2), Xfer: hw.XferControl, HasSetup: true, Status: -110,
		Setup: hw.Setup{RequestType: 0xc0, Length: 4}})
	feed(usbnet.Event{Kind: usbnet.EventComplete, Time: at(5000), Xfer: hw.XferBulk, Endpoint: 0x81})
	fs := g.Findings()
	var got []string
	for _, f := range fs {
		got = append(got, f.Rule)
	}
	if want := []string{"halt-not-cleared", "rx-overflow", "register-access"}; !slices.Equal(got, want) {
		t.Errorf("findings %v, want %v (most severe first, then by first record)", got, want)
	}
	if tl := g.Timeline(); len(tl.Buckets) != 501 || tl.Buckets[0].Failed() != 3 || tl.Buckets[500].Failed() != 0 {
		t.Errorf("timeline: %d buckets, %+v", len(tl.Buckets), tl.Buckets[0])
	}
	if len(rules.NewEngine(nil).Findings()) != 0 {
		t.Error("an engine without rules found something")
	}
}

func TestTimeline(t *testing.T) {
	tl := rules.NewTimeline()
	feed := func(e usbnet.Event) { tl.Observe(&e) }
	feed(usbnet.Event{}) // no time: nothing
	if !tl.Start.IsZero() || len(tl.Buckets) != 0 {
		t.Fatalf("an event without a time counted: %+v", tl)
	}
	feed(usbnet.Event{Kind: usbnet.EventLife, Time: at(0), Life: 1})
	feed(usbnet.Event{Kind: usbnet.EventSubmit, Time: at(1), Xfer: hw.XferControl, HasSetup: true, Setup: hw.Setup{Request: hw.ReqSetConfiguration, Value: 1}})
	feed(usbnet.Event{Kind: usbnet.EventSubmit, Time: at(2), Xfer: hw.XferControl, HasSetup: true, Setup: hw.Setup{RequestType: 0x80, Request: 6}})
	feed(usbnet.Event{Kind: usbnet.EventSubmit, Time: at(2), Xfer: hw.XferBulk, Endpoint: 0x81})
	feed(usbnet.Event{Kind: usbnet.EventTransfer, Time: at(15), Xfer: hw.XferBulk, Endpoint: 0x81, Length: 3000, Frames: 2})
	feed(usbnet.Event{Kind: usbnet.EventTransfer, Time: at(15), Xfer: hw.XferBulk, Endpoint: 0x02, Length: 100, Frames: 1})
	feed(usbnet.Event{Kind: usbnet.EventLink, Time: at(25), Up: true})
	feed(usbnet.Event{Kind: usbnet.EventComplete, Time: at(35), Status: -71})
	feed(usbnet.Event{Kind: usbnet.EventComplete, Time: at(35), Status: -108})
	feed(usbnet.Event{Kind: usbnet.EventSubmitError, Time: at(35), Status: -1})
	feed(usbnet.Event{Kind: usbnet.EventComplete, Time: at(35), Status: -2}) // a cancellation is no error
	feed(usbnet.Event{Kind: usbnet.EventLink, Time: at(45), Up: false})
	feed(usbnet.Event{Kind: usbnet.EventComplete, Time: at(-5), Status: -71}) // the clock stepped back: first interval
	if tl.Interval != rules.FirstInterval || len(tl.Buckets) != 5 {
		t.Fatalf("interval %v, %d buckets", tl.Interval, len(tl.Buckets))
	}
	b := tl.Buckets
	if b[0].Lives != 1 || b[0].Controls != 2 || b[0].Configs != 1 || b[0].Errors[0] != 1 {
		t.Errorf("bucket 0: %+v", b[0])
	}
	if b[1].RxFrames != 2 || b[1].RxBytes != 3000 || b[1].TxFrames != 1 || b[1].TxBytes != 100 || b[1].Link != 0 {
		t.Errorf("bucket 1: %+v", b[1])
	}
	// -108 at 35 ms: the link is unknown until the next report.
	if b[2].Link != 2 || b[2].LinkChanges != 1 || b[3].Link != 0 || b[3].Failed() != 3 || b[4].Link != 1 {
		t.Errorf("buckets 2-4: %+v", b[2:])
	}
	if rules.StatusLabel(0) != "-71 EPROTO" || rules.StatusLabel(3) != "-19 ENODEV" || rules.StatusLabel(4) != "-108 ESHUTDOWN" || rules.StatusLabel(8) != "other" {
		t.Errorf("status labels %q %q %q", rules.StatusLabel(0), rules.StatusLabel(4), rules.StatusLabel(8))
	}
	if b[3].Errors[4] != 1 || b[3].Errors[8] != 1 {
		t.Errorf("bucket 3 errors %v", b[3].Errors)
	}
	rows, iv := tl.Rows(2)
	if len(rows) != 2 || iv != 4*rules.FirstInterval || rows[0].RxFrames != 2 || rows[0].Link != 0 || rows[1].Link != 1 || rows[0].Failed() != 4 {
		t.Errorf("rows of 2: %v %+v", iv, rows)
	}
	var text bytes.Buffer
	tl.WriteText(&text, 10)
	for _, w := range []string{"5 interval(s) of 10ms", "device appears×1", "SET_CONFIGURATION×1", "-71 EPROTO×1 SET_CONFIGURATION×1", "-108 ESHUTDOWN×1 other×1", "up*", "down*"} {
		if !strings.Contains(text.String(), w) {
			t.Errorf("text timeline lacks %q:\n%s", w, text.String())
		}
	}
}

func TestTimelineStaysBounded(t *testing.T) {
	tl := rules.NewTimeline()
	for i := 0; i < 100000; i++ {
		e := usbnet.Event{Kind: usbnet.EventTransfer, Time: at(i * 10), Endpoint: 0x81, Frames: 1, Length: 100}
		tl.Observe(&e)
	}
	if len(tl.Buckets) > rules.MaxBuckets || tl.Interval != 2560*time.Millisecond {
		t.Fatalf("%d buckets of %v", len(tl.Buckets), tl.Interval)
	}
	total := 0
	for _, b := range tl.Buckets {
		total += b.RxFrames
	}
	if total != 100000 || tl.Buckets[0].RxFrames != 256 {
		t.Errorf("frames %d, first bucket %d: merging lost or moved some", total, tl.Buckets[0].RxFrames)
	}
}

func TestTimelineSVG(t *testing.T) {
	tl := rules.NewTimeline()
	for i := 0; i < 300; i++ {
		e := usbnet.Event{Kind: usbnet.EventTransfer, Time: at(i * 7), Endpoint: 0x81, Frames: i % 5, Length: 100}
		tl.Observe(&e)
	}
	for _, e := range []usbnet.Event{
		{Kind: usbnet.EventLink, Time: at(100), Up: true},
		{Kind: usbnet.EventLife, Time: at(900), Life: 2},
		{Kind: usbnet.EventComplete, Time: at(950), Status: -71},
	} {
		tl.Observe(&e)
	}
	var b bytes.Buffer
	if err := tl.WriteSVG(&b, `a "trace" <&>`); err != nil {
		t.Fatal(err)
	}
	d := xml.NewDecoder(bytes.NewReader(b.Bytes()))
	polylines, titles := 0, 0
	for {
		tok, err := d.Token()
		if err != nil {
			if !errors.Is(err, io.EOF) {
				t.Fatalf("SVG is not well-formed XML: %v", err)
			}
			break
		}
		if se, ok := tok.(xml.StartElement); ok {
			switch se.Name.Local {
			case "polyline":
				polylines++
			case "title":
				titles++
			}
		}
	}
	if polylines != 6 || titles < 2 || !strings.Contains(b.String(), "a &#34;trace&#34; &lt;&amp;&gt;") {
		t.Errorf("%d polylines, %d event marks:\n%.600s", polylines, titles, b.String())
	}
}

// TestObserveAllocatesNothing: the per-record path, every rule (a
// driver's with its own chip's transfers) and the timeline, allocates
// nothing in steady state.
func TestObserveAllocatesNothing(t *testing.T) {
	rtl := make([]byte, r8152.RxDescLen+64)
	r8152.PutRxDesc(rtl, 64, r8152.RxIPv4CS, r8152.RxIPF)
	// One AX88179 packet (IPE: 2 pad bytes + 60) marked L4 checksum error,
	// its header at 64, the trailer (count 1, offset 64).
	ax := make([]byte, 72)
	binary.LittleEndian.PutUint32(ax[64:], 62<<16|ax88179.RxHdrL4CsumErr)
	binary.LittleEndian.PutUint32(ax[68:], 64<<16|1)
	ntbParams := make([]byte, 28)
	binary.LittleEndian.PutUint32(ntbParams[4:], 2048)
	binary.LittleEndian.PutUint32(ntbParams[16:], 2048)
	for _, c := range []struct {
		drv  usbnet.Minidriver
		data []byte
		want string
	}{
		{&r8152.Driver{}, rtl, "checksum-fail"},
		{&ax88179.Driver{}, ax, "checksum-fail"},
		{cdcncm.New(), make([]byte, 4096), "ntb-oversize"},
		{cdcecm.Driver{}, make([]byte, 60), "rx-overflow"},
	} {
		g := rules.NewEngine(rules.ForDriver(c.drv, nil))
		evs := []usbnet.Event{
			{Kind: usbnet.EventComplete, Xfer: hw.XferControl, HasSetup: true, Setup: hw.Setup{RequestType: 0xa1, Request: 0x80, Length: 28}, Data: ntbParams},
			{Kind: usbnet.EventSubmit, Xfer: hw.XferBulk, Endpoint: 0x81, Length: 8192, HostView: true},
			{Kind: usbnet.EventComplete, Xfer: hw.XferBulk, Endpoint: 0x81, Length: len(c.data), Data: c.data, SubmitRecord: 2},
			{Kind: usbnet.EventTransfer, Xfer: hw.XferBulk, Endpoint: 0x81, Length: len(c.data), Data: c.data, Frames: 1},
			{Kind: usbnet.EventSubmit, Xfer: hw.XferBulk, Endpoint: 0x02, Length: 1514, HostView: true},
			{Kind: usbnet.EventComplete, Xfer: hw.XferBulk, Endpoint: 0x02, Status: -71, SubmitRecord: 5},
			{Kind: usbnet.EventComplete, Xfer: hw.XferBulk, Endpoint: 0x81, Status: -32, SubmitRecord: 2},
			{Kind: usbnet.EventComplete, Xfer: hw.XferBulk, Endpoint: 0x81, Status: -75, SubmitRecord: 2},
			{Kind: usbnet.EventComplete, Xfer: hw.XferControl, HasSetup: true, Setup: hw.Setup{RequestType: 0xc0, Length: 4}, Status: -110},
			{Kind: usbnet.EventComplete, Xfer: hw.XferControl, HasSetup: true, Setup: hw.Setup{RequestType: 0x21, Request: 0x43}},
			{Kind: usbnet.EventLink, Up: true},
			{Kind: usbnet.EventLink, Up: false},
			{Kind: usbnet.EventComplete, Xfer: hw.XferBulk, Endpoint: 0x81, Status: -108, SubmitRecord: 2},
		}
		n := 0
		step := func() {
			for i := range evs {
				n++
				evs[i].Record, evs[i].Time = n, at(n)
				g.Observe(&evs[i])
			}
		}
		for i := 0; i < 2000; i++ { // past every rule's cited-record and window capacity
			step()
		}
		if a := testing.AllocsPerRun(1000, step); a != 0 {
			t.Errorf("%s: %v allocations per %d events", c.drv.Name(), a, len(evs))
		}
		var got []string
		for _, f := range g.Findings() {
			got = append(got, f.Rule)
		}
		for _, w := range []string{c.want, "error-storm", "halt-not-cleared", "register-access", "link-flap"} {
			if !slices.Contains(got, w) {
				t.Errorf("%s: the stream should fire %s: %v", c.drv.Name(), w, got)
			}
		}
	}
}

// TestTimelineLinkAcrossLives: while the device is gone, and in a new life
// until it reports one, the timeline knows no link.
func TestTimelineLinkAcrossLives(t *testing.T) {
	tl := rules.NewTimeline()
	feed := func(e usbnet.Event) { tl.Observe(&e) }
	feed(usbnet.Event{Kind: usbnet.EventLife, Time: at(0), Life: 1})
	feed(usbnet.Event{Kind: usbnet.EventLink, Time: at(5), Up: true})
	feed(usbnet.Event{Kind: usbnet.EventComplete, Time: at(15), Status: -71})
	feed(usbnet.Event{Kind: usbnet.EventComplete, Time: at(25), Status: -19})
	feed(usbnet.Event{Kind: usbnet.EventLife, Time: at(55), Life: 2})
	feed(usbnet.Event{Kind: usbnet.EventLink, Time: at(75), Up: true})
	var got []uint8
	for _, b := range tl.Buckets {
		got = append(got, b.Link)
	}
	if want := []uint8{2, 2, 0, 0, 0, 0, 0, 2}; !slices.Equal(got, want) {
		t.Errorf("link per interval %v, want %v", got, want)
	}
}
