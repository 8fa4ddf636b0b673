package vmlab

import (
	"context"
	"encoding/xml"
	"errors"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"dongle/hw/vmlab/guest"
)

var ecmDev = BenchDevices[1] // 1209:0001, cdc_ether, far side gecm0, targets 0.9 / 1.0

// A device's guest output as benchScript's functions print it, with the
// lines around them that the parser must skip.
const cannedECM = `lab: booting
CELL drv=kernel dir=tx size=1514 n=1000 round=1 ticks=14 rc=0 :: DONGLEBLAST kernrx frames=1000/1000 intervals=900 in_ns=100000000 rate=9000 frames/s host_sent=0 host_ns=0 guest_ticks=9 if=gecm0 | BLAST if=usb1 frames=1000 size=1514 sent_in=0.078s rate=12864 frames/s 19.48 MB/s
CELL drv=dongle dir=tx size=1514 n=1000 round=1 ticks=54 rc=0 :: DONGLEBLAST kernrx frames=1000/1000 intervals=999 in_ns=200000000 rate=4995 frames/s host_sent=0 host_ns=0 guest_ticks=12 if=gecm0 | DONGLEBLAST tx frames=1000 size=1514 guest_ticks=30 tx_packets=1000 tx_dropped=0
CELL drv=kernel dir=rx size=1514 n=1000 round=1 ticks=34 rc=0 :: DONGLEBLAST kernrx frames=1000/1000 intervals=500 in_ns=50000000 rate=10000 frames/s host_sent=1000 host_ns=1 guest_ticks=8 if=usb1
CELL drv=dongle dir=rx size=1514 n=1000 round=1 ticks=63 rc=0 drops=gecm0.tx_dropped=10, :: DONGLEBLAST rx frames=990/1000 intervals=989 in_ns=100000000 rate=9890 frames/s host_sent=1000 host_ns=1 guest_ticks=6 rx_errors=0 rx_dropped=0
noise: kernrx ready
CELL drv=kernel dir=tx size=64 n=2000 round=1 ticks=11 rc=1 :: FAIL no kernel netdev for 1209:0001 (is cdc_ether bound?)
CELL drv=dongle dir=tx size=64 n=2000 round=1 ticks=7 rc=0 :: PEER frames=2000 bytes=128000 echoed=0 first_ns=1000000000 last_ns=2000000000 rate=1999 frames/s | DONGLEBLAST tx frames=2000 size=64 tx_packets=2000
CELL drv=kernel dir=rtt size=64 n=50 round=1 ticks=12 rc=0 :: PING if=usb1 echoed=50/50 in 0.142s guest_ticks=5 rtt n=50 p50_us=400 p99_us=900 max_us=1000
CELL drv=dongle dir=rtt size=64 n=50 round=1 ticks=86 rc=0 :: DONGLEBLAST rtt size=64 guest_ticks=10 n=50 p50_us=600 p99_us=3000 max_us=4000
CELLDONE
`

func TestParseBenchCells(t *testing.T) {
	cells, err := ParseBenchCells(ecmDev, 1, cannedECM)
	if err != nil {
		t.Fatal(err)
	}
	if len(cells) != 5 {
		t.Fatalf("%d cells, want 5 (tx, rx at 1514 and 64; rtt)", len(cells))
	}
	get := func(dir string, size int) *BenchCell {
		for _, c := range cells {
			if c.Dir == dir && c.Size == size {
				return c
			}
		}
		t.Fatalf("no cell %s %d", dir, size)
		return nil
	}
	tx := get("tx", 1514)
	// The counting side's rate and window: 900 intervals in 0.1 s; its
	// guest_ticks (9) over the shell's (14): 9 ticks of 10 ms over 1000 frames.
	if k := tx.Kernel[0]; k.Frames != 1000 || k.Rate != 9000 || k.Ticks != 9 || k.CPUPerFrame() != 90 {
		t.Errorf("kernel tx 1514: %+v (cpu %v µs/frame), want 1000 frames at 9000/s, 9 ticks, 90 µs/frame", k, k.CPUPerFrame())
	}
	if d := tx.Dongle[0]; d.Rate != 4995 || d.Ticks != 12 {
		t.Errorf("dongle tx 1514: %+v, want 4995/s and the counter's 12 ticks (not the sender's 30)", d)
	}
	if r := tx.Ratio(); math.Abs(r-4995.0/9000) > 1e-9 || !tx.Short() || tx.Problem() != "" {
		t.Errorf("tx 1514: ratio %v short %v problem %q; want %v, short of 0.9, no problem", r, tx.Short(), tx.Problem(), 4995.0/9000)
	}
	rx := get("rx", 1514)
	if p := rx.Problem(); !strings.Contains(p, "round 1 dongle: lost 10 of 1000 frames (counters: gecm0.tx_dropped=10,)") {
		t.Errorf("rx 1514 problem %q: want the 10 lost frames named", p)
	}
	if rx.Ratio() != 0 || rx.Short() {
		t.Errorf("rx 1514 with a loss: ratio %v short %v, want no ratio (the lossy round is not compared)", rx.Ratio(), rx.Short())
	}
	tx64 := get("tx", 64)
	if p := tx64.Problem(); !strings.Contains(p, "round 1 kernel: exit 1: FAIL no kernel netdev") {
		t.Errorf("tx 64 problem %q: want the kernel run's failure", p)
	}
	// The host peer's count (frames 1..2000 over 1 s), the shell's ticks (no guest_ticks anywhere).
	if d := tx64.Dongle[0]; d.Rate != 1999 || d.Ticks != 7 {
		t.Errorf("dongle tx 64: %+v, want 1999/s and the shell's 7 ticks", d)
	}
	rx64 := get("rx", 64)
	if p := rx64.Problem(); p != "kernel: 0 of 1 rounds ran; dongle: 0 of 1 rounds ran" {
		t.Errorf("rx 64 (no lines) problem %q", p)
	}
	rtt := get("rtt", 64)
	if k, d := rtt.Kernel[0], rtt.Dongle[0]; k.Rate != 400 || k.P99 != 900 || d.Rate != 600 || d.P99 != 3000 || d.Ticks != 10 || d.CPUPerFrame() != 2000 {
		t.Errorf("rtt: kernel %+v dongle %+v", k, d)
	}
	if r := rtt.Ratio(); r != 1.5 {
		t.Errorf("rtt ratio %v, want 600/400", r)
	}

	for _, bad := range []string{
		"CELL drv=kernel dir=tx size=1514 n=1000 round=1 ticks=1 rc=0 PEER frames=1",        // no " :: "
		"CELL drv=other dir=tx size=1514 n=1000 round=1 ticks=1 rc=0 :: x",                  // driver
		"CELL drv=kernel dir=up size=1514 n=1000 round=1 ticks=1 rc=0 :: x",                 // direction
		"CELL drv=kernel dir=tx size=1514 n=many round=1 ticks=1 rc=0 :: x",                 // count
		"CELL drv=kernel dir=tx size=1514 n=1000 round=1 ticks=1 :: DONGLEBLAST kernrx ...", // no rc
		"CELL drv=kernel dir=tx size=1514 n=1000 round=0 ticks=1 rc=0 :: x",                 // round before the first
		"CELL drv=kernel dir=tx size=1514 n=1000 round=2 ticks=1 rc=0 :: x",                 // round past -rounds
		// The same run twice.
		"CELL drv=dongle dir=rx size=64 n=10 round=1 ticks=1 rc=0 :: x\nCELL drv=dongle dir=rx size=64 n=10 round=1 ticks=2 rc=0 :: y",
	} {
		if _, err := ParseBenchCells(ecmDev, 1, bad); !errors.Is(err, errBenchParse) {
			t.Errorf("ParseBenchCells(%q): %v, want errBenchParse", bad, err)
		}
	}
	// A result line that does not parse fails its run, not the device.
	cs, err := ParseBenchCells(ecmDev, 1, "CELL drv=kernel dir=rx size=64 n=10 round=1 ticks=1 rc=0 :: DONGLEBLAST rx ready")
	if err != nil || cs[3].Kernel[0].Err == "" {
		t.Errorf("unparseable count: %v, run %+v; want the run failed", err, cs[3].Kernel)
	}
	cs, _ = ParseBenchCells(ecmDev, 1, "CELLSETUP failed (exit 2): ip: no such device\nCELL drv=kernel dir=rx size=64 n=10 round=1 ticks=1 rc=0 :: x")
	for _, c := range cs {
		if !strings.Contains(c.Problem(), "device setup failed (exit 2): ip: no such device") {
			t.Errorf("%s after a failed setup: problem %q", c.Name(), c.Problem())
		}
	}
}

