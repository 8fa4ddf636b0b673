// Command ffsmodel runs one of dongle's device models as a real USB
// device inside the virtual lab: a configfs gadget with the chip's VID:PID
// on a dummy_hcd UDC, whose only function is FunctionFS served by the
// hw/ffs bridge. The Linux host side of dummy_hcd then enumerates it like
// a plugged-in dongle, so the kernel's own asix / ax88179_178a drivers bind
// to it, and gousb can open it through usbfs.
//
//	ffsmodel -model CHIP [-super] [-usbip] [-capture F.pcap] [-requests F.txt] [-ready FILE] [-ctl FIFO] [-sock PATH] [-stats 1s] [-daemon]
//
// -super adds a SuperSpeed descriptor set (the UDC must offer SuperSpeed:
// dummy_hcd is_super_speed=1) and builds an AX88179 model as a SuperSpeed
// chip (1024-byte bulk packets, USB_SS in PHYSICAL_LINK_STATUS).
//
// -usbip attaches the model to the kernel's virtual host controller
// vhci_hcd over USB/IP (hw/usbip) instead of serving it as a gadget: the
// host then sees the model's own endpoint numbers, which dummy_hcd's fixed
// endpoint list cannot give (it has no IN endpoint 3; Linux's r8152 wants
// its interrupt endpoint there). -super attaches it to a SuperSpeed port.
// A CDC function (the NCM model, -model ncm) can only be served this way:
// Linux 6.1's FunctionFS refuses class-specific descriptors
// (ffs_do_single_desc takes them for HID and CCID interfaces only), and a
// CDC function must carry its header, union, Ethernet and NCM functional
// descriptors. Over USB/IP the host reads the model's own configuration,
// IAD and the data interface's alternate settings included, and its
// SET_INTERFACE requests reach the model as control requests.
//
// The model's Ethernet side is a sim.Wire to an in-process peer (hw/sim/peer)
// at 10.9.9.2 that answers ARP and ICMP echo, and sends EtherType 0x88b5
// frames straight back (the echo far side of dongle's specs: DONGLE_PEER=echo).
//
// UDC: the first dummy_udc not used by another gadget; when the lab's fixture
// holds them all, the gadget named by -steal (default the RNDIS fixture) is
// unbound and its UDC used.
//
// Link control (DONGLE_LINK_CMD): with -ctl FIFO, writing "down" or "up" to
// the FIFO unplugs or plugs the model's cable.
//
// The wire under a spec's control (DONGLE_PEER=ffsmodel:PATH): with -sock
// PATH, a unix socket serves the wire-side peers' protocol
// (hw/vmlab/guest/wire.go; guest.DialWire is its client). "mode wire" stops
// the echo and keeps every frame the model sends; "inject" sends frames to
// it; "link" pulls its cable. The same socket injects real faults:
// "stall EP" halts an IN endpoint through FunctionFS (hw/ffs Bridge.Halt),
// "hold EP" stops reading an OUT endpoint ("release EP" reads it again; hw/ffs
// Bridge.HoldOut: the host's OUT transfers stay pending), "fail EP STATUS N"
// (-usbip only: hw/usbip Server.FailNext) completes the next N URBs of EP
// with STATUS, "oversize N" makes the NCM model's next NTB N bytes longer
// than the host negotiated, "linkgate on" makes it hold each link-up
// until the host's next SET_ETHERNET_PACKET_FILTER, "unplug" unbinds the gadget from its UDC (the host sees a disconnect) and
// "replug" binds it again and waits until the host has configured it. A
// replugged model keeps its registers: unlike a real chip, it is not
// powered down with its cable.
//
// dongle's spec suite against an emulated chip, through gousb and the real
// kernel USB stack (vmlab.EnvGuestSetup starts ffsmodel before the tests):
//
//	DONGLE_LAB_SETUP='ffsmodel -daemon -model ax88772b -sock /run/ffsmodel.sock' \
//	DONGLE_PEER=ffsmodel:/run/ffsmodel.sock DONGLE_EXPECT_MAC=00:0e:c6:88:77:2b \
//	go test -exec $PWD/.lab/labexec ./specs -args --backend=usb:0b95:772b
//
// From a shell (a fixture script), one request to a running model:
//
//	ffsmodel -sock /run/ffsmodel.sock -send 'hold 0x02'
//
// prints the answer and exits 1 if the model refused.
//
// On SIGTERM or SIGINT it writes the capture (usbmon pcap, link type 220, of
// every transfer the bridge served, with the enumeration records prepended)
// and the model's control request log, unbinds the gadget, and removes it.
package main

