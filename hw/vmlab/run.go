package vmlab

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"dongle/hw/vmlab/guest"
)

// RunConfig is one guest run: boot, set up the fixture, run Script, power off.
type RunConfig struct {
	// Script is sh(1) code run in the guest as root after the fixture is
	// ready; its stdout and stderr stream to Stdout. Its exit status is the
	// run's ExitCode. Shell-quote arguments with Quote.
	Script string
	// Files are host files copied into the share (/mnt/lab/<name> in the
	// guest), executable. They are deleted from the results afterwards.
	Files map[string]string
	// Env is exported to Script, as KEY=VALUE. DONGLE_LAB=1 always is.
	Env []string
	// HostRoot, if set, is a host directory mounted read-write at the same
	// path in the guest (the module root, so tests find testdata and
	// fixtures); Dir is the working directory Script starts in.
	HostRoot, Dir string

	Stdout   io.Writer      // nil: discarded (it is in no file; use a tee if it must be kept)
	Peer     guest.PeerMode // initial host peer mode; default echo
	NoUSBNet bool           // leave QEMU's usb-net out
	// USBNetToGuest cables usb-net to a virtio-net NIC in the guest
	// instead of the host peer (VM.GuestNIC): the guest's own stack is
	// the link partner, with counters at both ends. The host peer then
	// sees nothing.
	USBNetToGuest bool
	Fixture       string        // gadgets: "all" (default: ECM, NCM, RNDIS), "ecm", "none"
	Timeout       time.Duration // whole run; default 10 minutes
}

// Result is what a run left behind. Dir keeps console.log (ttyS0),
// qemu.stderr, usbnet.pcap (QEMU's pcap= capture of usb-net, LINKTYPE 220;
// usbnet-replugN.pcap after the Nth replug),
// host-rx.pcap (frames at the host peer, Ethernet), usb-before.txt and
// usb-after.txt (USB devices and bound drivers around Script), summary.txt.
type Result struct {
	ExitCode    int
	Dir         string
	Wall        time.Duration // QEMU start to exit
	ReadyUptime float64       // guest uptime (s) when the fixture was ready: boot + enumeration
	Peer        guest.PeerStats
	USBBefore   string
	USBAfter    string
}

// ErrGuest is wrapped when the guest did not report an exit status (crash,
// timeout, boot failure); the error names the console log.
var ErrGuest = errors.New("lab guest did not finish")

// Quote shell-quotes s for sh(1).
func Quote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./=:,+@%", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

var runSeq atomic.Int64

// keepRuns is how many run directories Run leaves in <Dir>/runs.
const keepRuns = 30

// Run boots the lab VM and runs cfg.Script in it.
func (l *Lab) Run(ctx context.Context, cfg RunConfig) (*Result, error) {
	if err := l.Ready(); err != nil {
		return nil, err
	}
	kernel, _ := l.Vmlinuz()
	runs := l.path("runs")
	pruneRuns(runs, keepRuns-1)
	dir := filepath.Join(runs, fmt.Sprintf("%s-%d-%d", time.Now().Format("20060102-150405"), os.Getpid(), runSeq.Add(1)))
	share := filepath.Join(dir, "share")
	if err := os.MkdirAll(share, 0o755); err != nil {
		return nil, err
	}
	res := &Result{ExitCode: -1, Dir: dir}
	defer func() {
		for name := range cfg.Files {
			os.Remove(filepath.Join(share, name))
		}
		os.RemoveAll(filepath.Join(share, "lib"))
	}()
	for name, src := range cfg.Files {
		if strings.ContainsRune(name, '/') && !strings.HasPrefix(name, "lib/") {
			return nil, fmt.Errorf("lab run: file name %q must not contain '/'", name)
		}
		if err := copyFile(filepath.Join(share, name), src); err != nil {
			return nil, fmt.Errorf("lab run: %w", err)
		}
	}
	if err := os.WriteFile(filepath.Join(share, "run.sh"), []byte(runScript(cfg)), 0o755); err != nil {
		return nil, err
	}

	sock, err := os.MkdirTemp("", "lab")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(sock)
	mode := cfg.Peer
	if mode == "" {
		mode = guest.PeerEcho
	}
	peer, err := ListenPeer(sock, mode, filepath.Join(dir, "host-rx.pcap"))
	if err != nil {
		return nil, err
	}
	defer peer.Close()
	peer.SetShare(share)

	fixture := cfg.Fixture
	if fixture == "" {
		fixture = "all"
	}
	usbnet := "1"
	if cfg.NoUSBNet {
		usbnet = "0"
	}
	vm := &VM{
		Accel:   Accel(),
		Kernel:  kernel,
		Initrd:  l.InitramfsPath(),
		Append:  "console=ttyS0 quiet panic=-1 8250.nr_uarts=4 lab.fixture=" + fixture + " lab.usbnet=" + usbnet + " lab.run=run.sh",
		Console: filepath.Join(dir, "console.log"),
		USBNet:  !cfg.NoUSBNet, NetLocal: peer.QEMUSocketPath(), NetRemote: peer.SocketPath(),
		GuestNIC:   cfg.USBNetToGuest,
		USBNetPcap: filepath.Join(dir, "usbnet.pcap"),
		Shares:     []Share{{Tag: "lab", Path: share}},
		Control:    peer.ControlPath(),
		Monitor:    filepath.Join(sock, "qmp.sock"),
	}
	if !cfg.NoUSBNet {
		// The guest's "unplug"/"replug" (guest.Peer) become QEMU's
		// device_del/device_add; each replug starts a new capture.
		replugs := 0
		peer.SetPlug(func(on bool) error {
			ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
			defer cancel()
			pcap := ""
			if on {
				replugs++
				pcap = filepath.Join(dir, fmt.Sprintf("usbnet-replug%d.pcap", replugs))
			}
			return PlugUSBNet(ctx, vm.Monitor, on, pcap)
		})
	}
	if cfg.HostRoot != "" {
		vm.Shares = append(vm.Shares, Share{Tag: "host", Path: cfg.HostRoot})
	}
	args, err := vm.Args()
	if err != nil {
		return nil, err
	}
	timeout := cfg.Timeout
	if timeout == 0 {
		timeout = 10 * time.Minute
	}
	qctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(qctx, "qemu-system-x86_64", args...)
	cmd.Stdout = cfg.Stdout
	if cmd.Stdout == nil {
		cmd.Stdout = io.Discard
	}
	stderr, err := os.Create(filepath.Join(dir, "qemu.stderr"))
	if err != nil {
		return nil, err
	}
	defer stderr.Close()
	cmd.Stderr = stderr
	fmt.Fprintf(stderr, "# %s\n", strings.Join(append([]string{"qemu-system-x86_64"}, quoteAll(args)...), " "))
	l.logf("run %s (accel %s)", dir, vm.Accel)
	t0 := time.Now()
	qerr := cmd.Run()
	res.Wall = time.Since(t0)
	res.Peer = peer.Stats()
	if err := peer.Close(); err != nil {
		l.logf("peer: %v", err)
	}

	console, _ := os.ReadFile(vm.Console)
	res.ReadyUptime = readyUptime(console)
	res.USBBefore = readText(filepath.Join(share, "usb-before.txt"))
	res.USBAfter = readText(filepath.Join(share, "usb-after.txt"))
	rcText := readText(filepath.Join(share, "rc"))
	rc, rcErr := strconv.Atoi(rcText)
	if rcErr == nil {
		res.ExitCode = rc
	}
	os.WriteFile(filepath.Join(dir, "summary.txt"), []byte(res.Summary()+"\n"), 0o644)
	if rcErr != nil {
		why := "no exit status from the guest"
		switch {
		case qctx.Err() == context.DeadlineExceeded:
			why = fmt.Sprintf("timed out after %v", timeout)
		case ctx.Err() != nil:
			why = ctx.Err().Error()
		case qerr != nil:
			why = "qemu: " + qerr.Error() + ": " + lastLine(filepath.Join(dir, "qemu.stderr"))
		}
		return res, fmt.Errorf("%w: %s; console: %s", ErrGuest, why, vm.Console)
	}
	return res, nil
}