// cellOf builds a cell from rates per round (0: that run failed).
func cellOf(dir string, kernel, dongle []float64) *BenchCell {
	c := &BenchCell{Dev: ecmDev, Size: 1514, Dir: dir, Rounds: len(kernel)}
	for i := range kernel {
		k := BenchRun{Round: i + 1, Frames: 100, Want: 100, Rate: kernel[i], Ticks: uint64(10 * (i + 1))}
		d := BenchRun{Round: i + 1, Frames: 100, Want: 100, Rate: dongle[i], Ticks: uint64(20 * (i + 1))}
		if kernel[i] == 0 {
			k.Err = "exit 1"
		}
		if dongle[i] == 0 {
			d.Err = "exit 1"
		}
		c.Kernel, c.Dongle = append(c.Kernel, k), append(c.Dongle, d)
	}
	return c
}

func TestBenchCellRatioIsTheMedianOfSameRoundRatios(t *testing.T) {
	// Same-round ratios 1.5, 0.5, 1.0: median 1.0. The ratio of the
	// medians (150/200 = 0.75) or of the means would differ.
	c := cellOf("rx", []float64{100, 200, 400}, []float64{150, 100, 400})
	if r := c.Ratio(); r != 1.0 {
		t.Errorf("ratio %v, want 1.0", r)
	}
	if c.Short() {
		t.Error("1.0 against RX target 1.0: not short")
	}
	// Rounds pair by number, not position; a failed run drops its round;
	// an even count takes the middle two's mean: (2.0 + 0.5) / 2.
	c = cellOf("tx", []float64{100, 100, 100, 100}, []float64{200, 0, 50, 300})
	c.Dongle[0], c.Dongle[3] = c.Dongle[3], c.Dongle[0] // round 4's run first
	if r := c.Ratio(); r != 2.0 {
		t.Errorf("rounds 1 (2.0), 3 (0.5), 4 (3.0): ratio %v, want the median 2.0", r)
	}
	c = cellOf("tx", []float64{100, 100}, []float64{200, 50})
	if r := c.Ratio(); r != 1.25 {
		t.Errorf("even count: ratio %v, want 1.25", r)
	}
	if c := cellOf("tx", []float64{100}, []float64{0}); c.Ratio() != 0 || c.Problem() != "round 1 dongle: exit 1" {
		t.Errorf("no pair: ratio %v problem %q", c.Ratio(), c.Problem())
	}
	// Every frame arrived but too fast to time: no failure, no ratio.
	c = cellOf("rx", []float64{100}, []float64{100})
	c.Kernel[0].Rate = 0
	if c.Problem() != "" || c.Ratio() != 0 || c.status() != "untimed" || !strings.HasSuffix(c.Line(), "status=untimed") {
		t.Errorf("untimed run: problem %q ratio %v line %s", c.Problem(), c.Ratio(), c.Line())
	}
	if c.Kernel[0].Frames = 99; c.status() != "failed" {
		t.Errorf("an untimed run that lost a frame: %s, want failed", c.status())
	}
}