import (
	"bufio"
	"context"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"dongle/hw"
	"dongle/hw/ffs"
	"dongle/hw/sim"
	"dongle/hw/sim/ifwire"
	"dongle/hw/sim/peer"
	"dongle/usbnet/catalog"
)

const gadgetRoot = "/sys/kernel/config/usb_gadget"

type config struct {
	model, name, udc, steal string
	mac                     string
	peerIP                  string
	echo                    bool
	super, usbip            bool
	capture, requests       string
	ready, ctl, logPath     string
	sock, wire              string
	daemon, verbose         bool
	send                    string
	statsEvery              time.Duration
}

func main() {
	var c config
	flag.StringVar(&c.model, "model", "ax88772b", "device model: "+strings.Join(catalog.Chips(), ", "))
	flag.StringVar(&c.name, "name", "", "FunctionFS instance and gadget name (default: the model's)")
	flag.StringVar(&c.udc, "udc", "", "UDC to bind (default: a free dummy_udc)")
	flag.StringVar(&c.steal, "steal", "rndis", "gadget to unbind when no UDC is free")
	flag.StringVar(&c.mac, "mac", "", "model MAC (default: the model's)")
	flag.StringVar(&c.peerIP, "peer", peer.DefaultIP.String(), "IPv4 address of the peer on the wire side")
	flag.BoolVar(&c.echo, "echo", true, "peer sends EtherType 0x88b5 frames back")
	flag.BoolVar(&c.super, "super", false, "add SuperSpeed descriptors (needs dummy_hcd is_super_speed=1)")
	flag.BoolVar(&c.usbip, "usbip", false, "attach the model to the kernel's vhci_hcd over USB/IP instead of a FunctionFS gadget (hw/usbip: the device's own endpoint numbers)")
	flag.StringVar(&c.capture, "capture", "", "write a usbmon pcap of the bridge's transfers here on exit")
	flag.StringVar(&c.requests, "requests", "", "write the model's control request log here on exit")
	flag.StringVar(&c.ready, "ready", "", "create this file once the host has configured the device")
	flag.StringVar(&c.ctl, "ctl", "", "FIFO taking link commands (down, up)")
	flag.StringVar(&c.wire, "wire", "", "the model's cable is this host interface (hw/sim/ifwire; one end of a veth pair): the host's stack on the other end is the link partner, instead of the in-process peer")
	flag.StringVar(&c.sock, "sock", "", "unix socket where a spec drives the wire and injects faults (protocol: hw/vmlab/guest/wire.go)")
	flag.StringVar(&c.logPath, "log", "", "with -daemon: the child's output (default /tmp/ffsmodel-MODEL.log)")
	flag.BoolVar(&c.daemon, "daemon", false, "run in the background; return once ready")
	flag.StringVar(&c.send, "send", "", "send this request to the model serving -sock, print its answer and exit (1 if refused)")
	flag.BoolVar(&c.verbose, "v", false, "log every control request")
	flag.DurationVar(&c.statsEvery, "stats", 0, "log the model's, bridge's and peer's counters this often when they change (0: on exit only)")
	flag.Parse()
	if c.name == "" {
		c.name = c.model
	}
	if c.send != "" {
		os.Exit(send(c.sock, c.send, os.Stdout, os.Stderr))
	}
	if c.daemon {
		os.Exit(daemonize(c))
	}
	if err := run(c); err != nil {
		fmt.Fprintf(os.Stderr, "ffsmodel: %v\n", err)
		os.Exit(1)
	}
}

