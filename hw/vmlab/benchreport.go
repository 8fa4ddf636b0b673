package vmlab

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"dongle/hw/vmlab/guest"
)

// userHZ is the unit of /proc/stat's CPU times (USER_HZ, 100 on Linux).
const userHZ = 100

// BenchRun is one measurement by one driver in one round.
//
// Invariant: Err == "" means the command succeeded and its result line
// parsed; Frames may still fall short of Want (a loss, which Problem
// reports, never hidden).
type BenchRun struct {
	Round        int
	Frames, Want uint64  // counted where the frames arrive; asked for
	Rate         float64 // frames/s (tx, rx); rtt: round trip p50 in µs
	P99          float64 // rtt: round trip p99 in µs
	Ticks        uint64  // guest CPU over the run, USER_HZ ticks (all CPUs)
	Err          string  // why the run failed ("": it ran)
	// Drops are the far side's and the kernel netdev's nonzero drop and
	// error counters after the run ("none"), to say where a loss went.
	Drops string
	// KernelTxDropped is what the kernel's driver counted in its own
	// tx_dropped over a TX run (cdc_ncm drops full-size frames it cannot
	// fit in an NTB, and says so there).
	KernelTxDropped uint64
	// KernelReopened: the kernel's netdev had no carrier after its open
	// and got it after a second one (kif in the bench script: the
	// kernel's ax88179_178a link_reset can give up on a slow host). The
	// run itself is whole; the table says it happened.
	KernelReopened bool
}

// accounted: the run fell short by exactly the frames the kernel's
// driver counted as dropped itself: a loss the driver declares (reported,
// lost_kernel and dropped_kernel in the line), not one that vanished.
func (r BenchRun) accounted() bool { return r.KernelTxDropped > 0 && r.Lost() == r.KernelTxDropped }

// CPUPerFrame is the guest's CPU time per frame (per round trip for rtt)
// over the run, in µs: user, nice, system, irq and softirq of every CPU,
// the far side's work (a gadget, a model) included, alike for both drivers.
func (r BenchRun) CPUPerFrame() float64 {
	if r.Want == 0 {
		return 0
	}
	return float64(r.Ticks) * (1e6 / userHZ) / float64(r.Want)
}

// Lost is how many frames of Want did not arrive.
func (r BenchRun) Lost() uint64 {
	if r.Frames >= r.Want {
		return 0
	}
	return r.Want - r.Frames
}

// ok: the run ran and every frame arrived.
func (r BenchRun) ok() bool {
	return r.Err == "" && (r.Frames == r.Want || r.accounted()) && r.Rate > 0
}

// BenchCell is one device, frame size and direction: the kernel's driver
// and dongle's, round by round, in the same boot.
type BenchCell struct {
	Dev            BenchDevice
	Size           int
	Dir            string // tx (the host's driver sends), rx (it receives), rtt
	Kernel, Dongle []BenchRun
	// Floor: the Dongle runs are the libusb floor, not dongle's driver
	// (BenchAllConfig.Floor; RX cells only).
	Floor  bool
	Rounds int    // rounds asked for
	Fail   string // the cell could not run, and why ("": it ran)
}

// NewBenchCells are a device's cells, empty: 1514 and 64 bytes TX and RX,
// and the 64-byte round trip.
func NewBenchCells(d BenchDevice, rounds int) []*BenchCell {
	var cells []*BenchCell
	for _, s := range []int{1514, 64} {
		for _, dir := range []string{"tx", "rx"} {
			cells = append(cells, &BenchCell{Dev: d, Size: s, Dir: dir, Rounds: rounds})
		}
	}
	return append(cells, &BenchCell{Dev: d, Size: 64, Dir: "rtt", Rounds: rounds})
}

// Name is "device dir size", e.g. "ecm tx 1514".
func (c *BenchCell) Name() string { return fmt.Sprintf("%s %s %d", c.Dev.Name, c.Dir, c.Size) }