func TestBenchCellLine(t *testing.T) {
	c := cellOf("tx", []float64{1000, 2000, 4000}, []float64{900, 1000, 4000})
	want := "BENCH device=1209:0001 kernel=cdc_ether size=1514 dir=tx kernel_fps=2000 dongle_fps=1000 ratio=0.900 " +
		"cpu_us_kernel=2000.0 cpu_us_dongle=4000.0 rounds=3 target=0.90 lost_kernel=0 dropped_kernel=0 lost_dongle=0 status=ok"
	if got := c.Line(); got != want {
		t.Errorf("line\n got %s\nwant %s", got, want)
	}
	c.Dongle[1].Frames = 97 // round 2 lost 3: not compared, counted, failed
	want = "BENCH device=1209:0001 kernel=cdc_ether size=1514 dir=tx kernel_fps=2000 dongle_fps=2450 ratio=0.950 " +
		"cpu_us_kernel=2000.0 cpu_us_dongle=4000.0 rounds=2 target=0.90 lost_kernel=0 dropped_kernel=0 lost_dongle=3 status=failed"
	if got := c.Line(); got != want {
		t.Errorf("line with a loss\n got %s\nwant %s", got, want)
	}
	r := cellOf("rtt", []float64{400}, []float64{600})
	r.Size, r.Kernel[0].P99, r.Dongle[0].P99 = 64, 900, 3000
	want = "BENCH device=1209:0001 kernel=cdc_ether size=64 dir=rtt kernel_fps=400 dongle_fps=600 ratio=1.500 " +
		"cpu_us_kernel=1000.0 cpu_us_dongle=2000.0 kernel_p99_us=900 dongle_p99_us=3000 rounds=1 target=0.00 lost_kernel=0 dropped_kernel=0 lost_dongle=0 status=ok"
	if got := r.Line(); got != want {
		t.Errorf("rtt line\n got %s\nwant %s", got, want)
	}
	s := cellOf("rx", []float64{100}, []float64{90})
	if !strings.HasSuffix(s.Line(), "status=short") {
		t.Errorf("0.9 against RX target 1.0: %s", s.Line())
	}
}

func TestBenchReportTableAndOK(t *testing.T) {
	ok := cellOf("rx", []float64{100}, []float64{120})
	lossy := cellOf("tx", []float64{100}, []float64{100})
	lossy.Kernel[0].Frames, lossy.Kernel[0].Drops = 60, "none"
	failed := &BenchCell{Dev: BenchDevices[5], Size: 64, Dir: "rx", Rounds: 1, Fail: "boot: lab guest did not finish"}
	rep := &BenchReport{Rounds: 1, Cells: []*BenchCell{ok}}
	if !rep.OK() {
		t.Error("a report whose cells all ran is not OK")
	}
	rep.Cells = append(rep.Cells, lossy, failed)
	if rep.OK() || (&BenchReport{}).OK() {
		t.Error("a report with a lossy or failed cell, or none, is OK")
	}
	var b strings.Builder
	rep.WriteTable(&b)
	tab := b.String()
	for _, want := range []string{"1.20", "failed: round 1 kernel: lost 40 of 100 frames (counters: none)", "rtl8153", "failed: boot: lab guest did not finish", "median of 1 same-boot rounds"} {
		if !strings.Contains(tab, want) {
			t.Errorf("table lacks %q:\n%s", want, tab)
		}
	}
	if n := strings.Count(tab, "\n"); n != 5 {
		t.Errorf("table has %d lines, want header + 3 rows + note:\n%s", n, tab)
	}
}

func TestBenchSVG(t *testing.T) {
	cells := []*BenchCell{
		cellOf("tx", []float64{100}, []float64{50}),
		cellOf("rx", []float64{100}, []float64{125}),
		cellOf("rx", []float64{100}, []float64{260}), // axis to 3.0
		cellOf("tx", []float64{100}, []float64{700}), // cut at 3.0
		{Dev: BenchDevices[4], Size: 64, Dir: "tx", Rounds: 1, Fail: "boot <failed> & gone"},
	}
	rep := &BenchReport{Rounds: 1, Cells: cells}
	svg := rep.SVG()
	dec := xml.NewDecoder(strings.NewReader(svg))
	type bar struct {
		class, cell    string
		ratio, height  float64
		y, x, bottomAt float64
	}
	var bars []bar
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("not well-formed XML: %v\n%s", err, svg)
		}
		se, ok := tok.(xml.StartElement)
		if !ok || se.Name.Local != "rect" {
			continue
		}
		a := map[string]string{}
		for _, at := range se.Attr {
			a[at.Name.Local] = at.Value
		}
		if !strings.HasPrefix(a["class"], "bar ") {
			continue
		}
		num := func(k string) float64 {
			v, err := strconv.ParseFloat(a[k], 64)
			if err != nil {
				t.Fatalf("rect %s=%q: %v", k, a[k], err)
			}
			return v
		}
		bars = append(bars, bar{class: a["class"], cell: a["data-cell"], ratio: num("data-ratio"), height: num("height"), y: num("y")})
	}
	if !strings.Contains(svg, `<text class="cut" x="128" y="37.0" font-size="9" text-anchor="middle">7.0</text>`) {
		t.Errorf("the cut bar (7.0) has no label with its ratio at the top:\n%s", svg)
	}
	if len(bars) != len(cells) {
		t.Fatalf("%d bars, want one per cell (%d)", len(bars), len(cells))
	}
	scale := svgPlotH / 3.0
	for i, b := range bars {
		c := cells[i]
		want := c.Ratio()
		h := min(want, 3.0)
		if c.Problem() != "" {
			want = 0
			if b.class != "bar failed" {
				t.Errorf("bar %d class %q, want failed", i, b.class)
			}
		} else if b.class != "bar "+c.Dir {
			t.Errorf("bar %d class %q, want %q", i, b.class, "bar "+c.Dir)
		}
		if b.cell != c.Name() || math.Abs(b.ratio-want) > 1e-3 {
			t.Errorf("bar %d: cell %q ratio %v, want %q %v", i, b.cell, b.ratio, c.Name(), want)
		}
		if c.Problem() != "" {
			h = 0
		}
		if math.Abs(b.height-h*scale) > 0.1 || math.Abs(b.y+b.height-(svgTopPad+svgPlotH)) > 0.1 {
			t.Errorf("bar %d (%s): height %v at y %v, want %v standing on the axis", i, b.cell, b.height, b.y, h*scale)
		}
	}
}