// Summary is a one-line account of a run.
func (r *Result) Summary() string {
	return fmt.Sprintf("exit=%d wall=%.2fs ready_uptime=%.2fs peer: %s results=%s", r.ExitCode, r.Wall.Seconds(), r.ReadyUptime, r.Peer, r.Dir)
}

func runScript(cfg RunConfig) string {
	var b strings.Builder
	b.WriteString("# generated by dongle/hw/vmlab: run by the guest's /init\n")
	b.WriteString("stty -F /dev/ttyS1 raw -echo 2>/dev/null\nexec >/dev/ttyS1 2>&1\n")
	b.WriteString("export DONGLE_LAB=1\n")
	for _, kv := range cfg.Env {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" || strings.ContainsAny(k, " \t\n'\"$=") {
			continue
		}
		fmt.Fprintf(&b, "export %s=%s\n", k, Quote(v))
	}
	if cfg.HostRoot != "" {
		fmt.Fprintf(&b, "mkdir -p %[1]s && mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000 host %[1]s || exit 96\n", Quote(cfg.HostRoot))
	}
	if cfg.Dir != "" {
		fmt.Fprintf(&b, "cd %s || exit 97\n", Quote(cfg.Dir))
	} else {
		b.WriteString("cd /mnt/lab\n")
	}
	b.WriteString(cfg.Script)
	b.WriteString("\n")
	return b.String()
}

func quoteAll(a []string) []string {
	q := make([]string, len(a))
	for i, s := range a {
		q[i] = Quote(s)
	}
	return q
}

// readyUptime finds "LAB: ready uptime=1.93" in the console log.
func readyUptime(console []byte) float64 {
	i := bytes.Index(console, []byte("LAB: ready uptime="))
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(console[i+len("LAB: ready uptime="):]))
	if len(f) == 0 {
		return 0
	}
	v, _ := strconv.ParseFloat(f[0], 64)
	return v
}

func readText(p string) string {
	b, _ := os.ReadFile(p)
	return strings.TrimSpace(string(b))
}

func lastLine(p string) string {
	t := readText(p)
	if i := strings.LastIndexByte(t, '\n'); i >= 0 {
		return t[i+1:]
	}
	return t
}

func copyFile(dst, src string) error {
	os.MkdirAll(filepath.Dir(dst), 0o755)
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return fmt.Errorf("copy %s: %w", src, err)
	}
	return out.Close()
}

// pruneRuns removes the oldest run directories beyond keep.
func pruneRuns(dir string, keep int) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	var names []string
	for _, e := range ents {
		if e.IsDir() {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names) // names start with a timestamp
	for len(names) > keep {
		os.RemoveAll(filepath.Join(dir, names[0]))
		names = names[1:]
	}
}
