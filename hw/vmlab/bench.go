package vmlab

import (
	"context"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"dongle/hw/vmlab/guest"
)

// BenchResult is one throughput run, counted at the host peer.
type BenchResult struct {
	Name       string
	Sent, Size int
	Peer       guest.PeerStats
	Run        *Result
}

// FramesPerSecond is the rate at the host peer (first to last frame).
func (b *BenchResult) FramesPerSecond() float64 { return b.Peer.FramesPerSecond() }

func (b *BenchResult) String() string {
	return fmt.Sprintf("BENCH %s: %d/%d frames of %d B at the host peer in %.3fs: %.0f frames/s, %.2f MB/s (run wall %.1fs, %s)",
		b.Name, b.Peer.Frames, b.Sent, b.Size, b.Peer.Elapsed().Seconds(), b.FramesPerSecond(),
		b.FramesPerSecond()*float64(b.Size)/1e6, b.Run.Wall.Seconds(), b.Run.Dir)
}

// BenchCommand runs script in the guest with the host peer counting (not
// echoing) and its counters reset just before, and reports the peer's
// counts. This is the mechanism for any sender: the kernel's cdc_ether
// (BenchKernelCDCEther) or a dongle binary shipped with files
// (name -> host path, /mnt/lab/<name> in the guest).
func (l *Lab) BenchCommand(ctx context.Context, name, script string, files map[string]string, sent, size int, out io.Writer) (*BenchResult, error) {
	l.step("bench %s: booting the VM, %d frames of %d B", name, sent, size)
	res, err := l.Run(ctx, RunConfig{
		Script:  "labguest peer mode count && labguest peer reset || exit 90\n" + script + "\nrc=$?\nsleep 0.5\nlabguest peer stats\nexit $rc",
		Files:   files,
		Stdout:  out,
		Peer:    guest.PeerCount,
		Fixture: "none",
		Timeout: 10 * time.Minute,
	})
	if err != nil {
		return nil, err
	}
	if res.ExitCode != 0 {
		return nil, fmt.Errorf("bench %s: guest command exited %d (console %s/console.log)", name, res.ExitCode, res.Dir)
	}
	return &BenchResult{Name: name, Sent: sent, Size: size, Peer: res.Peer, Run: res}, nil
}

// BenchKernelCDCEther is the reference scenario: the guest kernel's own
// cdc_ether driver sends n frames of size bytes (an AF_PACKET blaster on
// usb-net's netdev), and the host peer counts them. The comparison with
// dongle's driver uses BenchCommand with the dongle binary.
func (l *Lab) BenchKernelCDCEther(ctx context.Context, n, size int, out io.Writer) (*BenchResult, error) {
	script := fmt.Sprintf("IF=$(labguest netif 0525:a4a2) || exit 91\nip link set $IF up\nlabguest blast -if $IF -n %d -size %d", n, size)
	return l.BenchCommand(ctx, "kernel-cdc_ether", script, nil, n, size, out)
}

// Comparison is the kernel's cdc_ether and dongle's driver moving the
// same frames through the same usb-net device in the same VM run. The
// kernel runs first and again last (the spread between its two runs is the
// run's noise); dongle runs once per variant in between. TX is counted at
// the host peer, RX in the guest (the kernel's rx_packets, dongle's netdev
// handler) while the host peer blasts. TX or RX is nil if not run.
type Comparison struct {
	N, Size int
	TX, RX  *DirComparison
	Run     *Result
}

// DirComparison is one direction of a Comparison.
type DirComparison struct {
	Dir                 string // "TX" or "RX"
	Kernel, KernelAfter Count
	Variants            []Variant
}

// Count is frames over a time: Intervals frame-to-frame intervals took
// Elapsed (Frames-1 when every frame is timestamped).
type Count struct {
	Frames, Intervals uint64
	Elapsed           time.Duration
}

// FramesPerSecond is Intervals over Elapsed (0 if either is).
func (c Count) FramesPerSecond() float64 {
	if c.Intervals == 0 || c.Elapsed <= 0 {
		return 0
	}
	return float64(c.Intervals) / c.Elapsed.Seconds()
}

func peerCount(p guest.PeerStats) Count {
	c := Count{Frames: p.Frames, Elapsed: p.Elapsed()}
	if p.Frames > 1 {
		c.Intervals = p.Frames - 1
	}
	return c
}

// Variant is one dongleblast run: its flags and what was counted.
type Variant struct {
	Args  []string
	Count Count
}

// kernelRate is the mean of the kernel's two runs (the first alone if the
// second is missing).
func (c *DirComparison) kernelRate() float64 {
	k := c.Kernel.FramesPerSecond()
	if a := c.KernelAfter.FramesPerSecond(); a > 0 && k > 0 {
		return (k + a) / 2
	}
	return k
}

// Ratio is dongle's rate (the first variant) over the kernel's mean rate
// (1.0: as fast).
func (c *DirComparison) Ratio() float64 { return c.ratio(c.Variants[0].Count) }