func TestSelectBenchDevices(t *testing.T) {
	d, err := SelectBenchDevices("rtl8153, 1209:0001")
	if err != nil || len(d) != 2 || d[0].Name != "ecm" || d[1].Kernel != "r8152" {
		t.Errorf("SelectBenchDevices: %+v, %v; want ecm then rtl8153 (the table's order)", d, err)
	}
	if d, _ := SelectBenchDevices(""); len(d) != len(BenchDevices) {
		t.Errorf("no selection: %d devices, want all", len(d))
	}
	if _, err := SelectBenchDevices("ecm,rtl8152"); !errors.Is(err, ErrBenchConfig) || !strings.Contains(err.Error(), `"rtl8152"`) {
		t.Errorf("unknown device: %v, want ErrBenchConfig naming it", err)
	}
	if err := (BenchAllConfig{N: 1, N64: 1, NRTT: 0, Rounds: 1, Devices: d}).check(); !errors.Is(err, ErrBenchConfig) {
		t.Errorf("-rtt 0: %v, want ErrBenchConfig", err)
	}
	if err := (BenchAllConfig{N: 1, N64: 1, NRTT: 1, Rounds: 1, Devices: d, Args: []string{"-rxurbs", "32"}}).check(); err != nil {
		t.Errorf("plain dongleblast flags: %v", err)
	}
	for _, a := range []string{"-cpuprofile /tmp/x", "$(reboot)", ""} {
		if err := (BenchAllConfig{N: 1, N64: 1, NRTT: 1, Rounds: 1, Devices: d, Args: []string{a}}).check(); !errors.Is(err, ErrBenchConfig) {
			t.Errorf("dongleblast flag %q: %v, want ErrBenchConfig (the script expands them unquoted)", a, err)
		}
	}
}

func TestBenchScript(t *testing.T) {
	dev := BenchDevices[5]
	s := benchScript(dev, BenchAllConfig{N: 700, N64: 1400, NRTT: 30, Rounds: 2, Profile: true, Args: []string{"-rxurbs", "32"}})
	for _, want := range []string{
		"ID=0bda:8153\nFAR=veth0\nKDRV=r8152\nPROF=1\nmkdir -p /mnt/lab/prof\nDARGS='-rxurbs 32'\n",
		"$D tx -dev $ID $DARGS -n", "$D rx -dev $ID $DARGS $RXARGS -from none -n", "$D rtt -dev $ID $DARGS -n",
		"ffsmodel -daemon -model rtl8153 -usbip -echo=false -wire va",
		"for v in kernel dongle; do tx $v 1514 700 1; done\nfor v in kernel dongle; do rx $v 1514 700 1; done\n" +
			"for v in kernel dongle; do tx $v 64 1400 1; done\nfor v in kernel dongle; do rx $v 64 1400 1; done\n" +
			"echo_on\nfor v in kernel dongle; do rtt $v 30 1; done\necho_off\n",
		"for v in dongle kernel; do tx $v 1514 700 2; done", // round 2: dongle first
	} {
		if !strings.Contains(s, want) {
			t.Errorf("script lacks %q", want)
		}
	}
	if strings.Contains(s, " 3; done") {
		t.Error("script runs a third round")
	}
	if sh, err := exec.LookPath("sh"); err == nil {
		for _, d := range BenchDevices {
			s := benchScript(d, BenchAllConfig{N: 1, N64: 1, NRTT: 1, Rounds: 2, Profile: true})
			if out, err := exec.Command(sh, "-n", "-c", s).CombinedOutput(); err != nil {
				t.Errorf("%s: sh -n: %v: %s", d.Name, err, out)
			}
			settle, round := strings.Index(s, "\nsettle || "), strings.Index(s, "\nfor v in ")
			if d.GadgetLink != (settle >= 0) || settle > round {
				t.Errorf("%s: GadgetLink %v, but the script settles at %d (the first round at %d)", d.Name, d.GadgetLink, settle, round)
			}
		}
	}
	if u := benchScript(BenchDevices[0], BenchAllConfig{N: 1, N64: 1, NRTT: 1, Rounds: 1}); strings.Contains(u, "PROF=1") || !strings.Contains(u, "labguest peer mode count") {
		t.Errorf("usb-net script: profiles off, the host peer counting:\n%s", u)
	}
	if !strings.Contains(s, "\nRXARGS=\n") {
		t.Error("script without -floor does not clear RXARGS")
	}
}

