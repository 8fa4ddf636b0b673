package specs

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"slices"
	"strings"

	"dongle/hw"
	"dongle/hw/gousb"
	"dongle/hw/vmlab/guest"
	"dongle/usbnet/catalog"
)

// usbBackend is a real adapter through libusb (hw/gousb): one plugged into
// this machine, or QEMU's usb-net and the kernel's ECM gadget inside the
// virtual lab, which reach the same backend through the real kernel USB
// stack.
//
// What stands on the far side of the wire is not the spec's to know, so it
// is described by the flags and the environment:
//
//	--peer=SPEC, DONGLE_PEER=SPEC
//	                             the wire-side peer (peer.go): echo (every frame
//	                             the adapter sends comes back), iface:NAME (a
//	                             host interface cabled to the adapter), ...
//	DONGLE_LINK_CMD="ip link set usb0 %s"
//	                             a command taking the far side down/up (%s is "down"
//	                             or "up"), for a peer that cannot do it itself
//	--driver=NAME, DONGLE_DRIVER=NAME
//	                             bind only that driver (catalog name or alias):
//	                             cdc_ether on a Realtek adapter's ECM configuration
//	DONGLE_EXPECT_MAC=...        the adapter's MAC, when the spec should check it
//	DONGLE_EXPECT_SPEED=super    the USB speed it must enumerate at (full, high,
//	                             super, super+), and so its bulk wMaxPacketSize
//	                             (64, 512, 1024, 1024)
//	DONGLE_EXPECT_USBIP=HOST/BUSID
//	                             the adapter must be the one attached through
//	                             vhci_hcd from HOST's BUSID (usbip attach -r HOST
//	                             -b BUSID); every spec's Open fails otherwise
type usbBackend struct {
	sel    string // "" = the first network adapter found
	expect Expectations
	lab    bool // one of the virtual lab's devices, and running inside the lab (CapLab)
	// peer is the far side's scheme (zero: none) and peerArg its argument.
	peer    PeerScheme
	peerArg string
	// faults is the source of real faults (faults.go), if hasFaults.
	faults    FaultScheme
	faultArg  string
	hasFaults bool
	// usbip is DONGLE_EXPECT_USBIP ("" for none).
	usbip string
}

// USBBackend parses "usb", "usb:VID:PID", "usb:BUS.ADDR", "usb:serial=..." .
func USBBackend(name string) (Backend, error) {
	sel := strings.TrimPrefix(strings.TrimPrefix(name, "usb"), ":")
	e := Expectations{RxFrames: -1}
	if sel != "" {
		s, err := gousb.ParseSelector(sel)
		if err != nil {
			return nil, fmt.Errorf("backend %q: %w", name, err)
		}
		if s.Kind == gousb.ByID {
			// A VID:PID one minidriver claims by ID names its driver, and
			// so its framing header: the size-edge specs then hit the
			// transfers that are exact multiples of wMaxPacketSize.
			e.Driver = catalog.ByID(s.Vendor, s.Product)
		}
	}
	if forced := DriverSelection(); forced != "" {
		// The forced driver is the one that must bind.
		if ent, ok := catalog.Lookup(forced); ok {
			e.Driver = ent.Name
		}
	}
	if m := os.Getenv("DONGLE_EXPECT_MAC"); m != "" {
		a, err := net.ParseMAC(m)
		if err != nil {
			return nil, fmt.Errorf("DONGLE_EXPECT_MAC: %w", err)
		}
		e.MAC = a
	}
	if v := os.Getenv("DONGLE_EXPECT_SPEED"); v != "" {
		sp, mps, ok := speedByName(v)
		if !ok {
			return nil, fmt.Errorf("DONGLE_EXPECT_SPEED=%q: not full, high, super or super+", v)
		}
		e.USBSpeed, e.MaxPacket = sp, mps
	}
	var peer PeerScheme
	var peerArg string
	if spec := PeerSelection(); spec != "" {
		var err error
		if peer, peerArg, err = ParsePeer(spec); err != nil {
			return nil, fmt.Errorf("backend %q: %w", name, err)
		}
	}
	lab := guest.InLab() && labDevice(sel) != nil
	if !lab && (e.Driver == "" || e.USBSpeed == hw.SpeedUnknown) {
		if cd, ok := enumerate(sel); ok {
			fillFromCandidate(&e, cd)
		}
	}
	if lab {
		e = labDevice(sel).expect(e)
	}
	switch {
	case lab && sel == usbNetSel:
		// Whatever DONGLE_LINK_CMD says: the device itself cannot report
		// a link change, so a spec asking for one must skip, not pass.
		e.NoLinkControl = guest.ErrNoLinkChange.Error()
	case peer.Link:
		// The peer takes its own end of the cable down.
	case os.Getenv("DONGLE_LINK_CMD") == "":
		e.NoLinkControl = "no DONGLE_LINK_CMD and no --peer that can take the far side of a real adapter's link down (--peer=iface:NAME can)"
	}
	faults, faultArg, hasFaults, err := selectFaults(peer.Name, peerArg)
	if err != nil {
		return nil, fmt.Errorf("backend %q: %w", name, err)
	}
	usbip := strings.TrimSpace(os.Getenv("DONGLE_EXPECT_USBIP"))
	if h, bus, ok := strings.Cut(usbip, "/"); usbip != "" && (!ok || h == "" || bus == "") {
		return nil, fmt.Errorf("DONGLE_EXPECT_USBIP=%q: want HOST/BUSID, as usbip attach -r HOST -b BUSID", usbip)
	}
	return &usbBackend{sel: sel, expect: e, lab: lab, peer: peer, peerArg: peerArg, faults: faults, faultArg: faultArg, hasFaults: hasFaults, usbip: usbip}, nil
}

