package guest

import (
	"testing"
	"time"
)

func TestRTT(t *testing.T) {
	us := func(v ...int) []time.Duration {
		var d []time.Duration
		for _, x := range v {
			d = append(d, time.Duration(x)*time.Microsecond)
		}
		return d
	}
	hundred := make([]int, 100)
	for i := range hundred {
		hundred[i] = 100 - i // 100..1, unsorted
	}
	for _, c := range []struct {
		in   []time.Duration
		want string
	}{
		{nil, "n=0"},
		{us(7), "n=1 p50_us=7 p99_us=7 max_us=7"},
		{us(30, 10, 20), "n=3 p50_us=20 p99_us=30 max_us=30"},
		{us(10, 20, 30, 40), "n=4 p50_us=20 p99_us=40 max_us=40"},
		{us(hundred...), "n=100 p50_us=50 p99_us=99 max_us=100"},
		{us(append(hundred, 1000)...), "n=101 p50_us=51 p99_us=100 max_us=1000"},
	} {
		if got := RTT(c.in); got != c.want {
			t.Errorf("RTT(%v) = %q, want %q", c.in, got, c.want)
		}
	}
	in := us(3, 1, 2)
	RTT(in)
	if in[0] != 3*time.Microsecond {
		t.Error("RTT sorted its argument in place")
	}
}