// daemonize starts this program again without -daemon in its own session
// and waits until it reports ready (or exits).
func daemonize(c config) int {
	if c.ready == "" {
		c.ready = "/run/ffsmodel-" + c.name + ".ready"
	}
	if c.logPath == "" {
		c.logPath = "/tmp/ffsmodel-" + c.name + ".log"
	}
	os.Remove(c.ready)
	var args []string
	for _, a := range os.Args[1:] {
		if a != "-daemon" && a != "--daemon" && a != "-daemon=true" {
			args = append(args, a)
		}
	}
	args = append(args, "-ready", c.ready)
	out, err := os.Create(c.logPath)
	if err != nil {
		fmt.Fprintln(os.Stderr, "ffsmodel:", err)
		return 1
	}
	cmd := exec.Command("/proc/self/exe", args...)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		fmt.Fprintln(os.Stderr, "ffsmodel:", err)
		return 1
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	deadline := time.After(30 * time.Second)
	for {
		if _, err := os.Stat(c.ready); err == nil {
			fmt.Printf("ffsmodel: %s running as pid %d (log %s)\n", c.model, cmd.Process.Pid, c.logPath)
			return 0
		}
		select {
		case err := <-exited:
			b, _ := os.ReadFile(c.logPath)
			fmt.Fprintf(os.Stderr, "ffsmodel: exited before ready: %v\n%s", err, b)
			return 1
		case <-deadline:
			b, _ := os.ReadFile(c.logPath)
			fmt.Fprintf(os.Stderr, "ffsmodel: not ready after 30 s\n%s", b)
			return 1
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// newChip builds the model the catalog serves as model (catalog.ModelByChip:
// "ax88772b", "ax88179", "ax88178a", ...). With super, it asks for a
// SuperSpeed chip (hw.SpeedSuper): an AX88179/178A model then carries
// 1024-byte bulk endpoints, packetises at 1024 bytes (so its ZLP decisions
// match the host's), and reports USB_SS in PHYSICAL_LINK_STATUS, which is
// what a driver reads to pick its SuperSpeed settings (Linux's
// ax88179_link_reset: the RX_BULKIN_QCTRL row). A USB 2.0 chip (the
// AX88772B) ignores it and stays a high-speed model.
func newChip(model, mac string, super bool) (*catalog.Instance, error) {
	o := catalog.Options{Chip: model}
	if mac != "" {
		var err error
		if o.MAC, err = net.ParseMAC(mac); err != nil {
			return nil, fmt.Errorf("-mac: %w", err)
		}
	}
	if super {
		o.Speed = hw.SpeedSuper
	}
	m, err := catalog.ModelByChip(model)
	if err != nil {
		return nil, fmt.Errorf("-model: %w", err)
	}
	ch := m.Build(o)
	if ch.Requests == nil {
		return nil, fmt.Errorf("-model %s: the model keeps no request log", model)
	}
	return ch, nil
}

func run(c config) error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	dump := make(chan os.Signal, 1)
	signal.Notify(dump, syscall.SIGUSR1)
	go func() {
		for range dump { // SIGUSR1: every goroutine's stack, for a stuck bridge
			buf := make([]byte, 1<<20)
			fmt.Printf("ffsmodel: goroutines\n%s\n", buf[:runtime.Stack(buf, true)])
		}
	}()
	ch, err := newChip(c.model, c.mac, c.super)
	if err != nil {
		return err
	}
	wire := sim.NewWire()
	ch.Plug(wire.A())
	p := peer.New(wire.B(), net.ParseIP(c.peerIP), nil)
	if c.echo {
		p.Echo = peer.EchoEtherType
	}
	// PAUSE (802.3x): the peer waits while the model's RX FIFO is above its
	// high-water mark, as a link partner does when the chip sends PAUSE
	// frames (the kernel drivers and dongle's enable flow control in
	// MEDIUM_MODE). On the bench the wire side is far slower than a
	// high-speed bulk IN pipe and a real FIFO never fills at these rates;
	// here the wire is instant and the bridge moves one packet per
	// FunctionFS write, so without PAUSE an echo burst overflows the FIFO
	// (AX88772B, 500 x 1514 bytes: a few frames counted as Overflow).
	p.Hold = ch.Paused
	defer p.Close()
	wp := newWirePeer(wire.B(), p, p.Hold)
	wp.link = ch.SetLink
	wp.over = ch.OversizeNext
	wp.gate = ch.GateLinkOnFilter
	if c.verbose || c.sock != "" {
		wp.logf = func(f string, a ...any) { fmt.Printf(f+"\n", a...) }
	}

	if c.wire != "" {
		if c.sock != "" {
			return errors.New("-wire and -sock both name the far side of the model's cable: give one")
		}
		cable, err := ifwire.Open(wire.B(), c.wire, ch.SetLink)
		if err != nil {
			return fmt.Errorf("-wire %s: %w", c.wire, err)
		}
		defer cable.Close()
		cable.SetHold(p.Hold) // the partner obeys the model's PAUSE
	}
	if c.usbip {
		return runUSBIP(ctx, c, ch, wp, p)
	}
	for _, m := range []string{"libcomposite", "usb_f_fs"} {
		modprobe(m)
	}
	udc, err := pickUDC(c.udc, c.steal)
	if err != nil {
		return err
	}
	dd, err := hw.ReadDeviceDescriptor(ctx, ch.Dev)
	if err != nil {
		return err
	}
	gdir := filepath.Join(gadgetRoot, "ffs-"+c.name)
	if err := makeGadget(ctx, gdir, c.name, ch.Dev, dd); err != nil {
		return err
	}
	defer removeGadget(gdir, c.name)
	mnt := "/dev/ffs-" + c.name
	os.MkdirAll(mnt, 0o755)
	if err := unix.Mount(c.name, mnt, "functionfs", 0, ""); err != nil {
		return fmt.Errorf("mount functionfs %s on %s: %w", c.name, mnt, err)
	}
	defer unix.Unmount(mnt, 0)

	capt := ffs.NewCapture()
	logf := func(string, ...any) {}
	if c.verbose {
		logf = func(f string, a ...any) { fmt.Printf(f+"\n", a...) }
	}
	sctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	br, err := ffs.New(sctx, ch.Dev, ffs.Mount(mnt), ffs.Options{Super: c.super, Capture: capt, Logf: logf})
	if err != nil {
		return err
	}
	served := make(chan error, 1)
	go func() { served <- br.Serve(sctx) }()
	if err := os.WriteFile(filepath.Join(gdir, "UDC"), []byte(udc), 0); err != nil {
		return fmt.Errorf("bind gadget to %s: %w", udc, err)
	}
	fmt.Printf("ffsmodel: %s (%04x:%04x) bound to %s\n", c.model, dd.Vendor, dd.Product, udc)

	host, err := waitHost(ctx, dd.Vendor, dd.Product, br)
	if err != nil {
		return err
	}
	capt.SetAddress(host.bus, host.dev)
	capt.Enumeration(host.devDesc, host.cfgDesc)
	addrs := br.HostAddresses()
	fmt.Printf("ffsmodel: host %s bus %d dev %d speed %s, endpoints (model→host) %v\n", host.name, host.bus, host.dev, host.speed, fmtAddrs(addrs))
	if c.ctl != "" {
		go linkControl(ctx, c.ctl, ch.SetLink)
	}
	if c.sock != "" {
		wp.halt = br.Halt
		wp.holdOut = br.HoldOut
		wp.plug = func(on bool) error {
			h, err := plugGadget(ctx, gdir, udc, on, dd.Vendor, dd.Product, br)
			if h != nil {
				capt.SetAddress(h.bus, h.dev)
			}
			return err
		}
		if err := wp.serve(ctx, c.sock); err != nil {
			return err
		}
	}
	if c.statsEvery > 0 {
		go logStats(ctx, c.statsEvery, ch, br, p)
	}
	if c.ready != "" {
		os.WriteFile(c.ready, []byte(host.name+"\n"), 0o644)
	}

	<-ctx.Done()
	fmt.Printf("ffsmodel: stopping; %s\n", statsLine(ch, br, p))
	var errs []error
	if c.capture != "" {
		errs = append(errs, writeCapture(c.capture, capt))
	}
	if c.requests != "" {
		errs = append(errs, writeRequests(c.requests, ch.Requests()))
	}
	cancel()
	os.WriteFile(filepath.Join(gdir, "UDC"), []byte("\n"), 0)
	select {
	case err := <-served:
		errs = append(errs, err)
	case <-time.After(3 * time.Second):
		fmt.Println("ffsmodel: bridge did not stop within 3 s")
	}
	return errors.Join(errs...)
}

// statsLine is every device-side counter on one line: the bridge's, the
// peer's (and its wire end's), and the model's own.
func statsLine(ch *catalog.Instance, br *ffs.Bridge, p *peer.Peer) string {
	bs, ps := br.Stats(), p.Stats()
	s := fmt.Sprintf("bridge: setups %d stalls %d late-stalls %d in-packets %d out-reads %d io-errors %d; "+
		"peer: received %d arp-replies %d echo-replies %d echoed %d ignored %d dropped %d",
		bs.Setups.Load(), bs.Stalls.Load(), bs.LateStalls.Load(), bs.InPackets.Load(), bs.OutReads.Load(), bs.IOErrors.Load(),
		ps.Received.Load(), ps.ARPReplies.Load(), ps.EchoReplies.Load(), ps.Echoed.Load(), ps.Ignored.Load(), ps.Dropped.Load())
	if ch.Stats != nil {
		s += "; model: " + ch.Stats()
	}
	return s
}

// logStats prints statsLine every d while it changes.
func logStats(ctx context.Context, d time.Duration, ch *catalog.Instance, br *ffs.Bridge, p *peer.Peer) {
	t := time.NewTicker(d)
	defer t.Stop()
	last := ""
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if s := statsLine(ch, br, p); s != last {
			fmt.Printf("ffsmodel: %s\n", s)
			last = s
		}
	}
}

func fmtAddrs(m map[uint8]uint8) string {
	var keys []int
	for k := range m {
		keys = append(keys, int(k))
	}
	sort.Ints(keys)
	var s []string
	for _, k := range keys {
		s = append(s, fmt.Sprintf("%#02x→%#02x", k, m[uint8(k)]))
	}
	return strings.Join(s, " ")
}

func modprobe(m string) {
	if out, err := exec.Command("modprobe", m).CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "ffsmodel: modprobe %s: %v %s\n", m, err, out)
	}
}

