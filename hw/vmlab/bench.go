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
// the host peer.
type Comparison struct {
	N, Size        int
	Kernel, Dongle guest.PeerStats
	Run            *Result
}

// Ratio is dongle's rate over the kernel's (1.0: as fast).
func (c *Comparison) Ratio() float64 {
	if c.Kernel.FramesPerSecond() == 0 {
		return 0
	}
	return c.Dongle.FramesPerSecond() / c.Kernel.FramesPerSecond()
}

func (c *Comparison) String() string {
	return fmt.Sprintf("BENCH TX %d frames of %d B through usb-net, at the host peer:\n  kernel cdc_ether: %d frames, %.0f frames/s\n  dongle usbnet:    %d frames, %.0f frames/s\n  ratio dongle/kernel: %.2f  (run %s)",
		c.N, c.Size, c.Kernel.Frames, c.Kernel.FramesPerSecond(), c.Dongle.Frames, c.Dongle.FramesPerSecond(), c.Ratio(), c.Run.Dir)
}

// BenchCompare builds dongleblast (hw/vmlab/cmd/dongleblast) from the
// module at root and runs, in one boot, the kernel's cdc_ether blasting n
// frames through usb-net and then dongle's driver doing the same with
// dongleArgs (e.g. -workers 16 -txurbs 32 -cpuprofile /mnt/lab/tx.prof).
// The host peer counts both.
func (l *Lab) BenchCompare(ctx context.Context, root string, n, size int, dongleArgs []string, out io.Writer) (*Comparison, error) {
	bin := l.path("build", "dongleblast")
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, "./hw/vmlab/cmd/dongleblast")
	build.Dir = root
	build.Stdout, build.Stderr = out, out
	if err := build.Run(); err != nil {
		return nil, fmt.Errorf("bench: build dongleblast: %w", err)
	}
	var args strings.Builder
	for _, a := range dongleArgs {
		args.WriteString(" " + Quote(a))
	}
	script := fmt.Sprintf(`labguest peer mode count && labguest peer reset || exit 90
IF=$(labguest netif 0525:a4a2) || exit 91
ip link set $IF up
labguest blast -if $IF -n %[1]d -size %[2]d || exit 92
sleep 0.5
echo "KERNEL $(labguest peer stats)"
ip link set $IF down
labguest peer reset
/mnt/lab/dongleblast tx -n %[1]d -size %[2]d%[3]s || exit 93
sleep 0.5
echo "DONGLE $(labguest peer stats)"
`, n, size, args.String())
	var buf strings.Builder
	res, err := l.Run(ctx, RunConfig{
		Script: script, Files: map[string]string{"dongleblast": bin},
		Stdout: io.MultiWriter(out, &buf), Peer: guest.PeerCount, Fixture: "none", Timeout: 10 * time.Minute,
	})
	if err != nil {
		return nil, err
	}
	if res.ExitCode != 0 {
		return nil, fmt.Errorf("bench: guest exited %d (console %s/console.log)", res.ExitCode, res.Dir)
	}
	c := &Comparison{N: n, Size: size, Run: res}
	for _, line := range strings.Split(buf.String(), "\n") {
		for _, who := range []struct {
			tag string
			st  *guest.PeerStats
		}{{"KERNEL PEER ", &c.Kernel}, {"DONGLE PEER ", &c.Dongle}} {
			if rest, ok := strings.CutPrefix(line, who.tag); ok {
				if i := strings.Index(rest, " rate="); i >= 0 {
					rest = rest[:i]
				}
				if *who.st, err = guest.ParsePeerStats(rest); err != nil {
					return nil, err
				}
			}
		}
	}
	if c.Kernel.Frames != uint64(n) || c.Dongle.Frames != uint64(n) {
		return c, fmt.Errorf("bench: host peer counted %d (kernel) and %d (dongle) of %d frames", c.Kernel.Frames, c.Dongle.Frames, n)
	}
	return c, nil
}
