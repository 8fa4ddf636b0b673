package vmlab

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"dongle/hw/vmlab/guest"
)

// Main is the `lab` command line (go run ./hw/vmlab/cmd/lab, later
// `dongle lab`). It returns the process exit status.
//
//	lab setup                       check packages, fetch kernel, build tools + initramfs (idempotent)
//	lab status                      what is set up
//	lab run [flags] -- SCRIPT...    boot, run sh code in the guest, print the run summary
//	lab exec BIN [ARGS...]          run a binary in the guest (what labexec does for go test)
//	lab bench [-n N] [-size S]      kernel cdc_ether vs dongle's driver → usb-net → host peer throughput
//	lab smoke                       boot, check enumeration, echo frames through the host peer
//	lab suite [-- GINKGO-ARGS]      the conformance suite in the guest against both lab devices
func Main(args []string) int { return MainIO(args, os.Stdout, os.Stderr) }

// MainIO is Main with explicit output streams (for `dongle lab` and tests).
func MainIO(args []string, stdout, stderr io.Writer) int { return MainSteps(args, stdout, stderr, nil) }

// MainSteps is MainIO with a Lab.Step hook (dongle lab's progress line).
func MainSteps(args []string, stdout, stderr io.Writer, step func(string)) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	l := Default()
	l.Log = stderr
	l.Step = step
	c := &cli{l: l, out: stdout, err: stderr}
	if len(args) == 0 {
		fmt.Fprint(c.err, cliUsage)
		return 2
	}
	var err error
	switch args[0] {
	case "setup":
		err = c.setup(ctx, args[1:])
	case "status":
		err = c.status()
	case "run":
		return c.run(ctx, args[1:])
	case "exec":
		if len(args) < 2 {
			fmt.Fprint(c.err, cliUsage)
			return 2
		}
		return c.exec(ctx, args[1], args[2:])
	case "bench":
		err = c.bench(ctx, args[1:])
	case "smoke":
		err = c.smoke(ctx)
	case "suite":
		err = c.suite(ctx, args[1:])
	case "help", "-h", "-help", "--help":
		fmt.Fprint(c.out, cliUsage)
		return 0
	default:
		fmt.Fprintf(c.err, "lab: unknown command %q\n%s", args[0], cliUsage)
		return 2
	}
	if err != nil {
		fmt.Fprintf(c.err, "lab %s: %v\n", args[0], err)
		return 1
	}
	return 0
}

// cli carries the streams and lab of one Main call.
type cli struct {
	l        *Lab
	out, err io.Writer
}

const cliUsage = `usage: lab <command>
  setup                     check host packages, fetch+unpack the kernel, build tools and initramfs (cached)
  status                    show what is set up
  run [flags] -- SCRIPT     boot the lab and run sh code in the guest (output streams here)
        -peer echo|count    host peer mode (default echo)   -fixture all|ecm|none   -no-usbnet
        -file NAME=PATH     copy a host file to /mnt/lab/NAME (repeatable)
  exec BIN [ARGS...]        run a binary in the guest with the module root mounted (go test -exec style)
  bench [-n N] [-size S] [-dir tx|rx|both] [-rate R] [-kernel-only] [-- DONGLEBLAST-FLAGS]
                            the kernel's cdc_ether, then dongle's driver, move N frames through usb-net in
                            one boot (tx: guest sends, host peer counts; rx: host peer sends at R frames/s or
                            as fast as usb-net takes them, guest counts); frames/s and the ratio
                            (flags: -workers, -txurbs, -rxurbs, -procs, -cpuprofile; variants split by ::)
  bench --all [-devices a,b] [-n N] [-n64 N] [-rtt N] [-rounds R] [-out DIR] [-profile] [-floor] [-lock FILE] [-- DONGLEBLAST-FLAGS]
                            every lab device (usbnet, ecm, ncm, ax88772b, ax88179, rtl8153), one boot each:
                            the kernel's driver and dongle's, interleaved R rounds, TX and RX of 1514- and
                            64-byte frames, round trips of 64 bytes through an echo; a table, BENCH lines
                            and bench.svg in DIR (default a new temporary directory); -profile: pprof of
                            dongle's runs, top functions for the cells short of target; -lock: flock FILE
                            around each boot; -floor: dongle's RX runs are the libusb floor (a C loop on
                            libusb alone; ncm only); flags after -- go to dongle's runs (-rxurbs, -procs, ...).
                            Fails if any cell failed or lost a frame.
  smoke                     boot, check usb-net + gadgets enumerate, echo frames through the host peer
  suite [-- GINKGO-ARGS]    go test -c ./specs, then run it in one boot against usb:0525:a4a2 (usb-net,
                            host peer echoing) and usb:1209:0001 (ECM gadget, peer + link control on gecm0)
The lab directory is $DONGLE_LAB_DIR, else <module root>/.lab.
`