// pickUDC returns want, or a dummy UDC no gadget uses, or the UDC of the
// gadget named steal after unbinding it.
func pickUDC(want, steal string) (string, error) {
	if want != "" {
		return want, nil
	}
	if ents, _ := os.ReadDir("/sys/class/udc"); len(ents) == 0 {
		modprobe("dummy_hcd")
	}
	ents, err := os.ReadDir("/sys/class/udc")
	if err != nil || len(ents) == 0 {
		return "", fmt.Errorf("no UDC in /sys/class/udc (dummy_hcd not loaded?): %v", err)
	}
	used := map[string]string{}
	gs, _ := os.ReadDir(gadgetRoot)
	for _, g := range gs {
		b, _ := os.ReadFile(filepath.Join(gadgetRoot, g.Name(), "UDC"))
		if u := strings.TrimSpace(string(b)); u != "" {
			used[u] = g.Name()
		}
	}
	for _, e := range ents {
		if _, ok := used[e.Name()]; !ok {
			return e.Name(), nil
		}
	}
	for u, g := range used {
		if g == steal {
			if err := os.WriteFile(filepath.Join(gadgetRoot, g, "UDC"), []byte("\n"), 0); err != nil {
				return "", fmt.Errorf("unbind gadget %s from %s: %w", g, u, err)
			}
			fmt.Printf("ffsmodel: no free UDC; took %s from gadget %s\n", u, g)
			return u, nil
		}
	}
	return "", fmt.Errorf("every UDC is in use (%v) and no gadget named %q to take one from", used, steal)
}