func (c *DirComparison) ratio(p Count) float64 {
	if c.kernelRate() == 0 {
		return 0
	}
	return p.FramesPerSecond() / c.kernelRate()
}

func (c *DirComparison) write(b *strings.Builder) {
	fmt.Fprintf(b, "  kernel cdc_ether:       %d frames, %.0f frames/s (again at the end: %d frames, %.0f frames/s)\n",
		c.Kernel.Frames, c.Kernel.FramesPerSecond(), c.KernelAfter.Frames, c.KernelAfter.FramesPerSecond())
	for _, v := range c.Variants {
		args := strings.Join(v.Args, " ")
		if args == "" {
			args = "(defaults)"
		}
		fmt.Fprintf(b, "  dongle %-16s %d frames, %.0f frames/s, ratio dongle/kernel %.2f\n", args+":", v.Count.Frames, v.Count.FramesPerSecond(), c.ratio(v.Count))
	}
}

func (c *Comparison) String() string {
	var b strings.Builder
	if c.TX != nil {
		fmt.Fprintf(&b, "BENCH TX %d frames of %d B through usb-net, at the host peer:\n", c.N, c.Size)
		c.TX.write(&b)
	}
	if c.RX != nil {
		fmt.Fprintf(&b, "BENCH RX %d frames of %d B from the host peer through usb-net, counted in the guest:\n", c.N, c.Size)
		c.RX.write(&b)
	}
	fmt.Fprintf(&b, "  (run %s)", c.Run.Dir)
	return b.String()
}

// VariantSep separates dongleblast variants in BenchCompare's dongleArgs.
const VariantSep = "::"

// BenchConfig says what BenchCompare measures.
type BenchConfig struct {
	N, Size int
	// Dir is "tx" (the guest sends, the host peer counts), "rx" (the host
	// peer sends, the guest counts) or "both" (TX then RX, one boot).
	Dir string
	// Rate paces the host peer's RX blast in frames/s; 0 sends as fast as
	// usb-net takes frames (lossless: see Peer.Blast).
	Rate int
	// Args are dongleblast flags, variants separated by VariantSep; in RX
	// a -cpuprofile path gets an "rx-" prefix on its file name.
	Args []string
}