// TestBenchFloor: -floor gives dongle's RX runs, and only those, the
// floor's flag; it takes NCM devices only; the table says whose the
// column is, also when redrawn from the guest output.
func TestBenchFloor(t *testing.T) {
	ncm, err := SelectBenchDevices("ncm")
	if err != nil {
		t.Fatal(err)
	}
	cfg := BenchAllConfig{N: 1, N64: 1, NRTT: 1, Rounds: 1, Devices: ncm, Floor: true}
	if err := cfg.check(); err != nil {
		t.Errorf("ncm with -floor: %v", err)
	}
	s := benchScript(ncm[0], cfg)
	if !strings.Contains(s, "\nRXARGS=-floor\n") || strings.Count(s, "$RXARGS") != 2 {
		t.Errorf("script: RXARGS=-floor, used by dongle's two rx commands only:\n%s", s)
	}
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, "$RXARGS") && !strings.Contains(l, "$D rx -dev") {
			t.Errorf("RXARGS outside dongle's rx: %s", l)
		}
	}
	both, _ := SelectBenchDevices("ncm,ecm")
	if err := (BenchAllConfig{N: 1, N64: 1, NRTT: 1, Rounds: 1, Devices: both, Floor: true}).check(); !errors.Is(err, ErrBenchConfig) || !strings.Contains(err.Error(), "ecm") {
		t.Errorf("ecm with -floor: %v, want ErrBenchConfig naming ecm", err)
	}
	// Every spelling Go's flag package takes for it.
	for _, a := range []string{"-floor", "--floor", "-floor=true", "--floor=1", "-floor=false"} {
		if err := (BenchAllConfig{N: 1, N64: 1, NRTT: 1, Rounds: 1, Devices: ncm, Args: []string{a}}).check(); !errors.Is(err, ErrBenchConfig) {
			t.Errorf("-- %s (TX runs too): %v, want ErrBenchConfig", a, err)
		}
	}
	if err := (BenchAllConfig{N: 1, N64: 1, NRTT: 1, Rounds: 1, Devices: ncm, Args: []string{"-floors", "floor"}}).check(); err != nil {
		t.Errorf("-- -floors floor (not the floor's flag): %v", err)
	}
	// The script's mark makes the RX cells, and only those, the floor's:
	// in the table, the BENCH lines and a replay alike.
	if !strings.Contains(s, "\necho "+cellFloor+"\n") || strings.Contains(benchScript(ncm[0], BenchAllConfig{N: 1, N64: 1, NRTT: 1, Rounds: 1}), cellFloor) {
		t.Errorf("the script marks the floor's boot only with -floor")
	}
	run := "CELL drv=dongle dir=rx size=1514 n=10 round=1 ticks=5 rc=0 drops=none, :: DONGLEBLAST rx frames=10/10 intervals=9 in_ns=1000 rate=9000000 frames/s host_sent=0 host_ns=0 guest_ticks=1 rx_errors=0 rx_dropped=0 cpu_us_per_frame=1.0 (user 0.5 sys 0.5)\n"
	for _, c := range []struct {
		text  string
		floor bool
	}{{"CELLDEV ncm\n" + cellFloor + "\n" + run, true}, {"CELLDEV ncm\n" + run, false}} {
		rep, err := ReplayBench(c.text, 1)
		if err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		rep.WriteTable(&b)
		if strings.Contains(b.String(), "libusb floor") != c.floor {
			t.Errorf("floor %v: table:\n%s", c.floor, b.String())
		}
		for _, cell := range rep.Cells {
			want := c.floor && cell.Dir == "rx"
			if cell.Floor != want || strings.Contains(cell.Line(), guest.FloorMark) != want {
				t.Errorf("floor %v: %s: Floor %v, line %s", c.floor, cell.Name(), cell.Floor, cell.Line())
			}
		}
	}
}

func TestReplayBench(t *testing.T) {
	// Devices in BenchDevices' order whatever the text's; lines before
	// the first CELLDEV belong to no device.
	text := "CELL drv=kernel dir=tx size=1514 n=1 round=1 ticks=1 rc=0 :: stray\n" +
		"CELLDEV rtl8153\nCELL drv=kernel dir=rtt size=64 n=50 round=1 ticks=1 rc=0 :: PING rtt n=50 p50_us=7 p99_us=9\n" +
		"CELLDEV ecm\n" + cannedECM
	rep, err := ReplayBench(text, 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Cells) != 10 || rep.Cells[0].Dev.Name != "ecm" || rep.Cells[5].Dev.Name != "rtl8153" {
		t.Fatalf("%d cells, first %s, sixth %s; want ecm's 5 then rtl8153's 5", len(rep.Cells), rep.Cells[0].Name(), rep.Cells[5].Name())
	}
	if r := rep.Cells[9].Kernel; len(r) != 1 || r[0].Rate != 7 || rep.Cells[0].Kernel[0].Rate != 9000 {
		t.Errorf("replayed runs: rtl8153 rtt %+v, ecm tx %+v", r, rep.Cells[0].Kernel)
	}
	if _, err := ReplayBench("CELLDEV rtl8152\n", 1); !errors.Is(err, ErrBenchConfig) {
		t.Errorf("unknown device: %v", err)
	}
	if _, err := ReplayBench(cannedECM, 1); !errors.Is(err, ErrBenchConfig) {
		t.Errorf("no CELLDEV: %v", err)
	}
	// A device's output given twice: its runs twice, an error.
	if _, err := ReplayBench("CELLDEV ecm\n"+cannedECM+"CELLDEV rtl8153\nCELLDEV ecm\n"+cannedECM, 0); !errors.Is(err, errBenchParse) {
		t.Errorf("ecm's output twice: %v, want errBenchParse", err)
	}
	// Rounds counted per device: ecm's one round is complete beside a
	// device that ran two.
	two := "CELLDEV rtl8153\nCELL drv=kernel dir=rtt size=64 n=50 round=2 ticks=1 rc=0 :: PING rtt n=50 p50_us=7 p99_us=9\n"
	rep, err = ReplayBench("CELLDEV ecm\n"+cannedECM+two, 0)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Rounds != 2 || rep.Cells[0].Rounds != 1 || !rep.Cells[0].complete() || rep.Cells[9].Rounds != 2 {
		t.Errorf("rounds: report %d, ecm tx %d (complete %v), rtl8153 rtt %d; want 2, 1 (true), 2",
			rep.Rounds, rep.Cells[0].Rounds, rep.Cells[0].complete(), rep.Cells[9].Rounds)
	}
	if s := benchScript(BenchDevices[2], BenchAllConfig{N: 1, N64: 1, NRTT: 1, Rounds: 1}); !strings.HasPrefix(s, "echo CELLDEV ncm\n") {
		t.Errorf("script does not name its device first:\n%.80s", s)
	}
}

