package asix_test

import (
	"strings"
	"testing"

	"dongle/usbnet/asix"
)

// TestMediumProblem: a medium mode left at the reset default, or written
// for another speed, is reported; the one the link needs is not.
func TestMediumProblem(t *testing.T) {
	giga := asix.LinkMode{Up: true, Mbps: 1000, FullDuplex: true}
	fast := asix.LinkMode{Up: true, Mbps: 100, FullDuplex: true}
	half10 := asix.LinkMode{Up: true, Mbps: 10}
	// What the chip reads back once the driver has programmed the link
	// (ax88178_link_reset, ax88772_link_reset), spelled from the AX_MEDIUM_*
	// bit layout rather than computed by asix.MediumMode, which
	// MediumProblem itself calls: were MediumMode wrong, the good cases
	// below would be reported.
	const (
		// AX88178 at 1000/full: the reset default PS|FD|AC|RFC|TFC|JFE|RE
		// (0x0200|0x0002|0x0004|0x0010|0x0020|0x0040|0x0100) plus GM
		// (0x0001) and ENCK (0x0008).
		medium178Giga = 0x037f
		// AX88772B at 100/full, no pause: AC|RE|PS|FD
		// (0x0004|0x0100|0x0200|0x0002).
		medium772Fast = 0x0306
		// AX88772B at 10/half: AC|RE (0x0004|0x0100), no PS, no FD.
		medium772Half10 = 0x0104
	)
	for _, c := range []struct {
		name   string
		v      asix.Variant
		medium uint16
		l      asix.LinkMode
		bad    bool
	}{
		{"178 at 1000 with GM", asix.AX88178, medium178Giga, giga, false},
		{"178 at 1000, reset default (no GM)", asix.AX88178, asix.Medium178Default, giga, true},
		{"178 at 100 with GM left on", asix.AX88178, medium178Giga, fast, true},
		{"772B at 100/full", asix.AX88772B, medium772Fast, fast, false},
		{"772B at 10/half, 100/full written", asix.AX88772B, medium772Fast, half10, true},
		{"772B at 10/half", asix.AX88772B, medium772Half10, half10, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := asix.MediumProblem(c.v, c.medium, c.l)
			if got := p != ""; got != c.bad {
				t.Fatalf("medium %#04x for %v: problem %q, want reported=%v", c.medium, c.l, p, c.bad)
			}
			if c.bad && !strings.HasPrefix(p, "MEDIUM_STATUS") {
				t.Errorf("problem does not name the register: %q", p)
			}
		})
	}
}
