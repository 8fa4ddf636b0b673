package vmlab

import (
	"context"
	"fmt"
	"io"
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