func TestBenchKernelDeclaredDrops(t *testing.T) {
	// Round 1: 3 frames short, the kernel's tx_dropped rose by 3: the
	// driver declared them; reported, compared, not a failure. Round 2:
	// 3 short but only 2 declared: a loss.
	out := "CELL drv=kernel dir=tx size=1514 n=3000 round=1 ticks=10 rc=0 drops=usb2.tx_dropped=3, :: kernel_tx_dropped=3 DONGLEBLAST kernrx frames=2997/3000 intervals=2000 in_ns=1000000000 rate=2000 frames/s guest_ticks=9 | BLAST\n" +
		"CELL drv=dongle dir=tx size=1514 n=3000 round=1 ticks=10 rc=0 :: DONGLEBLAST kernrx frames=3000/3000 intervals=1000 in_ns=1000000000 | DONGLEBLAST tx\n" +
		"CELL drv=kernel dir=tx size=1514 n=3000 round=2 ticks=10 rc=0 drops=usb2.tx_dropped=5, :: kernel_tx_dropped=2 DONGLEBLAST kernrx frames=2997/3000 intervals=2000 in_ns=1000000000 | BLAST\n" +
		"CELL drv=dongle dir=tx size=1514 n=3000 round=2 ticks=10 rc=0 :: DONGLEBLAST kernrx frames=3000/3000 intervals=1000 in_ns=1000000000 | DONGLEBLAST tx\n"
	cells, err := ParseBenchCells(BenchDevices[2], 2, out)
	if err != nil {
		t.Fatal(err)
	}
	c := cells[0]
	if p := c.Problem(); p != "round 2 kernel: lost 3 of 3000 frames (counters: usb2.tx_dropped=5,)" {
		t.Errorf("problem %q: want round 2's undeclared loss only", p)
	}
	if r := c.Ratio(); r != 0.5 {
		t.Errorf("ratio %v, want round 1's 1000/2000", r)
	}
	if l := c.Line(); !strings.Contains(l, " lost_kernel=6 dropped_kernel=5 lost_dongle=0 status=failed") {
		t.Errorf("line %s: want every lost frame counted and the declared ones", l)
	}
	var b strings.Builder
	(&BenchReport{Rounds: 2, Cells: cells[:1]}).WriteTable(&b)
	if !strings.Contains(b.String(), "round 1: the kernel's cdc_ncm dropped 3 (its tx_dropped)") {
		t.Errorf("table does not say the kernel dropped frames:\n%s", b.String())
	}
	cells[0].Kernel = cells[0].Kernel[:1]
	cells[0].Dongle = cells[0].Dongle[:1]
	cells[0].Rounds = 1
	if p := cells[0].Problem(); p != "" || !strings.HasSuffix(cells[0].Line(), "status=short") {
		t.Errorf("declared drops only: problem %q, line %s; want none, short of 1.0", p, cells[0].Line())
	}
}

func TestWriteBenchOutputsAndProfiles(t *testing.T) {
	short := cellOf("tx", []float64{100, 100, 100}, []float64{50, 60, 70}) // ecm tx 1514: 0.6 < 0.9
	fine := cellOf("rx", []float64{100, 100, 100}, []float64{150, 160, 170})
	// Under target in the rounds that ran, and failed in one: profiled too.
	failed := cellOf("tx", []float64{100, 100, 100}, []float64{50, 0, 70})
	failed.Size = 64
	fineFailed := cellOf("rx", []float64{100, 100, 100}, []float64{150, 0, 170})
	fineFailed.Size = 64
	if failed.Problem() == "" || fineFailed.Problem() == "" {
		t.Fatal("cellOf: a run with rate 0 did not fail")
	}
	rep := &BenchReport{Rounds: 3, Cells: []*BenchCell{short, fine, failed, fineFailed}}
	dir := t.TempDir()
	svg, err := WriteBenchOutputs(filepath.Join(dir, "out"), rep)
	if err != nil {
		t.Fatal(err)
	}
	lines, err := os.ReadFile(filepath.Join(dir, "out", "bench.lines"))
	if err != nil || string(lines) != short.Line()+"\n"+fine.Line()+"\n"+failed.Line()+"\n"+fineFailed.Line()+"\n" {
		t.Errorf("bench.lines = %q, %v; want each cell's line", lines, err)
	}
	if b, err := os.ReadFile(svg); err != nil || string(b) != rep.SVG() {
		t.Errorf("%s: %v, or not the report's plot", svg, err)
	}
	// The short cell's profiles, round by round, are copied out; the
	// cell that reached its target gets none.
	run := filepath.Join(dir, "run")
	os.MkdirAll(filepath.Join(run, "share", "prof"), 0o755)
	for _, f := range []string{"tx-1514-r2.prof", "tx-1514-r1.prof", "rx-1514-r1.prof", "tx-64-r1.prof", "rx-64-r1.prof"} {
		os.WriteFile(filepath.Join(run, "share", "prof", f), []byte("not a profile"), 0o644)
	}
	ps := benchProfiles(context.Background(), ecmDev, rep.Cells, run, "/nonexistent/dongleblast", dir)
	if len(ps) != 2 || ps[0].Cell != "ecm tx 1514" || ps[1].Cell != "ecm tx 64" {
		t.Fatalf("profiles %+v: want the short cell's and the failed one's under target", ps)
	}
	if !slices.Equal(ps[1].Files, []string{filepath.Join(dir, "ecm-tx-64-r1.prof")}) {
		t.Errorf("failed cell's files %v", ps[1].Files)
	}
	want := []string{filepath.Join(dir, "ecm-tx-1514-r1.prof"), filepath.Join(dir, "ecm-tx-1514-r2.prof")}
	if !slices.Equal(ps[0].Files, want) {
		t.Errorf("files %v, want %v", ps[0].Files, want)
	}
	if ps[0].Top == "" {
		t.Error("no pprof output or error for the cell")
	}
}

