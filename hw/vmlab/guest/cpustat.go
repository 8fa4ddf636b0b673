package guest

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// ErrProcStat is wrapped when /proc/stat's "cpu" line cannot be read.
var ErrProcStat = errors.New("/proc/stat")

// BusyTicks is the machine's busy CPU time so far, all CPUs, in USER_HZ
// ticks (/proc/stat: user + nice + system + irq + softirq; idle, iowait
// and steal left out). The benches take its difference over a run: what
// moving the frames cost the guest, a kernel driver's softirq work
// included, which a process's own rusage would miss.
func BusyTicks() (uint64, error) {
	f, err := os.Open("/proc/stat")
	if err != nil {
		return 0, fmt.Errorf("%w: %v", ErrProcStat, err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	if !sc.Scan() {
		return 0, fmt.Errorf("%w: empty", ErrProcStat)
	}
	return ParseBusyTicks(sc.Text())
}

// ParseBusyTicks reads BusyTicks from /proc/stat's first line
// ("cpu  user nice system idle iowait irq softirq steal ...").
func ParseBusyTicks(line string) (uint64, error) {
	f := strings.Fields(line)
	if len(f) < 8 || f[0] != "cpu" {
		return 0, fmt.Errorf("%w: %q is not the cpu line", ErrProcStat, line)
	}
	var sum uint64
	for _, i := range []int{1, 2, 3, 6, 7} { // user nice system irq softirq
		v, err := strconv.ParseUint(f[i], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("%w: field %d of %q: %v", ErrProcStat, i, line, err)
		}
		sum += v
	}
	return sum, nil
}