func (c *cli) setup(ctx context.Context, args []string) error {
	l := c.l
	fs := flag.NewFlagSet("setup", flag.ContinueOnError)
	fs.SetOutput(c.err)
	smoke := fs.Bool("smoke", false, "run the smoke scenario afterwards")
	if err := fs.Parse(args); err != nil {
		return err
	}
	wd, _ := os.Getwd()
	root, ok := ModuleRoot(wd)
	if !ok {
		return errors.New("run setup inside the dongle module (it builds hw/vmlab/cmd/...)")
	}
	st, err := l.Setup(ctx, root)
	if err != nil {
		return err
	}
	fmt.Fprintf(c.out, "lab setup: kernel %s in %.1fs, tools %.1fs, initramfs %.1fs, total %.1fs\n",
		st.KernelPackage, st.Kernel.Seconds(), st.Tools.Seconds(), st.Initramfs.Seconds(), st.Total.Seconds())
	fmt.Fprintf(c.out, "lab setup: go test -exec %s ./specs/...\n", l.LabexecPath())
	if *smoke {
		return c.smoke(ctx)
	}
	return nil
}

func (c *cli) status() error {
	l := c.l
	fmt.Fprintf(c.out, "lab dir:   %s\naccel:     %s\n", l.Dir, Accel())
	if err := CheckHost(); err != nil {
		fmt.Fprintln(c.out, err)
	} else {
		fmt.Fprintln(c.out, "host:      packages present")
	}
	if pkg, err := os.ReadFile(l.path("kernel.stamp")); err == nil {
		fmt.Fprintf(c.out, "kernel:    %s", pkg)
	}
	if err := l.Ready(); err != nil {
		fmt.Fprintf(c.out, "ready:     no: %v\n", err)
		return nil
	}
	fmt.Fprintf(c.out, "ready:     yes (initramfs %s)\nexec:      go test -exec %s ./...\n", l.InitramfsPath(), l.LabexecPath())
	return nil
}

type fileFlags map[string]string

func (f fileFlags) String() string { return fmt.Sprint(map[string]string(f)) }
func (f fileFlags) Set(v string) error {
	name, p, ok := strings.Cut(v, "=")
	if !ok || name == "" || p == "" {
		return fmt.Errorf("-file %q: want NAME=PATH", v)
	}
	f[name] = p
	return nil
}

func (c *cli) run(ctx context.Context, args []string) int {
	l := c.l
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(c.err)
	peer := fs.String("peer", "echo", "host peer mode: echo or count")
	fixture := fs.String("fixture", "all", "gadgets: all, ecm, none")
	noNet := fs.Bool("no-usbnet", false, "no QEMU usb-net")
	files := fileFlags{}
	fs.Var(files, "file", "NAME=PATH: copy PATH to /mnt/lab/NAME in the guest (repeatable)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	res, err := l.Run(ctx, RunConfig{
		Script: strings.Join(fs.Args(), " "), Files: files, Stdout: c.out,
		Peer: guest.PeerMode(*peer), Fixture: *fixture, NoUSBNet: *noNet,
	})
	return c.report(res, err)
}

func (c *cli) exec(ctx context.Context, bin string, args []string) int {
	l := c.l
	res, err := l.Exec(ctx, ExecConfig{Bin: bin, Args: args, Stdout: c.out})
	return c.report(res, err)
}

