package rules

import (
	"fmt"
	"html"
	"io"
	"math"
	"strings"
	"time"
)

// SVG geometry.
const (
	svgW, svgPlotH = 960, 140
	svgLeft        = 70
)

// WriteSVG draws the timeline: frames per interval each way, failed URBs,
// the link state as a band, control requests, and the device's
// (re)enumerations as marks; title heads it. Hand-written SVG 1.1.
func (t *Timeline) WriteSVG(w io.Writer, title string) error {
	bs, iv := t.Rows(svgW - svgLeft - 20)
	n := max(len(bs), 1)
	plotW := float64(svgW - svgLeft - 20)
	bw := plotW / float64(n)
	var sb strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&sb, format+"\n", args...) }
	height := 40 + 3*(svgPlotH+30) + 60
	p(`<?xml version="1.0" encoding="UTF-8"?>`)
	p(`<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="11">`, svgW, height, svgW, height)
	p(`<rect width="100%%" height="100%%" fill="white"/>`)
	p(`<text x="%d" y="20" font-size="14">%s</text>`, svgLeft, html.EscapeString(title))
	p(`<text x="%d" y="34" fill="#555">%d intervals of %v from %s UTC</text>`, svgLeft, len(bs), iv, t.Start.UTC().Format("2006-01-02 15:04:05.000"))
	maxOf := func(f func(b *Bucket) int) int {
		m := 1
		for i := range bs {
			m = max(m, f(&bs[i]))
		}
		return m
	}
	panel := func(k int, label string, series []func(b *Bucket) int, colors []string, names []string) {
		top := 40 + k*(svgPlotH+30)
		m := 1
		for _, f := range series {
			m = max(m, maxOf(f))
		}
		p(`<g transform="translate(0,%d)">`, top)
		p(`<rect x="%d" y="10" width="%.0f" height="%d" fill="none" stroke="#ccc"/>`, svgLeft, plotW, svgPlotH)
		p(`<text x="4" y="20">%s</text><text x="4" y="34" fill="#555">max %d</text>`, html.EscapeString(label), m)
		for s, f := range series {
			var pts []string
			for i := range bs {
				v := float64(f(&bs[i])) / float64(m)
				x := float64(svgLeft) + (float64(i)+0.5)*bw
				pts = append(pts, fmt.Sprintf("%.1f,%.1f", x, 10+float64(svgPlotH)*(1-v)))
			}
			if len(pts) == 1 {
				pts = append(pts, pts[0])
			}
			p(`<polyline fill="none" stroke="%s" stroke-width="1.5" points="%s"/>`, colors[s], strings.Join(pts, " "))
			p(`<text x="%d" y="%d" fill="%s">%s</text>`, svgLeft+10+s*120, svgPlotH+24, colors[s], names[s])
		}
		p(`</g>`)
	}
	panel(0, "frames", []func(*Bucket) int{func(b *Bucket) int { return b.RxFrames }, func(b *Bucket) int { return b.TxFrames }},
		[]string{"#1f77b4", "#ff7f0e"}, []string{"RX frames", "TX frames"})
	panel(1, "bytes", []func(*Bucket) int{func(b *Bucket) int { return b.RxBytes }, func(b *Bucket) int { return b.TxBytes }},
		[]string{"#1f77b4", "#ff7f0e"}, []string{"RX bytes", "TX bytes"})
	panel(2, "failed URBs", []func(*Bucket) int{(*Bucket).Failed, func(b *Bucket) int { return b.Controls }},
		[]string{"#d62728", "#7f7f7f"}, []string{"failed URBs", "control requests"})
	// The link band and the events row.
	top := 40 + 3*(svgPlotH+30)
	p(`<text x="4" y="%d">link</text>`, top+12)
	for i := range bs {
		x := float64(svgLeft) + float64(i)*bw
		col := [...]string{"#eee", "#d62728", "#2ca02c"}[bs[i].Link]
		p(`<rect x="%.1f" y="%d" width="%.2f" height="12" fill="%s"/>`, x, top+2, math.Max(bw, 0.5), col)
		b := &bs[i]
		if b.Lives > 0 || b.Configs > 0 || b.LinkChanges > 0 {
			what := []string{}
			if b.Lives > 0 {
				what = append(what, "device appears")
			}
			if b.Configs > 0 {
				what = append(what, "SET_CONFIGURATION")
			}
			if b.LinkChanges > 0 {
				what = append(what, fmt.Sprintf("%d link change(s)", b.LinkChanges))
			}
			col := "#555"
			if b.Lives > 0 {
				col = "#9467bd"
			}
			p(`<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="%s"><title>%v: %s</title></line>`, x+bw/2, top+16, x+bw/2, top+30, col, iv*time.Duration(i), strings.Join(what, ", "))
		}
	}
	p(`<text x="4" y="%d">events</text>`, top+28)
	p(`<text x="%d" y="%d" fill="#555">0</text><text x="%d" y="%d" fill="#555" text-anchor="end">%v</text>`, svgLeft, top+46, svgW-20, top+46, iv*time.Duration(len(bs)))
	p(`</svg>`)
	_, err := io.WriteString(w, sb.String())
	return err
}
