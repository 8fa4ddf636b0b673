package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strconv"
	"strings"
	"time"

	"dongle/cmd/dongle/internal/progress"
	"dongle/cmd/dongle/internal/soak"
	"dongle/usbnet/catalog"
)

func init() {
	register("soak", "traffic both ways for a duration or a frame count, under USB faults, every frame accounted for (--backend=sim:MODEL)", runSoak)
}

// soakOpener is a seam: tests give soak a device that loses a frame.
var soakOpener = soak.SimOpener

func runSoak(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("soak", stderr)
	backend := fs.String("backend", "", "the device: one of "+strings.Join(catalog.Selectors(), ", ")+" (a model: its wire is the far side, its engine the faults)")
	duration := fs.Duration("duration", 0, "how long to run (with --frames: whichever ends first)")
	frames := fs.Uint64("frames", 0, "frames to offer, both directions together (half each way)")
	faults := fs.String("faults", "all", "fault kinds to inject in turn: stall, timeout, unplug, short (comma-separated), all or none")
	rate := fs.Float64("rate", 10, "faults injected per second")
	every := fs.Uint64("fault-every", 0, "inject a fault every N frames offered instead of --rate (a schedule independent of the machine's speed)")
	sizes := fs.String("sizes", "60-1514", "frame lengths MIN-MAX (link header included, no FCS); lengths cycle through the range")
	window := fs.Int("window", 32, "most frames in flight each way (1..64)")
	recoverWithin := fs.Duration("recover-within", 5*time.Second, "how long the driver has to recover from each fault")
	settle := fs.Duration("settle", 200*time.Millisecond, "how long a quiesce waits with nothing moving before it counts what is missing")
	traceMB := fs.Int("trace-mb", 16, "MiB of USB trace kept in memory (the newest), written out only on failure")
	traceOut := fs.String("trace-on-failure", "", "write the kept USB trace (usbmon pcap) here when the run fails")
	jsonOut := fs.String("json", "", "write the JSON summary to FILE (- for stdout, which then holds only the JSON)")
	list := fs.Bool("list-backends", false, "print the backends soak can drive, one a line, and exit")
	pos, err := parse(fs, args)
	if err != nil {
		return 2
	}
	if *list {
		for _, s := range catalog.Selectors() {
			fmt.Fprintln(stdout, s)
		}
		return 0
	}
	usage := func(msg string, a ...any) int {
		fmt.Fprintf(stderr, "dongle soak: "+msg+" (usage: dongle soak --backend=sim:MODEL --duration D | --frames N [--faults=stall,timeout,unplug,short] [--rate R | --fault-every N] [--json FILE] [--trace-on-failure FILE])\n", a...)
		return 2
	}
	if len(pos) != 0 {
		return usage("unexpected argument %q", pos[0])
	}
	if *backend == "" {
		return usage("no --backend")
	}
	if *duration <= 0 && *frames == 0 {
		return usage("neither --duration nor --frames")
	}
	kinds, err := soak.ParseFaults(*faults)
	if err != nil {
		return usage("--faults: %v", err)
	}
	lo, hi, err := parseSizes(*sizes)
	if err != nil {
		return usage("--sizes %q: %v", *sizes, err)
	}
	open, err := soakOpener(*backend)
	if err != nil {
		return usage("--backend %q: %v", *backend, err)
	}
	line := progress.New(stdout)
	cfg := soak.Config{
		Backend: *backend, Open: open, Duration: *duration, Frames: *frames,
		Faults: kinds, Rate: *rate, FaultEvery: *every, MinSize: lo, MaxSize: hi, Window: *window,
		RecoverWithin: *recoverWithin, Settle: *settle, TraceBytes: *traceMB << 20,
	}
	if line.On() && *jsonOut != "-" {
		cfg.Progress = func(s *soak.Summary) {
			if line.Due() {
				line.Printf("soak %s %.0fs: TX %d RX %d frames, %s, lost %d", s.Backend, s.Seconds, s.TX.Offered, s.RX.Offered, faultLine(s), s.TX.Unaccounted+s.RX.Unaccounted)
			}
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	sum, err := soak.Run(ctx, cfg, *traceOut)
	line.Done("")
	if sum == nil { // the configuration was refused before the run
		return usage("%v", err)
	}
	if *jsonOut != "" {
		if jerr := writeJSON(*jsonOut, stdout, sum); jerr != nil {
			fmt.Fprintf(stderr, "dongle soak: --json %s: %v\n", *jsonOut, jerr)
			return 1
		}
	}
	if *jsonOut != "-" {
		fmt.Fprintln(stdout, soakLine(sum))
		for _, f := range sum.Findings {
			at := ""
			if len(f.Evidence) > 0 {
				at = fmt.Sprintf(" (record %d of %s)", f.Evidence[0].Record, sum.TraceFile)
			}
			fmt.Fprintf(stdout, "FINDING %s [%s]: %s%s\n", f.Rule, f.Severity, f.Summary, at)
		}
		if sum.FindingsNote != "" {
			fmt.Fprintf(stdout, "FINDINGS %s\n", sum.FindingsNote)
		}
	}
	if err != nil {
		return fail(stderr, "soak", err)
	}
	return 0
}

// parseSizes reads MIN-MAX (or one length).
func parseSizes(s string) (lo, hi int, err error) {
	a, b, ok := strings.Cut(s, "-")
	if !ok {
		b = a
	}
	if lo, err = strconv.Atoi(strings.TrimSpace(a)); err == nil {
		hi, err = strconv.Atoi(strings.TrimSpace(b))
	}
	return lo, hi, err
}

// faultLine is the faults so far: "faults stall 3/3 timeout 2/2" (injected/recovered).
func faultLine(s *soak.Summary) string {
	if len(s.Faults) == 0 {
		return "no faults"
	}
	names := make([]string, 0, len(s.Faults))
	for k := range s.Faults {
		names = append(names, k)
	}
	sort.Strings(names)
	var b strings.Builder
	b.WriteString("faults")
	for _, k := range names {
		f := s.Faults[k]
		fmt.Fprintf(&b, " %s %d/%d", k, f.Injected, f.Recovered)
	}
	return b.String()
}

// soakLine is the result in one line, RSS included.
func soakLine(s *soak.Summary) string {
	verdict := "PASS"
	if !s.Pass {
		verdict = "FAIL"
	}
	return fmt.Sprintf("dongle soak: %s %s in %.1fs: %d frames (%.0f/s): TX %d offered, %d on the wire (tx_packets %d tx_dropped %d tx_errors %d); RX %d offered, %d delivered (rx_packets %d rx_dropped %d rx_errors %d); %s; lost to faults %d TX %d RX; unaccounted %d TX %d RX; leaked %d skbs %d goroutines; RSS %d kB at start, %d kB warm, %d kB at end; %.4f allocs/frame",
		verdict, s.Backend, s.Seconds, s.TX.Offered+s.RX.Offered, s.FramesPerSecond,
		s.TX.Offered, s.TX.Arrived, s.Counters.TxPackets, s.Counters.TxDropped, s.Counters.TxErrors,
		s.RX.Offered, s.RX.Arrived, s.Counters.RxPackets, s.Counters.RxDropped, s.Counters.RxErrors,
		faultLine(s), s.TX.LostToFaults, s.RX.LostToFaults, s.TX.Unaccounted, s.RX.Unaccounted,
		s.LeakedSKBs, s.LeakedGoroutines, s.RSSStartKB, s.RSSWarmKB, s.RSSEndKB, s.AllocsPerFrame)
}

// writeJSON writes v indented to path, or to stdout for "-".
func writeJSON(path string, stdout io.Writer, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	b = append(b, '\n')
	if path == "-" {
		_, err = stdout.Write(b)
		return err
	}
	return os.WriteFile(path, b, 0o644)
}
