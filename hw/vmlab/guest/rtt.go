package guest

import (
	"fmt"
	"slices"
	"time"
)

// RTT summarises round-trip times of frames sent one at a time and echoed
// back (labguest ping through a kernel netdev, dongleblast rtt through
// dongle's driver), as one line's fields:
//
//	n=500 p50_us=812 p99_us=2310 max_us=4120
//
// p50 and p99 are nearest-rank percentiles (the smallest sample with at
// least that share of the samples at or below it). No samples is "n=0".
func RTT(d []time.Duration) string {
	if len(d) == 0 {
		return "n=0"
	}
	s := slices.Clone(d)
	slices.Sort(s)
	rank := func(p int) time.Duration {
		i := (p*len(s) + 99) / 100 // ceil(p/100 * n), 1-based
		return s[max(i, 1)-1]
	}
	us := func(t time.Duration) int64 { return t.Microseconds() }
	return fmt.Sprintf("n=%d p50_us=%d p99_us=%d max_us=%d", len(s), us(rank(50)), us(rank(99)), us(s[len(s)-1]))
}