func (b *usbBackend) Name() string {
	if b.sel == "" {
		return "usb"
	}
	return "usb:" + b.sel
}

func (b *usbBackend) Expect() Expectations { return b.expect }

func (b *usbBackend) Caps() []Cap {
	c := []Cap{CapLive}
	if b.peer.Echo {
		c = append(c, CapEcho)
	}
	if b.peer.Open != nil {
		c = append(c, CapPeer)
	}
	if b.expect.NoLinkControl == "" {
		c = append(c, CapLinkControl)
	}
	if b.lab {
		c = append(c, CapLab)
	}
	return append(c, b.faultCaps()...)
}

func (b *usbBackend) Why(c Cap) string {
	switch c {
	case CapEcho:
		if b.peer.Open != nil {
			return fmt.Sprintf("the far side (--peer=%s) is a peer the spec drives, not a reflector (specs with a peer check both directions instead)", b.peer.Name)
		}
		return "no echo peer on the far side of this adapter (set --peer=echo or DONGLE_PEER=echo when one is there)"
	case CapPeer:
		return "the far side of a real adapter is not under the spec's control: set --peer=iface:NAME (or DONGLE_PEER) to the host interface cabled to it"
	case CapFaults, CapStallIn, CapStallOut, CapTimeout, CapUnplug:
		return b.faultWhy(c)
	case CapLinkControl:
		return b.expect.NoLinkControl
	case CapLab:
		return "not one of the virtual lab's devices (usb:0525:a4a2, usb:1209:0001) inside the lab VM (go test -exec .lab/labexec)"
	}
	return "not a recording"
}

// enumerate is the enumeration USBBackend consults; a variable so that
// tests of USBBackend do not depend on the devices plugged into the host.
var enumerate = enumerated

// enumerated is the adapter Open will take (the first network adapter, or
// the one sel names), as enumeration sees it without opening it; false when
// libusb is unavailable or nothing matches (Open then says why). It asks
// gousb.Context.Find, which OpenFirst and OpenDevice use too, so it names
// the device Open opens (a serial= selector included, read from the device
// when sysfs has none).
func enumerated(sel string) (gousb.Candidate, bool) {
	s, match, err := selection(sel)
	if err != nil {
		return gousb.Candidate{}, false
	}
	c, err := gousb.Open()
	if err != nil {
		return gousb.Candidate{}, false
	}
	defer c.Close()
	cd, err := c.Find(s, match)
	return cd, err == nil
}

