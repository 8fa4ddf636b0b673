package vmlab

import (
	"context"
	"fmt"
	"io"
	"os/exec"
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

// Comparison is the kernel's cdc_ether and dongle's driver sending the same
// frames through the same usb-net device in the same VM run, counted at
// the host peer. The kernel runs first and again last (Kernel, KernelAfter:
// the spread between them is the run's noise); dongle runs once per
// variant in between.
type Comparison struct {
	N, Size             int
	Kernel, KernelAfter guest.PeerStats
	Dongle              guest.PeerStats // Variants[0]
	Variants            []Variant
	Run                 *Result
}

// Variant is one dongleblast run: its flags and what the host peer counted.
type Variant struct {
	Args []string
	Peer guest.PeerStats
}

// kernelRate is the mean of the kernel's two runs (the first alone if the
// second is missing).
func (c *Comparison) kernelRate() float64 {
	k := c.Kernel.FramesPerSecond()
	if a := c.KernelAfter.FramesPerSecond(); a > 0 && k > 0 {
		return (k + a) / 2
	}
	return k
}

// Ratio is dongle's rate (the first variant) over the kernel's mean rate
// (1.0: as fast).
func (c *Comparison) Ratio() float64 { return c.ratio(c.Dongle) }

func (c *Comparison) ratio(p guest.PeerStats) float64 {
	if c.kernelRate() == 0 {
		return 0
	}
	return p.FramesPerSecond() / c.kernelRate()
}

func (c *Comparison) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "BENCH TX %d frames of %d B through usb-net, at the host peer:\n  kernel cdc_ether:       %d frames, %.0f frames/s (again at the end: %.0f frames/s)\n",
		c.N, c.Size, c.Kernel.Frames, c.Kernel.FramesPerSecond(), c.KernelAfter.FramesPerSecond())
	for _, v := range c.Variants {
		args := strings.Join(v.Args, " ")
		if args == "" {
			args = "(defaults)"
		}
		fmt.Fprintf(&b, "  dongle %-16s %d frames, %.0f frames/s, ratio dongle/kernel %.2f\n", args+":", v.Peer.Frames, v.Peer.FramesPerSecond(), c.ratio(v.Peer))
	}
	fmt.Fprintf(&b, "  (run %s)", c.Run.Dir)
	return b.String()
}

// VariantSep separates dongleblast variants in BenchCompare's dongleArgs.
const VariantSep = "::"

// BenchCompare builds dongleblast (hw/vmlab/cmd/dongleblast) from the
// module at root and runs, in one boot, the kernel's cdc_ether blasting n
// frames through usb-net, then dongle's driver doing the same once per
// variant of dongleArgs (variants separated by "::", e.g. "-sync :: -workers
// 16 -cpuprofile /mnt/lab/tx.prof"), then the kernel again. The host peer
// counts every run. Repeating a variant ("a :: a") measures it twice in
// the same VM, which is how to compare within the noise of one boot.
func (l *Lab) BenchCompare(ctx context.Context, root string, n, size int, dongleArgs []string, out io.Writer) (*Comparison, error) {
	bin := l.path("build", "dongleblast")
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, "./hw/vmlab/cmd/dongleblast")
	build.Dir = root
	build.Stdout, build.Stderr = out, out
	if err := build.Run(); err != nil {
		return nil, fmt.Errorf("bench: build dongleblast: %w", err)
	}
	variants := [][]string{nil}
	for _, a := range dongleArgs {
		if a == VariantSep {
			variants = append(variants, nil)
			continue
		}
		variants[len(variants)-1] = append(variants[len(variants)-1], a)
	}
	// The kernel's cdc_ether rebinds when dongleblast releases the
	// interface: find its netdev again each time.
	kernel := fmt.Sprintf(`for i in 1 2 3 4 5 6 7 8 9 10; do IF=$(labguest netif 0525:a4a2) && break; sleep 0.3; done
[ -n "$IF" ] || exit 91
ip link set $IF up
labguest peer reset
labguest blast -if $IF -n %[1]d -size %[2]d || exit 92
sleep 0.5
echo "%%s $(labguest peer stats)"
ip link set $IF down
`, n, size)
	var script strings.Builder
	script.WriteString("labguest peer mode count && labguest peer reset || exit 90\n")
	fmt.Fprintf(&script, kernel, "KERNEL")
	for i, v := range variants {
		var args strings.Builder
		for _, a := range v {
			args.WriteString(" " + Quote(a))
		}
		fmt.Fprintf(&script, "labguest peer reset\n/mnt/lab/dongleblast tx -n %d -size %d%s || exit 93\nsleep 0.5\necho \"DONGLE%d $(labguest peer stats)\"\n",
			n, size, args.String(), i)
	}
	fmt.Fprintf(&script, kernel, "KERNELAFTER")
	var buf strings.Builder
	res, err := l.Run(ctx, RunConfig{
		Script: script.String(), Files: map[string]string{"dongleblast": bin},
		Stdout: io.MultiWriter(out, &buf), Peer: guest.PeerCount, Fixture: "none", Timeout: 10 * time.Minute,
	})
	if err != nil {
		return nil, err
	}
	if res.ExitCode != 0 {
		return nil, fmt.Errorf("bench: guest exited %d (console %s/console.log)", res.ExitCode, res.Dir)
	}
	c := &Comparison{N: n, Size: size, Run: res, Variants: make([]Variant, len(variants))}
	tags := map[string]*guest.PeerStats{"KERNEL": &c.Kernel, "KERNELAFTER": &c.KernelAfter}
	for i, v := range variants {
		c.Variants[i].Args = v
		tags[fmt.Sprintf("DONGLE%d", i)] = &c.Variants[i].Peer
	}
	for _, line := range strings.Split(buf.String(), "\n") {
		tag, rest, ok := strings.Cut(line, " PEER ")
		st, known := tags[tag]
		if !ok || !known {
			continue
		}
		if i := strings.Index(rest, " rate="); i >= 0 {
			rest = rest[:i]
		}
		if *st, err = guest.ParsePeerStats(rest); err != nil {
			return nil, err
		}
	}
	c.Dongle = c.Variants[0].Peer
	if c.Kernel.Frames != uint64(n) {
		return c, fmt.Errorf("bench: host peer counted %d of %d frames from the kernel", c.Kernel.Frames, n)
	}
	for _, v := range c.Variants {
		if v.Peer.Frames != uint64(n) {
			return c, fmt.Errorf("bench: host peer counted %d of %d frames from dongle %s", v.Peer.Frames, n, strings.Join(v.Args, " "))
		}
	}
	return c, nil
}
