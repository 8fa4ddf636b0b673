package gousb

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"dongle/hw"
)

// Context is an open libusb context: it enumerates and opens devices. It is
// gousb.Context plus a sysfs reader.
type Context struct {
	lib   lib
	sysfs sysfs

	mu     sync.Mutex
	open   map[*Device]bool
	closed bool
}

// Open initialises libusb. It fails (instead of panicking as
// gousb.NewContext does) where libusb cannot start, e.g. without usbfs.
func Open() (*Context, error) {
	l, err := newRealLib()
	if err != nil {
		return nil, wrapHint("libusb", err, "is /dev/bus/usb present (a container without USB passed through has none)?")
	}
	return newContext(l, SysfsRoot), nil
}

func newContext(l lib, sysfsRoot string) *Context {
	return &Context{lib: l, sysfs: sysfs{root: sysfsRoot, vhciState: VHCIStateDir}, open: make(map[*Device]bool)}
}

// Close releases libusb. It fails with ErrBusy, closing nothing, while a
// Device is open.
func (c *Context) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return hw.Errorf("usb context", hw.ErrClosed)
	}
	if len(c.open) > 0 {
		var names []string
		for d := range c.open {
			names = append(names, d.info.Name())
		}
		slices.Sort(names)
		return hw.Errorf("usb context", fmt.Errorf("%w: devices still open: %s", hw.ErrBusy, strings.Join(names, ", ")))
	}
	c.closed = true
	return wrap("usb context", c.lib.close())
}

// List enumerates the devices on the host without opening any, and returns
// those match accepts (all when match is nil), ordered by bus and address.
// Root hubs are never returned.
//
// It lists what libusb's context knows: the devices there were at Open,
// less those it saw go, plus those its hotplug monitor reported since.
// libusb (built with udev, as Debian's is) hears of new devices only from
// udevd; where none runs (the virtual lab), a device plugged in after Open,
// a replugged one included, is listed only by a Context opened after it.
func (c *Context) List(match func(Candidate) bool) ([]Candidate, error) {
	all, err := c.all()
	if err != nil {
		return nil, err
	}
	if match == nil {
		return all, nil
	}
	var out []Candidate
	for _, d := range all {
		if match(d) {
			out = append(out, d)
		}
	}
	return out, nil
}

func (c *Context) all() ([]Candidate, error) {
	c.mu.Lock()
	closed := c.closed
	c.mu.Unlock()
	if closed {
		return nil, hw.Errorf("usb context", hw.ErrClosed)
	}
	devs, err := c.lib.devices()
	if err != nil {
		return nil, wrap("enumerating USB devices", err)
	}
	var out []Candidate
	for _, d := range devs {
		if len(d.Path) == 0 {
			continue // root hub
		}
		out = append(out, c.candidate(d))
	}
	slices.SortFunc(out, func(a, b Candidate) int {
		return cmp.Or(cmp.Compare(a.Bus, b.Bus), cmp.Compare(a.Address, b.Address))
	})
	return out, nil
}

func (c *Context) candidate(d devInfo) Candidate {
	port := portPath(d.Bus, d.Path)
	cd := Candidate{
		Info: hw.Info{Bus: d.Bus, Address: d.Address, Port: port, Vendor: d.Vendor, Product: d.Product,
			Speed: d.Speed, Serial: c.sysfs.serial(port), Backend: "usb"},
		Class: d.Class, SubClass: d.SubClass, Protocol: d.Protocol,
		ActiveConfig: c.sysfs.activeConfig(port),
		USBIP:        c.sysfs.usbip(port),
	}
	for _, cfg := range d.Configs {
		for _, i := range cfg.Interfaces {
			f := Iface{Config: cfg.Value, Number: i.Number, Alt: i.Alt, Class: i.Class, SubClass: i.SubClass, Protocol: i.Protocol}
			if cfg.Value == cd.ActiveConfig {
				f.Driver = c.sysfs.driver(port, cfg.Value, i.Number)
			}
			cd.Interfaces = append(cd.Interfaces, f)
		}
	}
	return cd
}

// Options tune an open Device. The zero value means the defaults.
type Options struct {
	// Workers is how many transfers each endpoint keeps submitted to the
	// OS at once (DefaultWorkers if 0): persistent libusb transfers, or
	// with Sync worker goroutines. More are queued in the endpoint.
	Workers int
	// Sync selects the older transfer path: gousb's synchronous
	// ReadContext/WriteContext on Workers goroutines per endpoint, which
	// allocates a transfer and a buffer per call (see Endpoint). The
	// default path submits persistent asynchronous libusb transfers.
	Sync bool
	// ControlTimeout bounds each control transfer (DefaultControlTimeout
	// if 0); a context deadline that is sooner wins.
	ControlTimeout time.Duration
}

const (
	// DefaultWorkers is 128 transfers per endpoint at the OS, so that
	// hw/gousb is not what bounds a driver's queue depth (usbnet's
	// RX_QLEN/TX_QLEN are). On the default (asynchronous) path more in
	// flight keeps paying off in the virtual lab, where every wake-up and
	// syscall is emulated and depth turns into batching at each stage:
	// usb-net TX, 1514-byte frames, one VM run: 8 → 3,637 frames/s, 16 →
	// 4,778, 32 with usbnet TxURBs 32 → 5,720; later, 32/32 → 8,305 and
	// 6,515 vs 128/128 → 9,709 and 9,395 (same run). RX (host peer
	// blasting, one run): RxURBs 8 → 1,248 and 1,590 frames/s, 32 → 3,906
	// and 2,804, 64 → 5,027, 128 with Workers 128 → 6,578 and 6,638. An
	// idle persistent transfer costs only its C buffer (2 KiB until a
	// larger transfer grows it). (With Sync, 8 workers gave ~3x one, and
	// more did not help.)
	DefaultWorkers = 128
	// DefaultControlTimeout is Linux's USB_CTRL_GET_TIMEOUT (5 s).
	DefaultControlTimeout = 5 * time.Second
)