// selection is what Open picks a device by: the first network adapter a
// minidriver or class driver takes when sel is empty, else the device sel
// names, whatever it is.
func selection(sel string) (gousb.Selector, func(gousb.Candidate) bool, error) {
	if sel == "" {
		return gousb.Selector{}, isAdapter, nil
	}
	s, err := gousb.ParseSelector(sel)
	return s, nil, err
}

// isAdapter is the enumeration filter: what a catalog driver binds, or
// refuses by name (catalog.IsAdapter).
func isAdapter(c gousb.Candidate) bool {
	dd, cfgs := c.Descriptors()
	return catalog.IsAdapter(dd, cfgs, c.ActiveConfig)
}

// fillFromCandidate completes what the environment left open from the
// adapter's enumeration: its driver (the one Probe would bind, by
// catalog.Classify) and its speed, which fixes the bulk wMaxPacketSize.
// The size-edge specs need both to hit the transfers that are exact
// multiples of wMaxPacketSize; the bind specs then check the driver and
// the descriptors against them.
func fillFromCandidate(e *Expectations, cd gousb.Candidate) {
	if e.Driver == "" {
		dd, cfgs := cd.Descriptors()
		if b, err := catalog.Classify(cd.Info.Name(), dd, cfgs, cd.ActiveConfig); err == nil {
			e.Driver = b.Driver.Name()
		} else {
			// Enumeration saw no interface a driver matches (it may not
			// have read them): a VID:PID claimed by ID still names one.
			e.Driver = catalog.ByID(cd.Vendor, cd.Product)
		}
	}
	if e.USBSpeed == hw.SpeedUnknown {
		if mps := bulkMaxPacket(cd.Speed); mps != 0 {
			e.USBSpeed, e.MaxPacket = cd.Speed, mps
		}
	}
}