// complete: every round has both runs.
func (c *BenchCell) complete() bool { return len(c.Kernel) == c.Rounds && len(c.Dongle) == c.Rounds }

// pairs are the rounds where both drivers' runs succeeded, as
// (kernel, dongle).
func (c *BenchCell) pairs() [][2]BenchRun {
	var p [][2]BenchRun
	for _, k := range c.Kernel {
		for _, d := range c.Dongle {
			if d.Round == k.Round && k.ok() && d.ok() {
				p = append(p, [2]BenchRun{k, d})
			}
		}
	}
	return p
}

// Ratio is the median over the rounds of dongle's rate over the kernel's
// in the same round (1: as fast; for rtt, dongle's p50 over the kernel's:
// lower is better). 0 when no round has both.
func (c *BenchCell) Ratio() float64 {
	var r []float64
	for _, p := range c.pairs() {
		r = append(r, p[1].Rate/p[0].Rate)
	}
	return median(r)
}

// stat is the median of f over the successful runs.
func stat(runs []BenchRun, f func(BenchRun) float64) float64 {
	var v []float64
	for _, r := range runs {
		if r.ok() {
			v = append(v, f(r))
		}
	}
	return median(v)
}

func rate(r BenchRun) float64 { return r.Rate }
func p99(r BenchRun) float64  { return r.P99 }
func cpu(r BenchRun) float64  { return r.CPUPerFrame() }

// Target is the ratio the cell should reach (0: none; rtt has none).
func (c *BenchCell) Target() float64 {
	switch c.Dir {
	case "tx":
		return c.Dev.TargetTX
	case "rx":
		return c.Dev.TargetRX
	}
	return 0
}

// Short: the cell ran, has a ratio, and it is below its target.
func (c *BenchCell) Short() bool {
	return c.Problem() == "" && c.belowTarget()
}

// belowTarget: the rounds that moved every frame give a ratio under the
// cell's target, whatever happened in the others.
func (c *BenchCell) belowTarget() bool {
	return c.Target() > 0 && len(c.pairs()) > 0 && c.Ratio() < c.Target()
}

// Problem says what went wrong in the cell ("" if every round of both
// drivers ran and lost nothing): the cell's failure, failed runs, lost
// frames, missing rounds.
func (c *BenchCell) Problem() string {
	if c.Fail != "" {
		return c.Fail
	}
	var p []string
	for _, side := range []struct {
		name string
		runs []BenchRun
	}{{"kernel", c.Kernel}, {"dongle", c.Dongle}} {
		for _, r := range side.runs {
			switch {
			case r.accounted():
			case r.Err != "":
				p = append(p, fmt.Sprintf("round %d %s: %s", r.Round, side.name, r.Err))
			case r.Lost() > 0:
				p = append(p, fmt.Sprintf("round %d %s: lost %d of %d frames (counters: %s)", r.Round, side.name, r.Lost(), r.Want, r.Drops))
			case r.Frames != r.Want:
				p = append(p, fmt.Sprintf("round %d %s: %d frames counted, %d sent", r.Round, side.name, r.Frames, r.Want))
			}
		}
		if len(side.runs) < c.Rounds {
			p = append(p, fmt.Sprintf("%s: %d of %d rounds ran", side.name, len(side.runs), c.Rounds))
		}
	}
	return strings.Join(p, "; ")
}

func lost(runs []BenchRun) uint64 {
	var n uint64
	for _, r := range runs {
		n += r.Lost()
	}
	return n
}

// untimed are the runs that moved every frame but too fast to time (all
// of them between two of the counter's 1 ms polls): too few frames for a
// rate (raise -n), which is no failure of the device and leaves the
// round out of the ratio.
func (c *BenchCell) untimed() string {
	var u []string
	for _, side := range []struct {
		name string
		runs []BenchRun
	}{{"kernel", c.Kernel}, {"dongle", c.Dongle}} {
		for _, r := range side.runs {
			if r.Err == "" && (r.Frames == r.Want || r.accounted()) && r.Rate <= 0 {
				u = append(u, fmt.Sprintf("round %d %s", r.Round, side.name))
			}
		}
	}
	if len(u) == 0 {
		return ""
	}
	return "untimed (too few frames for a rate: raise -n): " + strings.Join(u, ", ")
}

