// Package target opens what a dongle command names on its command line: a
// real adapter (usb, usb:VID:PID, usb:BUS.ADDR), a device model with an
// Ethernet wire (any of the catalog's selectors: sim:ecm, sim:ax88772, ...),
// or a trace file, which becomes a replayed device (hw/replay decides
// strict or model replay).
package target

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"dongle/hw"
	usbhw "dongle/hw/gousb"
	"dongle/hw/replay"
	"dongle/hw/sim"
	"dongle/usbnet"
	"dongle/usbnet/catalog"
	"dongle/usbnet/decode"
)

// Kind says what stands behind a Target.
type Kind int

const (
	USB   Kind = iota + 1 // a real adapter through libusb
	Sim                   // a device model
	Trace                 // a replayed capture
)

// Target is an opened device.
type Target struct {
	Kind Kind
	Name string // as the user named it, for messages
	HW   hw.Device
	// Peer is the far end of a model's Ethernet wire (nil for USB and
	// traces): attach a sim.Loopback or a sim.Capture to it.
	Peer *sim.End
	// Link sets a model's link partner present or not, as its cable's
	// far end does (nil for USB and traces).
	Link func(up bool)
	// Model is a device model's instance (nil for USB and traces): its
	// counters.
	Model *catalog.Instance
	// Drivers are the minidrivers to probe with (models and traces answer
	// at once, so they get catalog.ForModels()).
	Drivers []usbnet.Minidriver
	// Replay is the model replay behind a trace target (nil for strict).
	Replay *replay.Model
	// Strict is the strict replay behind a trace dongle recorded.
	Strict *replay.Strict
	// Log collects the replay's messages (unmatched requests, OUT diffs).
	Log []string
	// USBIP is a USB target's USB/IP link: Imported when it sits behind
	// vhci_hcd (a remote host's adapter), with the host where the usbip
	// tools recorded it.
	USBIP usbhw.USBIP

	closers []func() error
}

// Close closes the device and whatever Open made for it.
func (t *Target) Close() error {
	var errs []error
	for i := len(t.closers) - 1; i >= 0; i-- {
		if err := t.closers[i](); err != nil {
			errs = append(errs, err)
		}
	}
	t.closers = nil
	return errors.Join(errs...)
}

// ErrNoAdapter is returned when "usb" finds no network adapter.
var ErrNoAdapter = errors.New("no USB network adapter found")

// IsSelector reports whether s names a device rather than a file.
func IsSelector(s string) bool {
	return s == "usb" || strings.HasPrefix(s, "usb:") || strings.HasPrefix(s, "sim:")
}

// IsAdapter is the enumeration filter: a device a catalog driver binds, or
// one whose function dongle refuses by name (catalog.IsAdapter).
func IsAdapter(c usbhw.Candidate) bool {
	dd, cfgs := c.Descriptors()
	return catalog.IsAdapter(dd, cfgs, c.ActiveConfig)
}

// Open opens sel.
func Open(sel string) (*Target, error) {
	switch {
	case sel == "usb" || strings.HasPrefix(sel, "usb:"):
		return openUSB(sel)
	case strings.HasPrefix(sel, "sim:"):
		return openSim(sel)
	}
	return openTrace(sel)
}

func openUSB(sel string) (*Target, error) {
	ctx, err := usbhw.Open()
	if err != nil {
		return nil, err
	}
	var dev *usbhw.Device
	if s := strings.TrimPrefix(strings.TrimPrefix(sel, "usb"), ":"); s != "" {
		ps, perr := usbhw.ParseSelector(s)
		if perr != nil {
			ctx.Close()
			return nil, fmt.Errorf("device %q: %w", sel, perr)
		}
		dev, err = ctx.OpenDevice(ps, nil)
	} else {
		dev, err = ctx.OpenFirst(IsAdapter, nil)
		var nf *usbhw.NotFoundError
		if errors.As(err, &nf) || errors.Is(err, hw.ErrNotFound) {
			err = fmt.Errorf("%w (%v)", ErrNoAdapter, err)
		}
	}
	if err != nil {
		ctx.Close()
		return nil, err
	}
	t := &Target{Kind: USB, Name: sel, HW: dev, Drivers: catalog.All()}
	info := dev.Info()
	if all, err := ctx.List(func(c usbhw.Candidate) bool { return c.Bus == info.Bus && c.Address == info.Address }); err == nil && len(all) == 1 {
		t.USBIP = all[0].USBIP
	}
	t.closers = append(t.closers, ctx.Close, dev.Close)
	return t, nil
}

// SimModels are the model selectors Open knows (the catalog's).
func SimModels() []string { return catalog.Selectors() }

func openSim(sel string) (*Target, error) {
	m, err := catalog.ModelBySelector(sel)
	if err != nil {
		return nil, err
	}
	w := sim.NewWire()
	inst := m.Build(catalog.Options{})
	inst.Plug(w.A())
	t := &Target{Kind: Sim, Name: sel, HW: inst.Dev, Peer: w.B(), Link: inst.SetLink, Model: inst, Drivers: catalog.ForModels()}
	t.closers = append(t.closers, inst.Dev.Close)
	return t, nil
}

func openTrace(path string) (*Target, error) { return OpenTrace(path, 0, 0) }

// OpenTrace opens a capture as a replayed device: device bus.addr of it
// when addr is not 0, else the network adapter decode finds in it (the one
// adapter, or an error naming the devices when there are several).
func OpenTrace(path string, bus uint16, addr uint8) (*Target, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, err
	}
	t := &Target{Kind: Trace, Name: path, Drivers: catalog.ForModels()}
	opts := replay.ModelOptions{Logf: func(f string, a ...any) {
		t.Log = append(t.Log, fmt.Sprintf(f, a...))
	}}
	if addr == 0 {
		// The adapter decode finds; when it finds none (no driver
		// matches), the replay serves the capture's one device or says
		// it holds several.
		if tr, err := decode.ReadFile(path, decode.Options{}); err == nil {
			bus, addr = tr.Bus, tr.Address
		}
	}
	if addr != 0 {
		opts.Device = &replay.DeviceAddr{Bus: bus, Address: addr}
	}
	dev, err := replay.Open(path, opts)
	if err != nil {
		return nil, err
	}
	t.HW = dev
	t.Replay, _ = dev.(*replay.Model)
	t.Strict, _ = dev.(*replay.Strict)
	t.closers = append(t.closers, dev.Close)
	return t, nil
}
