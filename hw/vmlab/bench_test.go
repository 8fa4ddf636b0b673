package vmlab

import (
	"testing"
	"time"
)

func TestParseCount(t *testing.T) {
	for _, c := range []struct {
		line string
		want Count
		rate float64
	}{
		{"PEER frames=5 bytes=7570 echoed=0 first_ns=1000 last_ns=4000001000 rate=1 frames/s", Count{Frames: 5, Intervals: 4, Elapsed: 4 * time.Second}, 1},
		{"DONGLEBLAST kernrx frames=2000/2000 intervals=1996 in_ns=200000000 rate=9980 frames/s host_sent=2000 host_ns=205476887 if=usb0",
			Count{Frames: 2000, Intervals: 1996, Elapsed: 200 * time.Millisecond}, 9980},
		{"DONGLEBLAST rx frames=10/20 intervals=9 in_ns=1000000000 rate=9 frames/s host_sent=20 host_ns=1 rx_errors=0 rx_dropped=0",
			Count{Frames: 10, Intervals: 9, Elapsed: time.Second}, 9},
	} {
		got, err := parseCount(c.line)
		if err != nil || got != c.want || got.FramesPerSecond() != c.rate {
			t.Errorf("parseCount(%q) = %+v (%v frames/s), %v; want %+v (%v frames/s)", c.line, got, got.FramesPerSecond(), err, c.want, c.rate)
		}
	}
	for _, bad := range []string{"DONGLEBLAST rx ready", "PEER frames=x", ""} {
		if _, err := parseCount(bad); err == nil {
			t.Errorf("parseCount(%q): no error", bad)
		}
	}
}

func TestDirComparisonRatio(t *testing.T) {
	c := DirComparison{
		Kernel:      Count{Frames: 11, Intervals: 10, Elapsed: time.Second},
		KernelAfter: Count{Frames: 31, Intervals: 30, Elapsed: time.Second},
		Variants:    []Variant{{Count: Count{Frames: 11, Intervals: 10, Elapsed: time.Second}}},
	}
	if r := c.Ratio(); r != 0.5 {
		t.Errorf("ratio %v, want 0.5 (10 frames/s over the kernel's mean of 20)", r)
	}
	if r := (&DirComparison{Variants: c.Variants}).Ratio(); r != 0 {
		t.Errorf("ratio without a kernel rate: %v, want 0", r)
	}
}