// status is ok, short (below target), untimed (ran without loss, some
// run too fast to time) or failed.
func (c *BenchCell) status() string {
	switch {
	case c.Problem() != "":
		return "failed"
	case c.Short():
		return "short"
	case c.untimed() != "":
		return "untimed"
	}
	return "ok"
}

// Line is the cell's machine-readable line:
//
//	BENCH device=0b95:1790 kernel=ax88179_178a size=1514 dir=tx kernel_fps=N dongle_fps=N ratio=R cpu_us_kernel=N cpu_us_dongle=N ...
//
// The fps fields are the medians over the rounds, the ratio the median of
// the same-round ratios; for rtt the fps fields hold the round trip's
// p50 in µs (and kernel_p99_us, dongle_p99_us follow). Then rounds, target
// (0: none), lost frames per driver over all rounds, and status (ok,
// short, failed).
func (c *BenchCell) Line() string {
	var b strings.Builder
	fmt.Fprintf(&b, "BENCH device=%s kernel=%s size=%d dir=%s kernel_fps=%.0f dongle_fps=%.0f ratio=%.3f cpu_us_kernel=%.1f cpu_us_dongle=%.1f",
		c.Dev.ID, c.Dev.Kernel, c.Size, c.Dir, stat(c.Kernel, rate), stat(c.Dongle, rate), c.Ratio(), stat(c.Kernel, cpu), stat(c.Dongle, cpu))
	if c.Dir == "rtt" {
		fmt.Fprintf(&b, " kernel_p99_us=%.0f dongle_p99_us=%.0f", stat(c.Kernel, p99), stat(c.Dongle, p99))
	}
	var declared uint64
	for _, r := range c.Kernel {
		declared += r.KernelTxDropped
	}
	fmt.Fprintf(&b, " rounds=%d target=%.2f lost_kernel=%d dropped_kernel=%d lost_dongle=%d status=%s", len(c.pairs()), c.Target(), lost(c.Kernel), declared, lost(c.Dongle), c.status())
	if c.Floor {
		b.WriteString(" dongle_is=" + guest.FloorMark)
	}
	return b.String()
}

// BenchReport is a whole `lab bench --all`.
type BenchReport struct {
	Rounds   int
	Cells    []*BenchCell
	Profiles []BenchProfile
}

// OK: every cell ran and lost nothing (being short of a target is not a
// failure).
func (r *BenchReport) OK() bool {
	for _, c := range r.Cells {
		if c.Problem() != "" {
			return false
		}
	}
	return len(r.Cells) > 0
}