// OpenDevice opens the device sel names. With ByID the first match (lowest
// bus, then address) is opened. When nothing matches, the error
// (ErrNotFound) lists every device that was found instead.
func (c *Context) OpenDevice(sel Selector, opts *Options) (*Device, error) {
	cd, err := c.Find(sel, nil)
	if err != nil {
		return nil, err
	}
	return c.openCandidate(cd, opts)
}

// OpenFirst opens the first device (by bus and address) that match accepts.
func (c *Context) OpenFirst(match func(Candidate) bool, opts *Options) (*Device, error) {
	cd, err := c.Find(Selector{}, match)
	if err != nil {
		return nil, err
	}
	return c.openCandidate(cd, opts)
}

// Find is the device OpenDevice(sel) or OpenFirst(match) opens, found the
// same way but left closed: the first (by bus and address) that sel names,
// when sel is set (a zero Selector names none and is ignored), and that
// match accepts (any when nil). A BySerial selector reads the serial from a
// device whose sysfs entry has none, which opens that device briefly. When
// nothing matches, the error (ErrNotFound, a *NotFoundError) lists every
// device that was found instead.
//
// OpenDevice, OpenFirst and whoever needs to know ahead of time which
// device they will open share this one choice, so they cannot disagree.
//
// A device exported over USB/IP (bound to usbip-host) is never chosen: it
// belongs to the remote host that attaches it, and keeps its VID:PID here,
// so "1209:0001" would otherwise find it besides the same device attached
// through vhci_hcd. When only such devices match, the error wraps
// ErrExported.
func (c *Context) Find(sel Selector, match func(Candidate) bool) (Candidate, error) {
	all, err := c.all()
	if err != nil {
		return Candidate{}, err
	}
	var exported, busIDs []string
	for _, cd := range all {
		if cd.USBIP.Role == Exported {
			if (sel.Kind == 0 || sel.MatchCandidate(cd)) && (match == nil || match(cd)) {
				exported = append(exported, cd.Info.Name()+" at "+cd.Port)
				busIDs = append(busIDs, cd.Port)
			}
			continue
		}
		if sel.Kind == BySerial && cd.Serial == "" {
			// no sysfs serial: ask the device (needs opening it)
			if s, ok := c.readSerial(cd); ok {
				cd.Serial = s
			}
		}
		if (sel.Kind == 0 || sel.MatchCandidate(cd)) && (match == nil || match(cd)) {
			return cd, nil
		}
	}
	if len(exported) > 0 {
		return Candidate{}, fmt.Errorf("%s: %w: it is the remote host's that attaches it; use it there, or take it back here with `usbip unbind -b %s`",
			strings.Join(exported, ", "), ErrExported, strings.Join(busIDs, "` / `usbip unbind -b "))
	}
	if sel.Kind != 0 {
		return Candidate{}, notFound("no USB device matches "+sel.String(), all)
	}
	return Candidate{}, notFound("no matching USB device", all)
}

// NotFoundError is returned when no device matches; it lists what was found.
type NotFoundError struct {
	What  string
	Found []Candidate
}

func (e *NotFoundError) Error() string {
	if len(e.Found) == 0 {
		return e.What + ": no USB devices found (is the adapter plugged in, and /dev/bus/usb visible?)"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s; found %d device(s):", e.What, len(e.Found))
	for _, d := range e.Found {
		b.WriteString("\n\t" + d.String())
	}
	return b.String()
}

func (e *NotFoundError) Unwrap() error { return hw.ErrNotFound }

func notFound(what string, found []Candidate) error {
	return &NotFoundError{What: what, Found: found}
}

func (c *Context) readSerial(cd Candidate) (string, bool) {
	h, err := c.lib.open(cd.Bus, cd.Address)
	if err != nil {
		return "", false
	}
	defer h.close()
	s, err := h.serial()
	return s, err == nil
}

func (c *Context) openCandidate(cd Candidate, opts *Options) (*Device, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Workers <= 0 {
		o.Workers = DefaultWorkers
	}
	if o.ControlTimeout <= 0 {
		o.ControlTimeout = DefaultControlTimeout
	}
	h, err := c.lib.open(cd.Bus, cd.Address)
	if err != nil {
		return nil, wrapHint("open "+cd.Info.Name(), err, openHint(cd.Info, Errno(err)))
	}
	info := cd.Info
	if info.Serial == "" {
		if s, err := h.serial(); err == nil {
			info.Serial = s
		}
	}
	d := &Device{ctx: c, h: h, info: info, name: info.Name(), opts: o,
		claimed: make(map[int]int), eps: make(map[uint8]*Endpoint)}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		h.close()
		return nil, hw.Errorf("usb context", hw.ErrClosed)
	}
	c.open[d] = true
	return d, nil
}

func (c *Context) forget(d *Device) {
	c.mu.Lock()
	delete(c.open, d)
	c.mu.Unlock()
}

// ErrExported: the only devices that matched are exported over USB/IP
// (bound to usbip-host), which this host must not open. It wraps
// hw.ErrNotFound.
var ErrExported = fmt.Errorf("%w: exported over USB/IP (bound to %s)", hw.ErrNotFound, USBIPHostDriver)

var errNoConfig = errors.New("device is unconfigured (configuration 0)")
