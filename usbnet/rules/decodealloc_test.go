package rules_test

import (
	"testing"
	"time"

	"dongle/usbnet/decode"
)

// TestDecodeDispatchAllocatesNothingPerRecord: decoding with every rule
// and the timeline fed, a trace three times as long allocates no more
// (frames handed to Emit, not kept): the per-record path, event dispatch
// included, allocates nothing in steady state.
func TestDecodeDispatchAllocatesNothingPerRecord(t *testing.T) {
	if raceEnabled {
		t.Skip("under -race sync.Pool drops items on purpose, so allocation counts say nothing; the ordinary test run checks this")
	}
	allocs := func(n int) (float64, int) {
		s := newSynth(t, ecmFixture)
		for i := 0; i < n; i++ {
			traffic(s)
			s.wait(time.Millisecond)
		}
		opts := decode.Options{Emit: func(*decode.Frame) error { return nil }}
		tr, err := decode.Decode(s.recs, s.lt, opts)
		if err != nil || tr.Rules < 9 || tr.Stats.RxFrames != n {
			t.Fatalf("decode: %v, %d rules, %d frames", err, tr.Rules, tr.Stats.RxFrames)
		}
		return testing.AllocsPerRun(3, func() { decode.Decode(s.recs, s.lt, opts) }), len(s.recs)
	}
	a1, r1 := allocs(1000)
	a2, r2 := allocs(3000)
	if per := (a2 - a1) / float64(r2-r1); per > 0.001 {
		t.Errorf("%.0f allocations for %d records, %.0f for %d: %.4f per record", a1, r1, a2, r2, per)
	}
}
