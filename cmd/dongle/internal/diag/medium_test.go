package diag

import (
	"strings"
	"testing"

	"dongle/usbnet/asix"
)

// TestMediumAgrees: a medium mode left at the reset default, or written
// for another speed, is reported; the one the link needs is not.
func TestMediumAgrees(t *testing.T) {
	giga := asix.LinkMode{Up: true, Mbps: 1000, FullDuplex: true}
	fast := asix.LinkMode{Up: true, Mbps: 100, FullDuplex: true}
	half10 := asix.LinkMode{Up: true, Mbps: 10}
	for _, c := range []struct {
		name   string
		v      asix.Variant
		medium uint16
		l      asix.LinkMode
		bad    bool
	}{
		{"178 at 1000 with GM", asix.AX88178, asix.MediumMode(asix.AX88178, giga), giga, false},
		{"178 at 1000, reset default (no GM)", asix.AX88178, asix.Medium178Default, giga, true},
		{"178 at 100 with GM left on", asix.AX88178, asix.MediumMode(asix.AX88178, giga), fast, true},
		{"772B at 100/full", asix.AX88772B, asix.MediumMode(asix.AX88772B, fast), fast, false},
		{"772B at 10/half, 100/full written", asix.AX88772B, asix.MediumMode(asix.AX88772B, fast), half10, true},
		{"772B at 10/half", asix.AX88772B, asix.MediumMode(asix.AX88772B, half10), half10, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := &Report{}
			mediumAgrees(r, c.v, c.medium, c.l)
			if got := len(r.Anomalies) != 0; got != c.bad {
				t.Fatalf("medium %#04x for %v: anomalies %q, want reported=%v", c.medium, c.l, r.Anomalies, c.bad)
			}
			if c.bad && !strings.Contains(r.Anomalies[0], "MEDIUM_STATUS") {
				t.Errorf("anomaly does not name the register: %q", r.Anomalies[0])
			}
		})
	}
}
