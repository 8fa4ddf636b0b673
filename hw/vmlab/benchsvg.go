package vmlab

import (
	"fmt"
	"html"
	"math"
	"strings"
)

// The plot's geometry: one bar per cell, a device's cells side by side,
// the ratio's axis from 0 to svgTop(ratios) at svgScale pixels per 1.0.
const (
	svgBarW   = 16
	svgBarGap = 4
	svgDevGap = 24
	svgLeft   = 50
	svgPlotH  = 240
	svgTopPad = 40
	svgBottom = 70
	svgMaxTop = 3.0
)

// svgTop is the axis's top: 2.0, or the highest ratio rounded up to 0.5,
// at most svgMaxTop (a taller bar is cut there and labelled with its
// ratio: one slow round trip must not squash every other bar).
func svgTop(cells []*BenchCell) float64 {
	top := 2.0
	for _, c := range cells {
		if r := c.Ratio(); r > top {
			top = math.Ceil(r*2) / 2
		}
	}
	return min(top, svgMaxTop)
}

// SVG is the report as a bar chart (hand-written SVG): one bar per cell,
// its height the ratio dongle/kernel (rtt: p50 dongle/kernel, lower is
// better), grouped by device, with a line at 1.0 and each target marked.
// A cell that failed has a zero-height bar labelled "failed". Each bar
// carries data-cell and data-ratio attributes and a tooltip.
func (r *BenchReport) SVG() string {
	top := svgTop(r.Cells)
	scale := svgPlotH / top
	// Devices in order of first appearance.
	var devs []string
	per := map[string][]*BenchCell{}
	for _, c := range r.Cells {
		if per[c.Dev.Name] == nil {
			devs = append(devs, c.Dev.Name)
		}
		per[c.Dev.Name] = append(per[c.Dev.Name], c)
	}
	width := svgLeft + 20
	for _, d := range devs {
		width += len(per[d])*(svgBarW+svgBarGap) + svgDevGap
	}
	height := svgTopPad + svgPlotH + svgBottom
	y := func(ratio float64) float64 { return svgTopPad + svgPlotH - ratio*scale }
	var b strings.Builder
	fmt.Fprintf(&b, `<?xml version="1.0" encoding="UTF-8"?>
<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="11">
<style>.tx{fill:#3b75af}.rx{fill:#e0812c}.rtt{fill:#8c8c8c}.failed{fill:#c00}.ref{stroke:#000;stroke-dasharray:4 3}.target{stroke:#090;stroke-width:2}.grid{stroke:#ddd}</style>
<text x="%d" y="18" font-size="13">dongle / kernel driver, median of %d same-boot rounds (tx, rx: frames/s, higher is better; rtt: p50, lower is better)</text>
`, width, height, width, height, svgLeft, r.Rounds)
	for v := 0.0; v <= top+1e-9; v += 0.5 {
		fmt.Fprintf(&b, `<line class="grid" x1="%d" y1="%.1f" x2="%d" y2="%.1f"/><text x="%d" y="%.1f" text-anchor="end">%.1f</text>
`, svgLeft, y(v), width-10, y(v), svgLeft-6, y(v)+4, v)
	}
	x := svgLeft + 10
	for _, d := range devs {
		x0 := x
		for _, c := range per[d] {
			ratio := c.Ratio()
			class := c.Dir
			if c.Problem() != "" {
				class, ratio = "failed", 0
			}
			tip := fmt.Sprintf("%s (%s): %.2f", c.Name(), c.Dev.Kernel, ratio)
			if p := c.Problem(); p != "" {
				tip = c.Name() + ": " + p
			}
			h := min(ratio, top)
			fmt.Fprintf(&b, `<rect class="bar %s" data-cell="%s" data-ratio="%.3f" x="%d" y="%.1f" width="%d" height="%.1f"><title>%s</title></rect>
`, class, html.EscapeString(c.Name()), ratio, x, y(h), svgBarW, h*scale, html.EscapeString(tip))
			if ratio > top {
				fmt.Fprintf(&b, `<text class="cut" x="%d" y="%.1f" font-size="9" text-anchor="middle">%.1f</text>
`, x+svgBarW/2, y(top)-3, ratio)
			}
			if class == "failed" {
				fmt.Fprintf(&b, `<text x="%d" y="%.1f" fill="#c00" transform="rotate(-90 %d %.1f)">failed</text>
`, x+12, y(0)-4, x+12, y(0)-4)
			}
			if t := c.Target(); t > 0 {
				fmt.Fprintf(&b, `<line class="target" x1="%d" y1="%.1f" x2="%d" y2="%.1f"/>
`, x-1, y(t), x+svgBarW+1, y(t))
			}
			fmt.Fprintf(&b, `<text x="%d" y="%.1f" font-size="9" transform="rotate(60 %d %.1f)">%s %d</text>
`, x+4, y(0)+10, x+4, y(0)+10, c.Dir, c.Size)
			x += svgBarW + svgBarGap
		}
		fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="middle">%s</text>
`, (x0+x-svgBarGap)/2, height-8, html.EscapeString(d))
		x += svgDevGap
	}
	fmt.Fprintf(&b, `<line class="ref" x1="%d" y1="%.1f" x2="%d" y2="%.1f"/>
<text x="%d" y="%d"><tspan class="tx">■</tspan> tx <tspan class="rx">■</tspan> rx <tspan class="rtt">■</tspan> rtt  <tspan fill="#090">—</tspan> target  - - - 1.0</text>
</svg>
`, svgLeft, y(1), width-10, y(1), max(svgLeft, width-260), 32)
	return b.String()
}
