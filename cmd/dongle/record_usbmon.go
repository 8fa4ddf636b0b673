package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"dongle/cmd/dongle/internal/progress"
	"dongle/hw/usbmon"
)

// openUsbmon opens the kernel's usbmon node for a bus; tests replace it
// with a usbmontest.Source.
var openUsbmon = func(bus int) (usbmon.Source, error) {
	l, err := usbmon.OpenLive(bus, usbmon.LiveOptions{})
	if err != nil {
		return nil, err
	}
	return l, nil
}

// usbmonArgs are the parsed flags of `dongle record --usbmon`.
type usbmonArgs struct {
	out      string
	bus, dev int
	duration time.Duration // used if set["duration"]; otherwise until Ctrl-C (SIGINT/SIGTERM)
	pos      []string
	set      map[string]bool // the flags given on the command line
}

// runRecordUsbmon records what the Linux kernel's own drivers do on a bus
// (dongle record --usbmon BUS): every event of /dev/usbmonBUS, optionally
// one device's, written as a link type 220 pcap that Wireshark, tshark and
// dongle (replay, decode, test --backend=trace:FILE) read. It stops after
// --duration or on Ctrl-C and prints how many events it wrote and how many
// the kernel dropped (its ring was full: the capture has holes).
func runRecordUsbmon(a usbmonArgs, stdout, stderr io.Writer) int {
	const usage = "dongle record: usage: dongle record --usbmon BUS [--dev ADDR] [--duration D] -o FILE"
	switch {
	case a.out == "" || len(a.pos) != 0:
		fmt.Fprintln(stderr, usage)
		return 2
	case !a.set["usbmon"]:
		fmt.Fprintln(stderr, "dongle record: --dev needs --usbmon BUS")
		return 2
	case a.set["scenario"] || a.set["frames"]:
		fmt.Fprintln(stderr, "dongle record: --usbmon records the kernel's drivers: --scenario and --frames do not apply")
		return 2
	case a.bus < 0 || a.bus > 127:
		fmt.Fprintf(stderr, "dongle record: --usbmon %d: want a bus number 1..127, or 0 for every bus\n", a.bus)
		return 2
	case a.dev < 0 || a.dev > 127:
		fmt.Fprintf(stderr, "dongle record: --dev %d: want a device address 1..127 (0: every device)\n", a.dev)
		return 2
	case a.set["duration"] && a.duration <= 0:
		fmt.Fprintf(stderr, "dongle record: --duration %v: want a positive duration\n", a.duration)
		return 2
	}
	src, err := openUsbmon(a.bus)
	if err != nil {
		return fail(stderr, "record", err)
	}
	defer src.Close()
	f, err := os.Create(a.out)
	if err != nil {
		return fail(stderr, "record", err)
	}
	bw := bufio.NewWriterSize(f, 256<<10)
	w, err := usbmon.NewWriter(bw)
	if err != nil {
		f.Close()
		return fail(stderr, "record", fmt.Errorf("%s: %w", a.out, err))
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	until := "Ctrl-C"
	if a.set["duration"] {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, a.duration)
		defer cancel()
		until = a.duration.String() + " or Ctrl-C"
	}
	what := fmt.Sprintf("bus %d", a.bus)
	if a.bus == 0 {
		what = "every bus"
	}
	if a.dev != 0 {
		what += fmt.Sprintf(", device %d", a.dev)
	}
	fmt.Fprintf(stdout, "capturing usbmon (%s) to %s until %s\n", what, a.out, until)
	t0 := time.Now()
	line := progress.New(stdout)
	stopLine := line.Ticker(func() string {
		size := int64(0)
		if fi, err := f.Stat(); err == nil {
			size = fi.Size()
		}
		return fmt.Sprintf("record --usbmon: %v, %.1f MB written to %s", time.Since(t0).Round(time.Second), float64(size)/1e6, a.out)
	})
	st, err := usbmon.Capture(ctx, src, w, usbmon.CaptureOptions{Device: uint8(a.dev)})
	stopLine()
	line.Clear()
	if ferr := bw.Flush(); err == nil && ferr != nil {
		err = fmt.Errorf("writing %s: %w", a.out, ferr)
	}
	if cerr := f.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("closing %s: %w", a.out, cerr)
	}
	if err != nil {
		fmt.Fprintf(stdout, "partial capture in %s: %s\n", a.out, st)
		return fail(stderr, "record", err)
	}
	fmt.Fprintf(stdout, "recorded usbmon (%s) to %s in %.1f s: %s\n", what, a.out, time.Since(t0).Seconds(), st)
	if st.Dropped > 0 {
		fmt.Fprintf(stdout, "warning: the kernel dropped %d events (its usbmon ring was full): the trace has holes\n", st.Dropped)
	}
	return 0
}

// setFlags returns the names of the flags given on the command line.
func setFlags(fs *flag.FlagSet) map[string]bool {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	return set
}