// WriteTable writes the human-readable table: one row per cell, medians
// over the rounds, the ratio's spread (lowest and highest same-round
// ratio), the target and what went wrong.
func (r *BenchReport) WriteTable(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "device\tvid:pid\tkernel\tsize\tdir\tkernel\tdongle\tratio\tspread\ttarget\tcpu µs k\tcpu µs d\t  status")
	for _, c := range r.Cells {
		unit := "/s"
		if c.Dir == "rtt" {
			unit = "µs"
		}
		var rs []float64
		for _, p := range c.pairs() {
			rs = append(rs, p[1].Rate/p[0].Rate)
		}
		spread := "-"
		if len(rs) > 0 {
			spread = fmt.Sprintf("%.2f..%.2f", slices.Min(rs), slices.Max(rs))
		}
		target := "-"
		if c.Target() > 0 {
			target = fmt.Sprintf("%.1f", c.Target())
		}
		k, d := fmt.Sprintf("%.0f%s", stat(c.Kernel, rate), unit), fmt.Sprintf("%.0f%s", stat(c.Dongle, rate), unit)
		if c.Dir == "rtt" {
			k = fmt.Sprintf("p50 %.0fµs p99 %.0f", stat(c.Kernel, rate), stat(c.Kernel, p99))
			d = fmt.Sprintf("p50 %.0fµs p99 %.0f", stat(c.Dongle, rate), stat(c.Dongle, p99))
		}
		st := c.status()
		if p := c.Problem(); p != "" {
			st += ": " + p
		} else if u := c.untimed(); u != "" {
			st += "; " + u
		}
		for _, k := range c.Kernel {
			if k.accounted() {
				st += fmt.Sprintf("; round %d: the kernel's %s dropped %d (its tx_dropped)", k.Round, c.Dev.Kernel, k.KernelTxDropped)
			}
			if k.KernelReopened {
				st += fmt.Sprintf("; round %d: the kernel's netdev got carrier only after a second open", k.Round)
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\t%s\t%.2f\t%s\t%s\t%.1f\t%.1f\t  %s\n", c.Dev.Name, c.Dev.ID, c.Dev.Kernel, c.Size, c.Dir,
			k, d, c.Ratio(), spread, target, stat(c.Kernel, cpu), stat(c.Dongle, cpu), st)
	}
	tw.Flush()
	fmt.Fprintf(w, "ratio: dongle/kernel, the median of %d same-boot rounds (rtt: dongle's p50 over the kernel's, lower is better); cpu: guest CPU per frame, far side included\n", r.Rounds)
	if slices.ContainsFunc(r.Cells, func(c *BenchCell) bool { return c.Floor }) {
		fmt.Fprintln(w, "rx: the dongle column is the libusb floor (dongleblast rx -floor: a receive loop in C on libusb alone), not dongle's driver")
	}
}

// cellFloor is the line the bench script prints when dongle's RX runs
// are the libusb floor (BenchAllConfig.Floor).
const cellFloor = "CELLFLOOR"

// errBenchParse is wrapped by ParseBenchCells' errors.
var errBenchParse = errors.New("bench output")

// ParseBenchCells reads a device's guest output (the CELL lines of
// benchScript) into its cells. Lines that are not CELL lines are skipped;
// a CELL line that does not parse is an error naming it (the cells
// parsed so far are returned with it), and so is a round outside
// 1..rounds or a second line for the same driver, cell and round. A run
// whose command failed keeps its output as the reason.
func ParseBenchCells(d BenchDevice, rounds int, out string) ([]*BenchCell, error) {
	cells := NewBenchCells(d, rounds)
	byKey := map[string]*BenchCell{}
	for _, c := range cells {
		byKey[c.Dir+strconv.Itoa(c.Size)] = c
	}
	var setup string
	for _, line := range strings.Split(out, "\n") {
		line = strings.TrimSpace(line)
		if s, ok := strings.CutPrefix(line, "CELLSETUP "); ok {
			setup = s
			continue
		}
		if line == cellFloor {
			for _, c := range cells {
				c.Floor = c.Dir == "rx"
			}
			continue
		}
		rest, ok := strings.CutPrefix(line, "CELL ")
		if !ok {
			continue
		}
		head, body, ok := strings.Cut(rest, " :: ")
		if !ok {
			return cells, fmt.Errorf("%w: %q: no \" :: \"", errBenchParse, line)
		}
		f := fields(head)
		_, err1 := strconv.Atoi(f["size"])
		n, err2 := strconv.ParseUint(f["n"], 10, 64)
		round, err3 := strconv.Atoi(f["round"])
		ticks, err4 := strconv.ParseUint(f["ticks"], 10, 64)
		rc, err5 := strconv.Atoi(f["rc"])
		c := byKey[f["dir"]+f["size"]]
		if err := errors.Join(err1, err2, err3, err4, err5); err != nil {
			return cells, fmt.Errorf("%w: %q: bad fields (%v)", errBenchParse, line, err)
		}
		if c == nil {
			return cells, fmt.Errorf("%w: %q: no cell of dir %q and size %q", errBenchParse, line, f["dir"], f["size"])
		}
		if f["drv"] != "kernel" && f["drv"] != "dongle" {
			return cells, fmt.Errorf("%w: %q: drv %q: want kernel or dongle", errBenchParse, line, f["drv"])
		}
		if round < 1 || round > rounds {
			return cells, fmt.Errorf("%w: %q: round %d outside 1..%d", errBenchParse, line, round, rounds)
		}
		runs := &c.Dongle
		if f["drv"] == "kernel" {
			runs = &c.Kernel
		}
		for _, o := range *runs {
			if o.Round == round {
				// Two results for one run: a guest output concatenated
				// twice, or a script that ran a round again. Taking
				// either would be a guess.
				return cells, fmt.Errorf("%w: %q: a second %s run of %s %d B round %d", errBenchParse, line, f["drv"], c.Dir, c.Size, round)
			}
		}
		r := BenchRun{Round: round, Want: n, Ticks: ticks, Drops: f["drops"]}
		if rc != 0 {
			r.Err = fmt.Sprintf("exit %d: %s", rc, body)
		} else if err := r.parse(c.Dir, body); err != nil {
			r.Err = err.Error()
		}
		*runs = append(*runs, r)
	}
	if setup != "" {
		for _, c := range cells {
			c.Fail = "device setup " + setup
		}
	}
	return cells, nil
}