// report prints the run summary and the reattach check on stderr and
// returns the exit status to use.
func (c *cli) report(res *Result, err error) int {
	if res != nil {
		fmt.Fprintf(c.err, "lab: %s\n", res.Summary())
		if ch := res.DriverChanges(); len(ch) > 0 {
			fmt.Fprintf(c.err, "lab: kernel drivers NOT reattached after the program: %s\n", strings.Join(ch, "; "))
		} else if res.USBAfter != "" {
			fmt.Fprintf(c.err, "lab: kernel drivers after the program (all as before):\n  %s\n", strings.ReplaceAll(res.USBAfter, "\n", "\n  "))
		}
	}
	if err != nil {
		fmt.Fprintf(c.err, "lab: %v\n", err)
		if res != nil && res.ExitCode >= 0 {
			return res.ExitCode
		}
		return 1
	}
	return res.ExitCode
}

func (c *cli) bench(ctx context.Context, args []string) error {
	l := c.l
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(c.err)
	n := fs.Int("n", 20000, "frames")
	size := fs.Int("size", 1514, "frame size")
	kernelOnly := fs.Bool("kernel-only", false, "only the kernel's cdc_ether (TX)")
	dir := fs.String("dir", "tx", "tx (guest sends), rx (host peer sends) or both")
	rate := fs.Int("rate", 0, "rx: host peer frames/s (0: as fast as usb-net takes them)")
	all := fs.Bool("all", false, "every lab device, both drivers, both ways, 1514 and 64 bytes, round trips")
	devices := fs.String("devices", "", "--all: only these devices (comma-separated names or VID:PIDs)")
	n64 := fs.Int("n64", 0, "--all: frames of 64 bytes per run (0: 2x -n)")
	nrtt := fs.Int("rtt", 300, "--all: round trips per rtt run")
	rounds := fs.Int("rounds", 3, "--all: kernel/dongle pairs per cell, interleaved in one boot")
	outDir := fs.String("out", "", "--all: directory for bench.txt, bench.lines, bench.svg, profiles (default: a new temporary one)")
	profile := fs.Bool("profile", false, "--all: dongle's runs write CPU profiles; print the top functions of the cells short of target")
	floor := fs.Bool("floor", false, "--all: dongle's RX runs count with the libusb floor (dongleblast rx -floor) instead of dongle's driver; NCM devices only")
	lock := fs.String("lock", "", "--all: flock this file around each boot (one VM at a time)")
	replay := fs.String("replay", "", "--all: no boot: redraw the table, lines and plot from guest output BenchAll saved (DIR/*.log, concatenated)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *all {
		nFlag := false
		fs.Visit(func(f *flag.Flag) { nFlag = nFlag || f.Name == "n" })
		if !nFlag {
			*n = 5000
		}
		if *n64 == 0 {
			*n64 = 2 * *n
		}
		if *replay != "" {
			rFlag := false
			fs.Visit(func(f *flag.Flag) { rFlag = rFlag || f.Name == "rounds" })
			if !rFlag {
				*rounds = 0 // as many as the log shows
			}
			return c.benchReplay(*replay, *rounds, *outDir)
		}
		return c.benchAll(ctx, *devices, BenchAllConfig{N: *n, N64: *n64, NRTT: *nrtt, Rounds: *rounds, Profile: *profile, Floor: *floor, Out: *outDir, Args: fs.Args()}, *lock)
	}
	if !*kernelOnly {
		wd, _ := os.Getwd()
		root, ok := ModuleRoot(wd)
		if !ok {
			return errors.New("run bench inside the dongle module (it builds dongleblast)")
		}
		// Flags after -- go to dongleblast tx: -workers, -txurbs, -cpuprofile /mnt/lab/tx.prof.
		cmp, err := l.BenchCompare(ctx, root, BenchConfig{N: *n, Size: *size, Dir: *dir, Rate: *rate, Args: fs.Args()}, c.out)
		if cmp != nil {
			fmt.Fprintln(c.out, cmp)
		}
		return err
	}
	b, err := l.BenchKernelCDCEther(ctx, *n, *size, c.out)
	if err != nil {
		return err
	}
	fmt.Fprintln(c.out, b)
	return nil
}

