package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"dongle/cmd/dongle/internal/progress"
	"dongle/cmd/dongle/internal/target"
	"dongle/hw/replay"
	"dongle/usbnet"
)

func init() {
	register("replay", "bind the driver to a trace, report where they diverge", runReplay)
}

func runReplay(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("replay", stderr)
	settle := fs.Duration("for", 500*time.Millisecond, "how long to let the driver run after bringing the interface up")
	pos, err := parse(fs, args)
	if err != nil {
		return 2
	}
	if len(pos) != 1 {
		fmt.Fprintln(stderr, "dongle replay: usage: dongle replay TRACE")
		return 2
	}
	t, err := openTarget(pos[0])
	if err != nil {
		return fail(stderr, "replay", err)
	}
	defer t.Close()
	line := progress.New(stdout)
	start := time.Now()
	stop := line.Ticker(func() string { return replayProgress(t, pos[0], time.Since(start), *settle) })
	d, err := usbnet.Probe(t.HW, t.Drivers...)
	if err == nil {
		if err = d.Net.Open(); err == nil {
			ctx, cancel := context.WithTimeout(context.Background(), *settle)
			<-ctx.Done()
			cancel()
			err = d.Net.Close()
		}
		if derr := d.Disconnect(); err == nil {
			err = derr
		}
	}
	stop()
	line.Clear()
	var div *replay.DivergenceError
	if t.Strict != nil && t.Strict.Err() != nil {
		errors.As(t.Strict.Err(), &div)
	}
	if div != nil || errors.As(err, &div) {
		fmt.Fprintf(stdout, "%s: driver and trace diverge at record %d (tshark frame %d)\n", pos[0], div.Index, div.Index+1)
		fmt.Fprintf(stdout, "  expected: %s\n  got:      %s\n", div.Expected, div.Got)
		if div.Diff != "" {
			fmt.Fprintf(stdout, "  diff:     %s\n", div.Diff)
		}
		return 1
	}
	if err != nil {
		return fail(stderr, "replay", err)
	}
	switch {
	case t.Strict != nil:
		if n := t.Strict.Remaining(); n > 0 {
			fmt.Fprintf(stdout, "%s: strict replay (recorded by dongle): no divergence, but the driver stopped %d submissions short of the trace\n", pos[0], n)
			return 1
		}
		fmt.Fprintf(stdout, "%s: strict replay: replayed every URB, no divergence\n", pos[0])
	case t.Replay != nil:
		s := t.Replay.Stats()
		n := s.ControlExact + s.ControlLength + s.ControlStalled + s.InCompleted + s.OutMatched + s.OutMismatched + s.OutExtra
		fmt.Fprintf(stdout, "%s: model replay (foreign trace): replayed %d URBs, no divergence\n", pos[0], n)
		fmt.Fprintf(stdout, "  control: %d exact, %d by length, %d unmatched (stalled), %d OUT data differing\n", s.ControlExact, s.ControlLength, s.ControlStalled, s.ControlOutDiff)
		fmt.Fprintf(stdout, "  bulk IN: %d transfers in the trace, %d delivered, %d skipped as truncated; bulk OUT: %d matched, %d differ, %d beyond the trace\n",
			s.InTransfers, s.InCompleted, s.InSkippedTruncated, s.OutMatched, s.OutMismatched, s.OutExtra)
		for _, l := range t.Log {
			fmt.Fprintf(stdout, "  log: %s\n", l)
		}
	}
	return 0
}

// replayProgress is replay's progress line: how far through the trace the
// driver is, and the time left of --for.
func replayProgress(t *target.Target, name string, el, settle time.Duration) string {
	switch {
	case t.Strict != nil:
		return fmt.Sprintf("replay %s: strict, %d submissions of the trace left, %v of %v", name, t.Strict.Remaining(), el.Round(time.Second), settle)
	case t.Replay != nil:
		s := t.Replay.Stats()
		n := s.ControlExact + s.ControlLength + s.ControlStalled + s.InCompleted + s.OutMatched + s.OutMismatched + s.OutExtra
		return fmt.Sprintf("replay %s: %d URBs replayed, %d of %d bulk IN delivered, %v of %v", name, n, s.InCompleted, s.InTransfers, el.Round(time.Second), settle)
	}
	return fmt.Sprintf("replay %s: %v of %v", name, el.Round(time.Second), settle)
}