// TestReplayBenchOfARealRun reads the guest output of a whole bench --all
// (testdata/bench-all.log: 6 devices, 3 rounds, 5000/10000 frames; the
// plot and lines beside it were drawn from it) and checks values worked
// out by hand from its lines.
func TestReplayBenchOfARealRun(t *testing.T) {
	text, err := os.ReadFile("testdata/bench-all.log")
	if err != nil {
		t.Fatal(err)
	}
	rep, err := ReplayBench(string(text), 0)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Rounds != 3 {
		t.Errorf("rounds %d, want the 3 the log's CELL lines name", rep.Rounds)
	}
	if len(rep.Cells) != 30 {
		t.Fatalf("%d cells, want 6 devices x 5", len(rep.Cells))
	}
	// usbnet tx 1514, round 1, kernel: PEER first_ns=...338638746915
	// last_ns=...338990679275: 4999 intervals in 351932360 ns; 55 ticks
	// (no guest_ticks in the line) over 5000 frames.
	k := rep.Cells[0].Kernel[0]
	if math.Abs(k.Rate-4999/0.351932360) > 0.01 || math.Abs(k.CPUPerFrame()-55e4/5000) > 1e-9 {
		t.Errorf("usbnet tx 1514 round 1 kernel: %v frames/s, %v µs/frame", k.Rate, k.CPUPerFrame())
	}
	var failed []string
	for _, c := range rep.Cells {
		if c.Problem() != "" {
			failed = append(failed, c.Name()+": "+c.Problem())
		}
	}
	want := []string{
		// f_ncm held the last NTB of a run until the next (its finding).
		"ncm rx 1514: round 2 kernel: 5004 frames counted, 5000 sent; " +
			"round 2 dongle: lost 4 of 5000 frames (counters: gncm0.rx_dropped=39996,)",
		"rtl8153 rx 64: round 3 kernel: lost 472 of 10000 frames (counters: veth0.rx_dropped=90000,eth0.rx_dropped=9528,); " +
			"round 2 dongle: lost 223 of 10000 frames (counters: veth0.rx_dropped=60000,); " +
			"round 3 dongle: lost 25 of 10000 frames (counters: veth0.rx_dropped=90000,)",
	}
	if !slices.Equal(failed, want) {
		t.Errorf("failed cells:\n%s\nwant:\n%s", strings.Join(failed, "\n"), strings.Join(want, "\n"))
	}
	lines, err := os.ReadFile("testdata/bench-all.lines")
	if err != nil {
		t.Fatal(err)
	}
	var got strings.Builder
	for _, c := range rep.Cells {
		got.WriteString(c.Line() + "\n")
	}
	if got.String() != string(lines) {
		t.Errorf("lines differ from testdata/bench-all.lines (regenerate with dongle lab bench --all -replay testdata/bench-all.log -out DIR):\n%s", got.String())
	}
}

// preludeHarness runs a function of the bench prelude's SYSNET..ready
// section (carrier, waitcarrier, kif, settle) in sh, as the guest's
// busybox sh does, against fakes the test's script defines: its
// /tmp/kif.txt is note, and the fakes append what they were asked to log.
type preludeHarness struct {
	t         *testing.T
	sh, dir   string
	fns       string // the section, /tmp/kif.txt replaced by note
	note, log string
}

func newPreludeHarness(t *testing.T, fn string) *preludeHarness {
	t.Helper()
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Fatalf("sh not in PATH: cannot run the bench prelude's %s (the guest runs it under busybox sh): %v", fn, err)
	}
	start := strings.Index(benchPrelude, "SYSNET=")
	end := strings.Index(benchPrelude, "# ready waits")
	if start < 0 || end < start || !strings.Contains(benchPrelude[start:end], fn+"()") {
		t.Fatalf("the prelude has no SYSNET..ready section with %s", fn)
	}
	dir := t.TempDir()
	h := &preludeHarness{t: t, sh: sh, dir: dir, note: filepath.Join(dir, "kif.txt"), log: filepath.Join(dir, "ip.log")}
	h.fns = strings.ReplaceAll(benchPrelude[start:end], "/tmp/kif.txt", h.note)
	return h
}

// sysnet makes a fake /sys/class/net with eth7 down and without carrier.
func (h *preludeHarness) sysnet() string {
	sys := filepath.Join(h.dir, "net")
	os.MkdirAll(filepath.Join(sys, "eth7"), 0o755)
	os.WriteFile(filepath.Join(sys, "eth7", "carrier"), []byte("0\n"), 0o644)
	os.WriteFile(filepath.Join(sys, "eth7", "operstate"), []byte("down\n"), 0o644)
	return sys
}

// run runs script and returns its exit status, its output, the note and
// the log.
func (h *preludeHarness) run(script string) (rc int, out, note, log string) {
	h.t.Helper()
	b, err := exec.Command(h.sh, "-c", script).Output()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		rc = ee.ExitCode()
	case err != nil:
		h.t.Fatal(err)
	}
	n, _ := os.ReadFile(h.note)
	l, _ := os.ReadFile(h.log)
	return rc, strings.TrimSpace(string(b)), strings.TrimSpace(string(n)), string(l)
}

// kifHarness runs the bench prelude's kif (with carrier and waitcarrier)
// in sh against a fake sysfs and fake ip, labguest, qd and sleep:
// carrierAt says after which `ip link set IF up` (1: the first open, 2:
// the second; 0: never) the netdev has carrier. It returns kif's exit
// status, its output, /tmp/kif.txt's stand-in and the ip commands run.
func kifHarness(t *testing.T, carrierAt int) (rc int, out, note, ipLog string) {
	t.Helper()
	h := newPreludeHarness(t, "kif")
	sys := h.sysnet()
	script := `ID=0b95:1790
SYSNET=` + sys + `
ups=0
sleep() { :; }
qd() { :; }
labguest() { [ "$1 $2" = "netif $ID" ] && echo eth7; }
ip() {
	echo "ip $*" >>` + h.log + `
	case "$*" in
	"link set eth7 up")
		ups=$((ups + 1))
		if [ ` + strconv.Itoa(carrierAt) + ` -ne 0 ] && [ $ups -ge ` + strconv.Itoa(carrierAt) + ` ]; then
			echo 1 >$SYSNET/eth7/carrier
			echo up >$SYSNET/eth7/operstate
		fi ;;
	"link set eth7 down")
		echo 0 >$SYSNET/eth7/carrier
		echo down >$SYSNET/eth7/operstate ;;
	esac
}
` + h.fns + `
kif
`
	return h.run(script)
}