func (c *cli) smoke(ctx context.Context) error {
	l := c.l
	res, err := l.Smoke(ctx, c.out)
	if res != nil {
		fmt.Fprintf(c.out, "lab smoke: %s\n", res.Summary())
	}
	return err
}

func (c *cli) suite(ctx context.Context, args []string) error {
	wd, _ := os.Getwd()
	root, ok := ModuleRoot(wd)
	if !ok {
		return errors.New("run suite inside the dongle module (it builds ./specs)")
	}
	if err := c.l.Ready(); err != nil {
		return err
	}
	if len(args) > 0 && args[0] == "--" {
		args = args[1:]
	}
	s, err := c.l.Suite(ctx, root, "./specs", SuiteTargets, args, c.out)
	if s != nil {
		writeSuiteSummary(c.out, s)
	}
	if err != nil {
		return err
	}
	if !s.OK() {
		return errors.New("the conformance suite failed in the lab (see above)")
	}
	return nil
}

func (c *cli) benchAll(ctx context.Context, devices string, cfg BenchAllConfig, lock string) error {
	wd, _ := os.Getwd()
	root, ok := ModuleRoot(wd)
	if !ok {
		return errors.New("run bench inside the dongle module (it builds dongleblast)")
	}
	var err error
	if cfg.Devices, err = SelectBenchDevices(devices); err != nil {
		return err
	}
	if cfg.Out == "" {
		if cfg.Out, err = os.MkdirTemp("", "dongle-bench-"); err != nil {
			return err
		}
	} else if err := os.MkdirAll(cfg.Out, 0o755); err != nil {
		return err
	}
	if lock != "" {
		cfg.Lock = func() (func(), error) { return flockFile(ctx, lock) }
	}
	// The runs' result lines come from labguest in the initramfs: one
	// built from older sources prints older lines (a pulled tree without
	// a lab setup), so bring both up to date (go build's cache and the
	// initramfs's own input check make this quick when they are).
	if err := c.l.BuildTools(ctx, root); err != nil {
		return err
	}
	if err := c.l.Initramfs(ctx); err != nil {
		return err
	}
	rep, err := c.l.BenchAll(ctx, root, cfg, c.err)
	if rep == nil {
		return err
	}
	return c.writeBench(rep, cfg.Out, err)
}

// writeBench prints the report and writes its files into dir; err is the
// bench's own error, returned after the output.
func (c *cli) writeBench(rep *BenchReport, dir string, err error) error {
	rep.WriteTable(c.out)
	for _, cell := range rep.Cells {
		fmt.Fprintln(c.out, cell.Line())
	}
	for _, p := range rep.Profiles {
		fmt.Fprintf(c.out, "\nwhere dongle's time goes in %s (short of %.1f; %s):\n%s\n", p.Cell, targetOf(rep, p.Cell), strings.Join(p.Files, " "), p.Top)
	}
	svg, werr := WriteBenchOutputs(dir, rep)
	if werr != nil {
		return werr
	}
	fmt.Fprintf(c.out, "bench: table, BENCH lines and plot in %s (plot %s)\n", dir, svg)
	if err != nil {
		return err
	}
	if !rep.OK() {
		return errors.New("bench: cells failed or lost frames (see the status column)")
	}
	return nil
}

func (c *cli) benchReplay(path string, rounds int, outDir string) error {
	text, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	rep, err := ReplayBench(string(text), rounds)
	if err != nil {
		return err
	}
	if outDir == "" {
		if outDir, err = os.MkdirTemp("", "dongle-bench-"); err != nil {
			return err
		}
	}
	return c.writeBench(rep, outDir, nil)
}

func targetOf(r *BenchReport, name string) float64 {
	for _, c := range r.Cells {
		if c.Name() == name {
			return c.Target()
		}
	}
	return 0
}

// flockFile takes an exclusive flock on path (created if missing),
// waiting for it until ctx ends; the returned func releases it.
func flockFile(ctx context.Context, path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() { syscall.Flock(int(f.Fd()), syscall.LOCK_UN); f.Close() }, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("flock %s: %w", path, err)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}
