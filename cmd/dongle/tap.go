package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"dongle/cmd/dongle/internal/target"
	"dongle/cmd/internal/gcpace"
	"dongle/hw/sim/ifwire"
	"dongle/netdev"
	"dongle/netdev/tap"
	"dongle/usbnet"
	"dongle/usbnet/catalog"
)

func init() {
	register("tap", "the adapter on the host's network: a TAP interface through dongle's driver", runTap)
}

// errNoWire: a device model has no cable unless --wire gives it one.
var errNoWire = errors.New("a device model's wire needs --wire IFACE: the host interface that is its cable (one end of a veth pair)")

// errAdapterGone: the adapter was unplugged while the TAP carried it.
var errAdapterGone = errors.New("the adapter is gone (unplugged)")

// errWireOnAdapter: --wire names a model's cable; a real adapter has its
// own.
var errWireOnAdapter = errors.New("--wire is for device models: a real adapter has its own cable")

// tapConfig is what `dongle tap` was asked for.
type tapConfig struct {
	sel    string
	driver string
	wire   string
	opts   tap.Options
	stats  time.Duration // a counters line this often (0: at the end only)
	ready  string        // file to write the TAP's name to once it is up
}

func runTap(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("tap", stderr)
	var c tapConfig
	fs.StringVar(&c.opts.Name, "name", "dongle%d", "the TAP interface's name (%d: the first free number)")
	fs.StringVar(&c.driver, "driver", "", "bind only this driver ("+catalog.Names()+") (env "+catalog.DriverEnv+")")
	fs.StringVar(&c.wire, "wire", "", "for a device model (sim:...): the host interface that is its cable")
	fs.BoolVar(&c.opts.Up, "up", true, "bring the TAP up")
	fs.BoolVar(&c.opts.NoIPv6, "no-ipv6", false, "keep the host's IPv6 off the TAP (no router solicitations or MLD of its own)")
	fs.DurationVar(&c.stats, "stats", 0, "print the counters every D (0: once, at the end)")
	fs.StringVar(&c.ready, "ready", "", "write the TAP's name to FILE once it carries traffic (for scripts)")
	duration := fs.Duration("duration", 0, "stop after D (0: on SIGINT or SIGTERM)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: dongle tap [flags] [ADAPTER]   (ADAPTER: usb, usb:VID:PID, usb:BUS.ADDR, or sim:MODEL with --wire)")
		fs.PrintDefaults()
	}
	pos, err := parse(fs, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	switch len(pos) {
	case 0:
		c.sel = "usb"
	case 1:
		c.sel = pos[0]
	default:
		fmt.Fprintln(stderr, "dongle tap: want at most one ADAPTER")
		return 2
	}
	if !target.IsSelector(c.sel) {
		fmt.Fprintf(stderr, "dongle tap: %q is not an adapter (a trace has no wire to put on the network)\n", c.sel)
		return 2
	}
	c.driver = driverChoice(c.driver)
	gcpace.Set() // frames at line rate for as long as it runs
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// After the first signal, a second one ends the process even if the
	// teardown hangs (a wedged adapter).
	context.AfterFunc(ctx, stop)
	if *duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, *duration)
		defer cancel()
	}
	if err := runTapSession(ctx, c, stdout); err != nil {
		return fail(stderr, "tap", err)
	}
	return 0
}

// runTapSession opens the adapter, binds its driver, joins its netdev to a
// TAP and carries traffic until ctx ends or the adapter goes; then it
// takes everything down, in the reverse order, and prints the counters.
func runTapSession(ctx context.Context, c tapConfig, stdout io.Writer) (err error) {
	// Before an adapter is taken from its kernel driver: can a TAP be
	// made at all (root, the name free)?
	if err := tap.Check(c.opts.Name); err != nil {
		return err
	}
	t, err := openTarget(c.sel)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, t.Close()) }()
	if c.driver != "" {
		if t.Drivers, err = catalog.Drivers(c.driver, t.Kind != target.USB); err != nil {
			return err
		}
	}
	switch {
	case t.Kind == target.Sim && c.wire == "":
		return fmt.Errorf("%s: %w", c.sel, errNoWire)
	case t.Kind == target.Sim:
		cable, werr := ifwire.Open(t.Peer, c.wire, t.Link)
		if werr != nil {
			return fmt.Errorf("%s: its wire: %w", c.sel, werr)
		}
		defer func() { err = errors.Join(err, cable.Close()) }()
		cable.SetHold(t.Model.Paused) // the partner obeys the model's PAUSE
	case c.wire != "":
		return fmt.Errorf("%s: %w", c.sel, errWireOnAdapter)
	}
	d, err := usbnet.Probe(t.HW, t.Drivers...)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, d.Disconnect()) }()
	// The last counters line comes once the TAP and the interface are
	// down, so that it holds the frames that were still in flight.
	var br *tap.Bridge
	defer func() {
		if br != nil {
			printTapStats(stdout, br, d.Net, t.Model)
		}
	}()
	if err := d.Net.Open(); err != nil {
		return err
	}
	defer func() { err = errors.Join(err, d.Net.Close()) }()
	if br, err = tap.Open(d.Net, c.opts); err != nil {
		return err
	}
	defer func() { err = errors.Join(err, br.Close()) }()
	link := "no carrier"
	if d.Net.Carrier() {
		link = "carrier"
	}
	fmt.Fprintf(stdout, "tap %s: %s (%s, %s), MAC %s, MTU %d, %s\n", br.Name(), c.sel, d.Driver.Name(), d.Name(), d.Net.HardwareAddr(), d.Net.MTU(), link)
	if c.ready != "" {
		if err := os.WriteFile(c.ready, []byte(br.Name()+"\n"), 0o644); err != nil {
			return fmt.Errorf("--ready: %w", err)
		}
	}
	var tick <-chan time.Time
	if c.stats > 0 {
		tk := time.NewTicker(c.stats)
		defer tk.Stop()
		tick = tk.C
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-br.Done(): // the TAP was deleted under it
			return br.Err()
		case <-d.Gone():
			return fmt.Errorf("tap %s: %s: %w", br.Name(), c.sel, errAdapterGone)
		case <-tick:
			printTapStats(stdout, br, d.Net, t.Model)
		}
	}
}

// printTapStats prints the bridge's counters beside the driver's: each
// frame the host sent is one FromTAP, then one tx_packets (or tx_errors,
// tx_dropped) at the driver; and, for a device model, the frames from the
// wire it dropped for want of room toward the host.
func printTapStats(w io.Writer, br *tap.Bridge, nd *netdev.Device, model *catalog.Instance) {
	b, s := br.Stats(), nd.Stats()
	fmt.Fprintf(w, "tap %s: host→adapter %d (refused %d, malformed %d); adapter→host %d (refused by the TAP %d) | driver tx_packets %d tx_errors %d tx_dropped %d rx_packets %d rx_errors %d rx_dropped %d\n",
		br.Name(), b.FromTAP, b.FromTAPDropped, b.FromTAPBad, b.ToTAP, b.ToTAPErrors,
		s.TxPackets.Load(), s.TxErrors.Load(), s.TxDropped.Load(), s.RxPackets.Load(), s.RxErrors.Load(), s.RxDropped.Load())
	if model != nil {
		fmt.Fprintf(w, "tap %s: the model dropped %d frames from the wire (no room toward the host)\n", br.Name(), model.RxOverflow())
	}
	if err := br.CarrierErr(); err != nil {
		fmt.Fprintf(w, "tap %s: the TAP's carrier could not follow the link: %v\n", br.Name(), err)
	}
}