// BenchCompare builds dongleblast (cmd/dongleblast) from the
// module at root and runs, in one boot, for each direction of cfg.Dir: the
// kernel's cdc_ether moving cfg.N frames through usb-net, then dongle's
// driver doing the same once per variant of cfg.Args (variants separated
// by "::", e.g. "-sync :: -workers 16 -cpuprofile /mnt/lab/tx.prof"), then
// the kernel again. Repeating a variant ("a :: a") measures it twice in
// the same VM, which is how to compare within the noise of one boot.
//
// TX: the guest blasts (labguest blast for the kernel, dongleblast tx),
// the host peer counts. RX: the host peer blasts (Peer.Blast, asked by
// dongleblast kernrx / rx -blast over its control port), the guest counts:
// the kernel's rx_packets polled every millisecond, dongle's frames
// timestamped in its netdev handler.
func (l *Lab) BenchCompare(ctx context.Context, root string, cfg BenchConfig, out io.Writer) (*Comparison, error) {
	n, size := cfg.N, cfg.Size
	doTX, doRX := cfg.Dir == "tx" || cfg.Dir == "both", cfg.Dir == "rx" || cfg.Dir == "both"
	if !doTX && !doRX {
		return nil, fmt.Errorf("bench: direction %q: want tx, rx or both", cfg.Dir)
	}
	bin, err := l.buildDongleblast(ctx, root, out)
	if err != nil {
		return nil, err
	}
	variants := [][]string{nil}
	for _, a := range cfg.Args {
		if a == VariantSep {
			variants = append(variants, nil)
			continue
		}
		variants[len(variants)-1] = append(variants[len(variants)-1], a)
	}
	// The kernel's cdc_ether rebinds when dongleblast releases the
	// interface: find its netdev again each time.
	const findIF = `for i in 1 2 3 4 5 6 7 8 9 10; do IF=$(labguest netif 0525:a4a2) && break; sleep 0.3; done
[ -n "$IF" ] || exit 91
ip link set $IF up
`
	kernelTX := findIF + fmt.Sprintf(`labguest peer reset
labguest blast -if $IF -n %[1]d -size %[2]d || exit 92
sleep 0.5
echo "%%s $(labguest peer stats)"
ip link set $IF down
`, n, size)
	kernelRX := findIF + fmt.Sprintf(`out=$(/mnt/lab/dongleblast kernrx -if $IF -n %[1]d -size %[2]d -rate %[3]d) || { echo "$out"; exit 94; }
echo "%%s $out"
ip link set $IF down
`, n, size, cfg.Rate)
	quote := func(v []string, rx bool) string {
		var args strings.Builder
		for i, a := range v {
			if rx && i > 0 && v[i-1] == "-cpuprofile" {
				a = filepath.Join(filepath.Dir(a), "rx-"+filepath.Base(a))
			}
			args.WriteString(" " + Quote(a))
		}
		return args.String()
	}
	var script strings.Builder
	script.WriteString("labguest peer mode count && labguest peer reset || exit 90\n")
	if doTX {
		fmt.Fprintf(&script, kernelTX, "TXKERNEL")
	}
	if doRX {
		fmt.Fprintf(&script, kernelRX, "RXKERNEL")
	}
	if doTX {
		for i, v := range variants {
			fmt.Fprintf(&script, "labguest peer reset\n/mnt/lab/dongleblast tx -n %d -size %d%s || exit 93\nsleep 0.5\necho \"TXDONGLE%d $(labguest peer stats)\"\n",
				n, size, quote(v, false), i)
		}
	}
	if doRX {
		for i, v := range variants {
			fmt.Fprintf(&script, "out=$(/mnt/lab/dongleblast rx -blast -n %d -size %d -rate %d%s) || { echo \"$out\"; exit 95; }\necho \"RXDONGLE%d $out\"\n",
				n, size, cfg.Rate, quote(v, true), i)
		}
	}
	if doTX {
		fmt.Fprintf(&script, kernelTX, "TXKERNELAFTER")
	}
	if doRX {
		fmt.Fprintf(&script, kernelRX, "RXKERNELAFTER")
	}
	var buf strings.Builder
	l.step("booting the VM: kernel cdc_ether, then dongle's driver, %d frames of %d B (%s)", n, size, cfg.Dir)
	res, err := l.Run(ctx, RunConfig{
		Script: script.String(), Files: map[string]string{"dongleblast": bin},
		Stdout: io.MultiWriter(out, &buf), Peer: guest.PeerCount, Fixture: "none", Timeout: 15 * time.Minute,
	})
	if err != nil {
		return nil, err
	}
	if res.ExitCode != 0 {
		return nil, fmt.Errorf("bench: guest exited %d (console %s/console.log)", res.ExitCode, res.Dir)
	}
	c := &Comparison{N: n, Size: size, Run: res}
	tags := map[string]*Count{}
	for _, d := range []struct {
		on  bool
		dir string
		dc  **DirComparison
	}{{doTX, "TX", &c.TX}, {doRX, "RX", &c.RX}} {
		if !d.on {
			continue
		}
		dc := &DirComparison{Dir: d.dir, Variants: make([]Variant, len(variants))}
		*d.dc = dc
		tags[d.dir+"KERNEL"], tags[d.dir+"KERNELAFTER"] = &dc.Kernel, &dc.KernelAfter
		for i, v := range variants {
			dc.Variants[i].Args = v
			tags[fmt.Sprintf("%sDONGLE%d", d.dir, i)] = &dc.Variants[i].Count
		}
	}
	for _, line := range strings.Split(buf.String(), "\n") {
		tag, rest, ok := strings.Cut(strings.TrimSpace(line), " ")
		st, known := tags[tag]
		if !ok || !known {
			continue
		}
		if *st, err = parseCount(rest); err != nil {
			return c, fmt.Errorf("bench: %s: %w", tag, err)
		}
	}
	for _, dc := range []*DirComparison{c.TX, c.RX} {
		if dc == nil {
			continue
		}
		for _, k := range []Count{dc.Kernel, dc.KernelAfter} {
			if k.Frames != uint64(n) {
				return c, fmt.Errorf("bench %s: %d of %d frames from/to the kernel", dc.Dir, k.Frames, n)
			}
		}
		for _, v := range dc.Variants {
			if v.Count.Frames != uint64(n) {
				return c, fmt.Errorf("bench %s: %d of %d frames from/to dongle %s", dc.Dir, v.Count.Frames, n, strings.Join(v.Args, " "))
			}
		}
	}
	return c, nil
}

// parseCount reads a tagged result line's rest: the host peer's
// "PEER frames=... rate=..." (TX) or dongleblast's
// "DONGLEBLAST rx|kernrx frames=GOT/N intervals=I in_ns=NS ..." (RX).
func parseCount(rest string) (Count, error) {
	if p, ok := strings.CutPrefix(rest, "PEER "); ok {
		if i := strings.Index(p, " rate="); i >= 0 {
			p = p[:i]
		}
		st, err := guest.ParsePeerStats(p)
		return peerCount(st), err
	}
	var mode string
	var c Count
	var want int
	var ns int64
	if _, err := fmt.Sscanf(rest, "DONGLEBLAST %s frames=%d/%d intervals=%d in_ns=%d", &mode, &c.Frames, &want, &c.Intervals, &ns); err != nil {
		return Count{}, fmt.Errorf("result line %q: %w", rest, err)
	}
	c.Elapsed = time.Duration(ns)
	return c, nil
}

// buildDongleblast builds cmd/dongleblast from the module at root into the
// lab directory and returns its path.
func (l *Lab) buildDongleblast(ctx context.Context, root string, out io.Writer) (string, error) {
	bin := l.path("build", "dongleblast")
	l.step("building dongleblast")
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/dongleblast")
	build.Dir = root
	build.Stdout, build.Stderr = out, out
	if err := build.Run(); err != nil {
		return "", fmt.Errorf("bench: build dongleblast: %w", err)
	}
	return bin, nil
}