func (b *usbBackend) Open(ctx context.Context) (*Target, error) {
	c, err := gousb.Open()
	if err != nil {
		return nil, err
	}
	var dev *gousb.Device
	sel, match, err := selection(b.sel) // parsed once already by USBBackend
	switch {
	case err != nil:
	case match != nil:
		dev, err = c.OpenFirst(match, nil)
	default:
		dev, err = c.OpenDevice(sel, nil)
	}
	if err != nil {
		c.Close()
		return nil, err
	}
	info := dev.Info()
	if err := checkUSBIP(func() ([]gousb.Candidate, error) { return c.List(nil) }, info, b.usbip); err != nil {
		dev.Close()
		c.Close()
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	before := kernelDrivers(c, info)
	link := usbipLink(c, info)
	var peer PeerConn
	if b.peer.Open != nil {
		if peer, err = b.peer.Open(ctx, b.peerArg); err != nil {
			dev.Close()
			c.Close()
			return nil, fmt.Errorf("%s: %w", b.Name(), err)
		}
	}
	fc, err := b.openFaults(ctx, peer)
	if err != nil {
		if peer != nil {
			peer.Close()
		}
		dev.Close()
		c.Close()
		return nil, err
	}
	var faults *unplugWatch
	if fc != nil {
		faults = &unplugWatch{FaultConn: fc}
	}
	t := &Target{HW: dev}
	t.Close = func() error {
		err := dev.Close()
		if isAlreadyClosed(err) {
			// The harness's recorder closed the device first (releasing
			// its interfaces, which reattaches the kernel drivers): what
			// is left to check below still applies.
			err = nil
		}
		if faults != nil {
			// A device the spec unplugged is plugged back in and must come
			// back as found (at a new address), before the next spec looks
			// for it.
			if rerr := faults.Restore(); rerr != nil {
				err = errors.Join(err, rerr)
			} else {
				err = errors.Join(err, driversBack(listNow, info, link, before, faults.unplugged.Load(), replugWait))
			}
			err = errors.Join(err, faults.Close())
		} else if err == nil {
			// The adapter must be left as found: the kernel driver that held
			// it before is bound again.
			if after := kernelDrivers(c, info); !slices.Equal(before, after) {
				err = fmt.Errorf("%s: kernel drivers were %v before the spec and %v after", info.Name(), before, after)
			}
		}
		c.Close()
		if peer != nil {
			err = errors.Join(err, peer.Close())
		}
		return err
	}
	if faults != nil {
		t.Faults = faults
	}
	if peer != nil {
		t.Peer = peer
		if l, ok := peer.(PeerLink); ok && b.peer.Link {
			t.Link = l.SetLink
			return t, nil
		}
	}
	if cmd := os.Getenv("DONGLE_LINK_CMD"); cmd != "" {
		t.Link = func(up bool) error {
			state := "down"
			if up {
				state = "up"
			}
			out, err := exec.Command("sh", "-c", fmt.Sprintf(cmd, state)).CombinedOutput()
			if err != nil {
				return fmt.Errorf("DONGLE_LINK_CMD %q: %w: %s", fmt.Sprintf(cmd, state), err, out)
			}
			return nil
		}
	}
	return t, nil
}

// ErrNotUSBIP: DONGLE_EXPECT_USBIP named a USB/IP attachment and the
// adapter opened is not it.
var ErrNotUSBIP = errors.New("not the adapter attached over USB/IP")

// checkUSBIP fails unless want is "" or the device at info, as list
// shows it, is attached through vhci_hcd from want's HOST/BUSID, as usbip
// attach recorded it.
func checkUSBIP(list func() ([]gousb.Candidate, error), info hw.Info, want string) error {
	if want == "" {
		return nil
	}
	all, err := list()
	if err != nil {
		return fmt.Errorf("%s: %w %s: %w", info.Name(), ErrNotUSBIP, want, err)
	}
	i := slices.IndexFunc(all, func(x gousb.Candidate) bool { return x.Bus == info.Bus && x.Address == info.Address })
	if i < 0 {
		return fmt.Errorf("%s: %w %s: no longer listed", info.Name(), ErrNotUSBIP, want)
	}
	u := all[i].USBIP
	if u.Role != gousb.Imported || u.Host+"/"+u.BusID != want {
		got := u.String()
		if got == "" {
			got = "a device on a local host controller"
		}
		return fmt.Errorf("%s (%s): %w %s: it is %s", info.Name(), info.Port, ErrNotUSBIP, want, got)
	}
	return nil
}

// usbipLink is the device's USB/IP link as enumeration sees it (zero when
// local or no longer listed).
func usbipLink(c *gousb.Context, info hw.Info) gousb.USBIP {
	list, err := c.List(func(x gousb.Candidate) bool { return x.Bus == info.Bus && x.Address == info.Address })
	if err != nil || len(list) == 0 {
		return gousb.USBIP{}
	}
	return list[0].USBIP
}

// kernelDrivers lists the kernel drivers bound to the device's interfaces.
func kernelDrivers(c *gousb.Context, info hw.Info) []string {
	list, err := c.List(func(x gousb.Candidate) bool { return x.Bus == info.Bus && x.Address == info.Address })
	if err != nil || len(list) == 0 {
		return nil
	}
	return list[0].Drivers()
}

// bulkMaxPacket is the bulk wMaxPacketSize a device that enumerated at sp
// has (USB 2.0 5.8.3, USB 3.2 9.6.7): 64 at full speed, 512 at high speed,
// 1024 at SuperSpeed and SuperSpeed+; 0 where bulk endpoints do not exist
// (low speed) or the speed is unknown.
func bulkMaxPacket(sp hw.Speed) int {
	switch sp {
	case hw.SpeedFull:
		return 64
	case hw.SpeedHigh:
		return 512
	case hw.SpeedSuper, hw.SpeedSuperPlus:
		return 1024
	}
	return 0
}

// speedByName parses DONGLE_EXPECT_SPEED: a USB speed by the name hw.Speed
// prints ("full", "high", "super", "super+"), with its bulk wMaxPacketSize.
func speedByName(name string) (hw.Speed, int, bool) {
	for _, sp := range []hw.Speed{hw.SpeedFull, hw.SpeedHigh, hw.SpeedSuper, hw.SpeedSuperPlus} {
		if sp.String() == name {
			return sp, bulkMaxPacket(sp), true
		}
	}
	return hw.SpeedUnknown, 0, false
}
