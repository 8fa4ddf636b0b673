package guest

import (
	"errors"
	"testing"
)

func TestParseBusyTicks(t *testing.T) {
	// user 10, nice 2, system 30, idle 4000, iowait 50, irq 6, softirq 7, steal 800
	got, err := ParseBusyTicks("cpu  10 2 30 4000 50 6 7 800 0 0")
	if err != nil || got != 10+2+30+6+7 {
		t.Errorf("ParseBusyTicks = %d, %v; want 55 (idle, iowait and steal left out)", got, err)
	}
	// Kernels before 2.6.11 stop at softirq: seven counters are enough.
	if got, err := ParseBusyTicks("cpu 1 2 3 4 5 6 7"); err != nil || got != 1+2+3+6+7 {
		t.Errorf("seven counters: %d, %v; want 19", got, err)
	}
	for _, bad := range []string{"", "cpu0 1 2 3 4 5 6 7", "cpu 1 2 x 4 5 6 7", "cpu 1 2 3"} {
		if _, err := ParseBusyTicks(bad); !errors.Is(err, ErrProcStat) {
			t.Errorf("ParseBusyTicks(%q): %v, want ErrProcStat", bad, err)
		}
	}
}