// parse reads a run's result text: the counts where the frames arrived
// (the host peer's PEER line, or dongleblast's rx/kernrx line), then,
// after " | ", the sender's output; for rtt, dongleblast rtt's or labguest
// ping's line with p50_us and p99_us.
//
// The CPU time is the guest_ticks of the counting side's line when it has
// them (dongleblast rx, kernrx and rtt, labguest ping: the frames' window,
// without the program's start or a driver's bind), else the sender's
// (dongleblast tx), else the shell's window around the run (labguest blast
// to the host peer, whose start is the only extra).
func (r *BenchRun) parse(dir, body string) error {
	count, sender, _ := strings.Cut(body, " | ")
	r.KernelReopened = fields(body)["kernel_reopened"] == "1"
	if v, ok := fields(count)["kernel_tx_dropped"]; ok {
		d, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return fmt.Errorf("%w: kernel_tx_dropped=%q", errBenchParse, v)
		}
		r.KernelTxDropped = d
	}
	for _, part := range []string{sender, count} {
		if t, err := strconv.ParseUint(fields(part)["guest_ticks"], 10, 64); err == nil {
			r.Ticks = t
		}
	}
	if dir == "rtt" {
		f := fields(body)
		n, err1 := strconv.ParseUint(f["n"], 10, 64)
		p50, err2 := strconv.ParseFloat(f["p50_us"], 64)
		p99, err3 := strconv.ParseFloat(f["p99_us"], 64)
		if err := errors.Join(err1, err2, err3); err != nil {
			return fmt.Errorf("%w: round trips %q: %v", errBenchParse, body, err)
		}
		r.Frames, r.Rate, r.P99 = n, p50, p99
		return nil
	}
	i := strings.Index(count, "PEER ")
	if i < 0 {
		i = strings.Index(count, "DONGLEBLAST ")
	}
	if i < 0 {
		return fmt.Errorf("%w: no count in %q", errBenchParse, body)
	}
	c, err := parseCount(count[i:])
	if err != nil {
		return fmt.Errorf("%w: %v", errBenchParse, err)
	}
	r.Frames, r.Rate = c.Frames, c.FramesPerSecond()
	return nil
}

// fields are the key=value words of s (later ones win).
func fields(s string) map[string]string {
	m := map[string]string{}
	for _, w := range strings.Fields(s) {
		if k, v, ok := strings.Cut(w, "="); ok {
			m[k] = v
		}
	}
	return m
}

// median of v (the mean of the middle two for an even count; 0 for none).
func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
