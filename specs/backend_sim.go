package specs

import (
	"context"

	"dongle/hw/sim"
	"dongle/usbnet/catalog"
)

// simBackend is a device model on a sim.Wire whose far end the spec holds.
//
// Device models stand in where no real part can run here: no ASIX chip is
// emulated by QEMU or the kernel, and the CI machines have no USB port. The
// same specs run against QEMU's usb-net and the kernel's ECM gadget in the
// virtual lab (backend usb), and against recorded traces.
//
// The models, and what is expected of each, are the driver catalog's
// (usbnet/catalog): one simBackend per catalog model.
type simBackend struct {
	name   string
	expect Expectations
	model  catalog.Model
}

func (b *simBackend) Name() string         { return b.name }
func (b *simBackend) Expect() Expectations { return b.expect }
func (b *simBackend) Caps() []Cap {
	c := append([]Cap{CapLive, CapPeer, CapFaults}, FaultCaps...)
	if b.expect.NoLinkControl == "" {
		c = append(c, CapLinkControl)
	}
	return c
}

func (b *simBackend) Why(c Cap) string {
	switch c {
	case CapLinkControl:
		return b.expect.NoLinkControl
	case CapEcho:
		return "a device model's far side is the spec's own peer, which does not echo (specs with a peer check both directions instead)"
	case CapTraceFrames:
		return "not a recording"
	}
	return ""
}

func (b *simBackend) Open(ctx context.Context) (*Target, error) {
	w := sim.NewWire()
	capt := sim.NewCapture()
	w.B().Attach(capt)
	m := b.model.Build(catalog.Options{})
	m.Plug(w.A())
	t := &Target{
		HW:     m.Dev,
		Peer:   &wirePeer{end: w.B(), capt: capt},
		Faults: simFaults{m.Dev},
		Stats:  m.Counters,
		Close:  m.Dev.Close,
	}
	if b.expect.NoLinkControl == "" {
		t.Link = func(up bool) error { m.SetLink(up); return nil }
	}
	return t, nil
}

// simFaults are a model's faults: the sim engine's, which cannot fail.
type simFaults struct{ d *sim.Device }

var _ Faults = simFaults{}

func (f simFaults) Stall(ep uint8) error              { f.d.Stall(ep); return nil }
func (f simFaults) Unplug() error                     { f.d.Unplug(); return nil }
func (f simFaults) TimeoutNext(ep uint8, n int) error { f.d.TimeoutNext(ep, n); return nil }

// wirePeer is the spec's end of a sim.Wire.
type wirePeer struct {
	end  *sim.End
	capt *sim.Capture
}

func (p *wirePeer) Inject(frame []byte) error {
	if !p.end.Send(frame) {
		return errWireDropped
	}
	return nil
}

func (p *wirePeer) Received(ctx context.Context, n int) ([][]byte, error) {
	return p.capt.WaitFor(ctx, n)
}

func (p *wirePeer) Reset() { p.capt.Reset() }

type wireError string

func (e wireError) Error() string { return string(e) }

const errWireDropped = wireError("sim wire: frame dropped (cut wire or nothing attached)")

// SimBackends are the device-model backends, in the order they run: the
// catalog's models.
func SimBackends() []Backend {
	var out []Backend
	for _, m := range catalog.Models() {
		x := m.Expect
		out = append(out, &simBackend{name: m.Selector, model: m, expect: Expectations{
			Driver: x.Driver, Vendor: x.Vendor, Product: x.Product, MAC: x.MAC, USBSpeed: x.USBSpeed,
			MaxPacket: x.MaxPacket, LinkMbps: x.LinkMbps, NoLinkControl: x.NoLinkControl, RxFrames: -1,
			Filter: x.Filter}})
	}
	return out
}