// TestBenchKifNeedsCarrier: a kernel netdev that never gets carrier is a
// failed run saying so (usbnet reads nothing without carrier: measuring
// it would report every frame lost), and one whose carrier comes only
// after a second open (ax88179_178a's link_reset gave up) is reopened
// once and the run says it was.
func TestBenchKifNeedsCarrier(t *testing.T) {
	rc, out, note, ips := kifHarness(t, 1)
	if rc != 0 || out != "eth7" || note != "" || strings.Count(ips, "\n") != 1 {
		t.Errorf("carrier at the first open: rc %d, out %q, note %q, ip:\n%s", rc, out, note, ips)
	}
	rc, out, note, ips = kifHarness(t, 2)
	if rc != 0 || out != "eth7" || note != "kernel_reopened=1" ||
		ips != "ip link set eth7 up\nip link set eth7 down\nip link set eth7 up\n" {
		t.Errorf("carrier at the second open: rc %d, out %q, note %q, ip:\n%s", rc, out, note, ips)
	}
	rc, out, note, ips = kifHarness(t, 0)
	if rc == 0 || out != "" || !strings.HasPrefix(note, "FAIL eth7 (0b95:1790) has no carrier") || strings.Count(ips, "link set eth7 up") != 2 {
		t.Errorf("no carrier ever: rc %d, out %q, note %q, ip:\n%s", rc, out, note, ips)
	}
}

// settleHarness runs the prelude's settle against a fake sysfs, a sleep
// that only logs, and a fake ip that plays the kernel's usbnet on a gadget
// whose far side is gecm9: the host's netdev eth7 gets carrier when gecm9
// comes up while eth7 is open, unless eth7 opened with gecm9 up (it then
// read a 0 and a 1 back to back and lost the 1) or carrier never comes
// (never). The log has the ip and sleep commands in order.
func settleHarness(t *testing.T, never bool) (rc int, note, ipLog string) {
	t.Helper()
	h := newPreludeHarness(t, "settle")
	sys := h.sysnet()
	never01 := "0"
	if never {
		never01 = "1"
	}
	// The fake ip keeps its state in files: settle runs ip in command
	// substitutions, subshells whose variables die with them.
	st := filepath.Join(h.dir, "st")
	os.WriteFile(st+".far", []byte("1"), 0o644)
	os.WriteFile(st+".host", []byte("0"), 0o644)
	os.WriteFile(st+".lost", []byte(never01), 0o644)
	script := `ID=1209:0001
FAR=gecm9
SYSNET=` + sys + `
ST=` + st + `
sleep() { echo "sleep $*" >>` + h.log + `; }
labguest() { [ "$1 $2" = "netif $ID" ] && echo eth7; }
ip() {
	echo "ip $*" >>` + h.log + `
	case "$*" in
	"link set gecm9 down") echo 0 >$ST.far ;;
	"link set eth7 up")
		echo 1 >$ST.host
		[ "$(cat $ST.far)" = 1 ] && echo 1 >$ST.lost ;;
	"link set gecm9 up")
		echo 1 >$ST.far
		if [ "$(cat $ST.host)" = 1 ] && [ "$(cat $ST.lost)" = 0 ]; then
			echo 1 >$SYSNET/eth7/carrier
			echo up >$SYSNET/eth7/operstate
		fi ;;
	"link set eth7 down") echo 0 >$ST.host ;;
	esac
	return 0
}
` + h.fns + `
settle
`
	rc, _, note, ipLog = h.run(script)
	return rc, note, ipLog
}

// TestBenchSettleOpensHostBeforeFar: settle opens the kernel's netdev with
// the far side down and brings the far side up after it, so that the host
// reads a lone NETWORK_CONNECTION 1; a carrier that never comes fails the
// setup saying so.
func TestBenchSettleOpensHostBeforeFar(t *testing.T) {
	rc, note, ips := settleHarness(t, false)
	if want := "ip link set gecm9 down\nip link set eth7 up\nsleep 1\nip link set gecm9 up\nip link set eth7 down\n"; rc != 0 || note != "" || ips != want {
		t.Errorf("rc %d, note %q, ip:\n%s\nwant:\n%s", rc, note, ips, want)
	}
	rc, note, ips = settleHarness(t, true)
	if rc == 0 || note != "FAIL eth7 (1209:0001) has no carrier 10 s after gecm9 came up" || strings.Contains(ips, "eth7 down") || strings.Count(ips, "sleep 0.1") != 100 {
		t.Errorf("no carrier ever: rc %d, note %q, ip:\n%s", rc, note, ips)
	}
}

// TestBenchKernelReopenedIsReported: a kernel run whose netdev needed a
// second open keeps its count and the table says it happened.
func TestBenchKernelReopenedIsReported(t *testing.T) {
	d, _ := SelectBenchDevices("ax88179")
	out := "CELL drv=kernel dir=rx size=1514 n=500 round=1 ticks=50 rc=0 drops=none :: kernel_reopened=1 DONGLEBLAST kernrx frames=500/500 intervals=499 in_ns=1000000000 rate=499 frames/s host_sent=500 host_ns=1 guest_ticks=11 if=eth0\n" +
		"CELL drv=dongle dir=rx size=1514 n=500 round=1 ticks=50 rc=0 drops=none :: DONGLEBLAST rx frames=500/500 intervals=499 in_ns=1000000000 rate=499 frames/s host_sent=500 host_ns=1 guest_ticks=11 rx_errors=0 rx_dropped=0\n"
	cells, err := ParseBenchCells(d[0], 1, out)
	if err != nil {
		t.Fatal(err)
	}
	var rx *BenchCell
	for _, c := range cells {
		if c.Dir == "rx" && c.Size == 1514 {
			rx = c
		}
	}
	if len(rx.Kernel) != 1 || !rx.Kernel[0].KernelReopened || rx.Kernel[0].Frames != 500 || rx.Kernel[0].Err != "" ||
		len(rx.Dongle) != 1 || rx.Dongle[0].KernelReopened {
		t.Fatalf("runs: kernel %+v dongle %+v", rx.Kernel, rx.Dongle)
	}
	var b strings.Builder
	(&BenchReport{Rounds: 1, Cells: []*BenchCell{rx}}).WriteTable(&b)
	if !strings.Contains(b.String(), "round 1: the kernel's netdev got carrier only after a second open") {
		t.Errorf("table:\n%s", b.String())
	}
}