// makeGadget creates the configfs gadget: device descriptor fields and
// strings from the model, one configuration with the model's attributes,
// and the FunctionFS function.
func makeGadget(ctx context.Context, gdir, name string, dev hw.Device, dd *hw.DeviceDescriptor) error {
	if err := os.Mkdir(gdir, 0o755); err != nil {
		return fmt.Errorf("create gadget: %w", err)
	}
	cfg, err := hw.ReadConfig(ctx, dev, 0)
	if err != nil {
		return err
	}
	str := func(i uint8) string {
		if i == 0 {
			return ""
		}
		s, _ := hw.ReadString(ctx, dev, i)
		return s
	}
	bcdUSB := dd.USB
	if bcdUSB > 0x0210 {
		bcdUSB = 0x0210 // the gadget core raises it for SuperSpeed itself
	}
	w := []struct{ p, v string }{
		{"idVendor", hex16(dd.Vendor)}, {"idProduct", hex16(dd.Product)}, {"bcdDevice", hex16(dd.Device)},
		{"bcdUSB", hex16(bcdUSB)},
		{"bDeviceClass", hex8(dd.Class)}, {"bDeviceSubClass", hex8(dd.SubClass)}, {"bDeviceProtocol", hex8(dd.Protocol)},
		{"strings/0x409/manufacturer", str(dd.Manufacturer)}, {"strings/0x409/product", str(dd.ProductStr)},
		{"strings/0x409/serialnumber", str(dd.Serial)},
		{"configs/c.1/MaxPower", strconv.Itoa(int(cfg.MaxPower) * 2)},
		{"configs/c.1/bmAttributes", hex8(cfg.Attributes)},
	}
	os.MkdirAll(filepath.Join(gdir, "strings/0x409"), 0o755)
	os.MkdirAll(filepath.Join(gdir, "configs/c.1"), 0o755)
	for _, x := range w {
		if err := os.WriteFile(filepath.Join(gdir, x.p), []byte(x.v+"\n"), 0); err != nil {
			return fmt.Errorf("gadget %s = %s: %w", x.p, x.v, err)
		}
	}
	fdir := filepath.Join(gdir, "functions", "ffs."+name)
	if err := os.Mkdir(fdir, 0o755); err != nil {
		return fmt.Errorf("create function ffs.%s: %w", name, err)
	}
	return os.Symlink(fdir, filepath.Join(gdir, "configs/c.1", "ffs."+name))
}

