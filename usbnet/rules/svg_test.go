package rules

import (
	"bytes"
	"encoding/xml"
	"io"
	"slices"
	"strings"
	"testing"

	"dongle/usbnet"
)

type svgElem struct {
	name  string
	attrs map[string]string
	text  string
}

// svgElems parses the SVG (failing the test if it is not XML).
func svgElems(t *testing.T, b []byte) []svgElem {
	t.Helper()
	d := xml.NewDecoder(bytes.NewReader(b))
	var out []svgElem
	for {
		tok, err := d.Token()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatalf("not XML: %v", err)
		}
		switch x := tok.(type) {
		case xml.StartElement:
			e := svgElem{name: x.Name.Local, attrs: map[string]string{}}
			for _, a := range x.Attr {
				e.attrs[a.Name.Local] = a.Value
			}
			out = append(out, e)
		case xml.CharData:
			if len(out) > 0 {
				out[len(out)-1].text += strings.TrimSpace(string(x))
			}
		}
	}
}

// TestSVGGeometry draws five 10 ms intervals and checks where everything
// lands: 870 px of plot from x=70, 174 px per interval, values scaled to
// the panel's maximum (top y=10, zero y=150 in the panel's group).
func TestSVGGeometry(t *testing.T) {
	tl := NewTimeline()
	s := newScript()
	evs := []usbnet.Event{
		{Kind: usbnet.EventTransfer, Time: s.at(1), Endpoint: bulkOut, Frames: 8, Length: 50},
		{Kind: usbnet.EventLink, Time: s.at(12), Up: true},
		{Kind: usbnet.EventLink, Time: s.at(32), Up: false},
		{Kind: usbnet.EventLife, Time: s.at(22), Life: 2},
		{Kind: usbnet.EventComplete, Time: s.at(41), Status: stEPROTO},
		{Kind: usbnet.EventSubmit, Time: s.at(41), Xfer: 0, HasSetup: true},
	}
	for i, n := range []int{0, 4, 2, 0, 1} {
		evs = append(evs, usbnet.Event{Kind: usbnet.EventTransfer, Time: s.at(float64(i) * 10), Endpoint: bulkIn, Frames: n, Length: 100 * n})
	}
	slices.SortStableFunc(evs, func(a, b usbnet.Event) int { return a.Time.Compare(b.Time) }) // a trace's order
	for _, e := range evs {
		tl.Observe(&e)
	}
	var b bytes.Buffer
	if err := tl.WriteSVG(&b, "t"); err != nil {
		t.Fatal(err)
	}
	els := svgElems(t, b.Bytes())
	if r := els[0]; r.name != "svg" || r.attrs["width"] != "960" || r.attrs["height"] != "610" || r.attrs["viewBox"] != "0 0 960 610" {
		t.Errorf("svg element %+v", r)
	}
	var lines, groups, plots, bands []svgElem
	var texts []string
	for _, e := range els {
		switch {
		case e.name == "polyline":
			lines = append(lines, e)
		case e.name == "g":
			groups = append(groups, e)
		case e.name == "rect" && e.attrs["stroke"] == "#ccc":
			plots = append(plots, e)
		case e.name == "rect" && e.attrs["height"] == "12":
			bands = append(bands, e)
		case e.name == "text":
			texts = append(texts, e.text)
		}
	}
	for k, g := range groups {
		if want := []string{"translate(0,40)", "translate(0,210)", "translate(0,380)"}[k]; g.attrs["transform"] != want {
			t.Errorf("panel %d at %q, want %q", k, g.attrs["transform"], want)
		}
	}
	for _, p := range plots {
		if p.attrs["x"] != "70" || p.attrs["y"] != "10" || p.attrs["width"] != "870" || p.attrs["height"] != "140" {
			t.Errorf("plot frame %+v", p.attrs)
		}
	}
	// A panel's series share its scale: the frames panel's maximum is
	// TX's 8, the bytes panel's RX's 400.
	want := []string{
		"157.0,150.0 331.0,80.0 505.0,115.0 679.0,150.0 853.0,132.5",  // RX frames
		"157.0,10.0 331.0,150.0 505.0,150.0 679.0,150.0 853.0,150.0",  // TX frames
		"157.0,150.0 331.0,10.0 505.0,80.0 679.0,150.0 853.0,115.0",   // RX bytes
		"157.0,132.5 331.0,150.0 505.0,150.0 679.0,150.0 853.0,150.0", // TX bytes
		"157.0,150.0 331.0,150.0 505.0,150.0 679.0,150.0 853.0,10.0",  // failed URBs
		"157.0,150.0 331.0,150.0 505.0,150.0 679.0,150.0 853.0,10.0",  // control requests
	}
	if len(lines) != len(want) {
		t.Fatalf("%d polylines", len(lines))
	}
	for i, l := range lines {
		if l.attrs["points"] != want[i] {
			t.Errorf("polyline %d: %q, want %q", i, l.attrs["points"], want[i])
		}
	}
	for _, w := range []string{"max 8", "max 400", "max 1", "RX frames", "TX frames", "failed URBs", "control requests", "5 intervals of 10ms from 2026-12-06 12:00:00.000 UTC", "50ms"} {
		if !slices.Contains(texts, w) {
			t.Errorf("no text %q in %q", w, texts)
		}
	}
	// The link band: unknown, up, unknown (the new life has reported none), down, down.
	colors := []string{"#eee", "#2ca02c", "#eee", "#d62728", "#d62728"}
	if len(bands) != 5 {
		t.Fatalf("%d link band rects", len(bands))
	}
	for i, r := range bands {
		if x := []string{"70.0", "244.0", "418.0", "592.0", "766.0"}[i]; r.attrs["x"] != x || r.attrs["y"] != "552" || r.attrs["width"] != "174.00" || r.attrs["fill"] != colors[i] {
			t.Errorf("band %d: %+v", i, r.attrs)
		}
	}
	// Event marks: link changes (intervals 1, 3) and the new life (2).
	var marks []string
	for _, e := range els {
		if e.name == "line" {
			marks = append(marks, e.attrs["x1"]+" "+e.attrs["stroke"]+" "+e.attrs["y1"]+" "+e.attrs["y2"])
		}
	}
	if wantMarks := []string{"331.0 #555 566 580", "505.0 #9467bd 566 580", "679.0 #555 566 580"}; !slices.Equal(marks, wantMarks) {
		t.Errorf("marks %q, want %q", marks, wantMarks)
	}
	var titles []string
	for _, e := range els {
		if e.name == "title" {
			titles = append(titles, e.text)
		}
	}
	if wantT := []string{"10ms: 1 link change(s)", "20ms: device appears", "30ms: 1 link change(s)"}; !slices.Equal(titles, wantT) {
		t.Errorf("titles %q, want %q", titles, wantT)
	}
}