func removeGadget(gdir, name string) {
	os.WriteFile(filepath.Join(gdir, "UDC"), []byte("\n"), 0)
	os.Remove(filepath.Join(gdir, "configs/c.1", "ffs."+name))
	os.Remove(filepath.Join(gdir, "configs/c.1"))
	os.Remove(filepath.Join(gdir, "functions", "ffs."+name))
	os.Remove(filepath.Join(gdir, "strings/0x409"))
	os.Remove(gdir)
}

func hex16(v uint16) string { return fmt.Sprintf("0x%04x", v) }
func hex8(v uint8) string   { return fmt.Sprintf("0x%02x", v) }

type hostDev struct {
	name, speed      string
	bus, dev         int
	devDesc, cfgDesc []byte
}

// waitHost waits until the host side has enumerated and configured the
// device (the function is enabled) and returns what the host read.
func waitHost(ctx context.Context, vid, pid uint16, br *ffs.Bridge) (*hostDev, error) {
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		if br.Enabled() {
			if h, ok := findHost(vid, pid); ok {
				return h, nil
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	return nil, fmt.Errorf("%04x:%04x: host side did not configure the device within 15 s", vid, pid)
}

func findHost(vid, pid uint16) (*hostDev, bool) {
	ents, _ := os.ReadDir("/sys/bus/usb/devices")
	for _, e := range ents {
		d := filepath.Join("/sys/bus/usb/devices", e.Name())
		if readHex(d, "idVendor") != int(vid) || readHex(d, "idProduct") != int(pid) {
			continue
		}
		raw, err := os.ReadFile(filepath.Join(d, "descriptors"))
		if err != nil || len(raw) < 18+9 {
			return nil, false
		}
		h := &hostDev{name: e.Name(), bus: readInt(d, "busnum"), dev: readInt(d, "devnum"), devDesc: raw[:18], cfgDesc: raw[18:]}
		if tl := int(raw[18+2]) | int(raw[18+3])<<8; tl <= len(h.cfgDesc) {
			h.cfgDesc = h.cfgDesc[:tl]
		}
		b, _ := os.ReadFile(filepath.Join(d, "speed"))
		h.speed = strings.TrimSpace(string(b))
		return h, true
	}
	return nil, false
}

func readHex(dir, f string) int {
	b, _ := os.ReadFile(filepath.Join(dir, f))
	v, err := strconv.ParseUint(strings.TrimSpace(string(b)), 16, 32)
	if err != nil {
		return -1
	}
	return int(v)
}

func readInt(dir, f string) int {
	b, _ := os.ReadFile(filepath.Join(dir, f))
	v, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return v
}

// plugGadget unbinds the gadget from its UDC (the host sees the device
// leave the bus) and waits until the host has let go of it, or binds it
// again and waits until the host has configured it anew.
func plugGadget(ctx context.Context, gdir, udc string, on bool, vid, pid uint16, br *ffs.Bridge) (*hostDev, error) {
	if !on {
		if err := os.WriteFile(filepath.Join(gdir, "UDC"), []byte("\n"), 0); err != nil {
			return nil, fmt.Errorf("unplug: unbind from %s: %w", udc, err)
		}
		deadline := time.Now().Add(10 * time.Second)
		for time.Now().Before(deadline) {
			if _, there := findHost(vid, pid); !there {
				return nil, nil
			}
			time.Sleep(20 * time.Millisecond)
		}
		return nil, fmt.Errorf("unplug: %04x:%04x still on the host bus 10 s after unbinding", vid, pid)
	}
	if err := os.WriteFile(filepath.Join(gdir, "UDC"), []byte(udc), 0); err != nil {
		return nil, fmt.Errorf("replug: bind to %s: %w", udc, err)
	}
	h, err := waitHost(ctx, vid, pid, br)
	if err != nil {
		return nil, fmt.Errorf("replug: %w", err)
	}
	return h, nil
}

// linkControl reads "down"/"up" lines from a FIFO.
func linkControl(ctx context.Context, path string, link func(bool)) {
	os.Remove(path)
	if err := unix.Mkfifo(path, 0o666); err != nil {
		fmt.Fprintf(os.Stderr, "ffsmodel: mkfifo %s: %v\n", path, err)
		return
	}
	for ctx.Err() == nil {
		f, err := os.Open(path) // blocks until a writer opens it
		if err != nil {
			return
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			switch strings.TrimSpace(sc.Text()) {
			case "down":
				link(false)
				fmt.Println("ffsmodel: cable unplugged")
			case "up":
				link(true)
				fmt.Println("ffsmodel: cable plugged")
			}
		}
		f.Close()
	}
}

func writeCapture(path string, c *ffs.Capture) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := c.WriteTo(f); err != nil {
		f.Close()
		return fmt.Errorf("capture %s: %w", path, err)
	}
	fmt.Printf("ffsmodel: capture %s: %d records\n", path, len(c.Records()))
	return f.Close()
}

// writeRequests writes one line per request: "setup data [STALL]", setup as
// hw.Setup prints it, data in hex.
func writeRequests(path string, reqs []catalog.Request) error {
	var b strings.Builder
	for _, r := range reqs {
		fmt.Fprintf(&b, "%s %s", r.Setup, hex.EncodeToString(r.Data))
		if r.Stalled {
			b.WriteString(" STALL")
		}
		b.WriteByte('\n')
	}
	fmt.Printf("ffsmodel: %d control requests logged to %s\n", len(reqs), path)
	return os.WriteFile(path, []byte(b.String()), 0o644)
}
