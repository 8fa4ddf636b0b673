package specs

import (
	"context"
	"net"

	"dongle/hw"
	"dongle/hw/sim"
	"dongle/hw/sim/ax88179"
	"dongle/hw/sim/ax88772"
	"dongle/hw/sim/ecm"
)

// simBackend is a device model on a sim.Wire whose far end the spec holds.
//
// Device models stand in where no real part can run here: no ASIX chip is
// emulated by QEMU or the kernel, and the CI machines have no USB port. The
// same specs run against QEMU's usb-net and the kernel's ECM gadget in the
// virtual lab (backend usb), and against recorded traces.
type simBackend struct {
	name   string
	expect Expectations
	// make builds a fresh device and model and plugs the model into end.
	make func(end *sim.End) (dev *sim.Device, link func(up bool) error, stats func() map[string]int)
}

func (b *simBackend) Name() string         { return b.name }
func (b *simBackend) Expect() Expectations { return b.expect }
func (b *simBackend) Caps() []Cap {
	c := []Cap{CapLive, CapPeer, CapFaults}
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
	dev, link, stats := b.make(w.A())
	t := &Target{
		HW:     dev,
		Peer:   &wirePeer{end: w.B(), capt: capt},
		Faults: dev,
		Stats:  stats,
		Close:  dev.Close,
	}
	if b.expect.NoLinkControl == "" {
		t.Link = link
	}
	return t, nil
}

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

func mac(s string) net.HardwareAddr {
	a, err := net.ParseMAC(s)
	if err != nil {
		panic(err)
	}
	return a
}

// gadgetUnicast is why f_ecm, and its model, pass other stations' unicast.
const gadgetUnicast = "Linux f_ecm filters only broadcast and multicast (u_ether's eth_start_xmit ignores USB_CDC_PACKET_TYPE_DIRECTED)"

const qemuNoLink = "QEMU 7.2's usb-net reports NETWORK_CONNECTION 1 on every poll and has no link-change handler (measured in the lab: set_link off drops frames but sends no notification), and its model does the same"

// SimBackends are the device-model backends, in the order they run.
func SimBackends() []Backend {
	return []Backend{
		&simBackend{
			name: "sim:ecm",
			expect: Expectations{Driver: "cdc_ether", Vendor: 0x0525, Product: 0xa4a2, MAC: mac("52:54:00:12:34:56"),
				USBSpeed: hw.SpeedFull, MaxPacket: 64, NoLinkControl: qemuNoLink, RxFrames: -1},
			make: func(end *sim.End) (*sim.Device, func(bool) error, func() map[string]int) {
				dev, m := ecm.NewDevice(ecm.Options{})
				m.Connect(end)
				return dev, func(up bool) error { m.SetLink(up); return nil }, ecmStats(m)
			},
		},
		&simBackend{
			name: "sim:ecm-gadget",
			expect: Expectations{Driver: "cdc_ether", Vendor: 0x1209, Product: 0x0001, MAC: mac("52:54:00:12:34:56"),
				USBSpeed: hw.SpeedHigh, MaxPacket: 512, LinkMbps: 425, RxFrames: -1, PassesOtherUnicast: gadgetUnicast},
			make: func(end *sim.End) (*sim.Device, func(bool) error, func() map[string]int) {
				dev, m := ecm.NewDevice(ecm.Options{Flavor: ecm.Gadget})
				m.Connect(end)
				return dev, func(up bool) error { m.SetLink(up); return nil }, ecmStats(m)
			},
		},
		&simBackend{
			name: "sim:ax88772",
			expect: Expectations{Driver: "asix", Vendor: 0x0b95, Product: 0x772b, MAC: mac("00:0e:c6:88:77:2b"),
				USBSpeed: hw.SpeedHigh, MaxPacket: 512, LinkMbps: 100, RxFrames: -1},
			make: func(end *sim.End) (*sim.Device, func(bool) error, func() map[string]int) {
				dev, m := ax88772.NewDevice(ax88772.Options{})
				m.Plug(end)
				return dev, func(up bool) error { m.SetCable(up); return nil }, ax88772Stats(m)
			},
		},
		&simBackend{
			name: "sim:ax88772-fs",
			expect: Expectations{Driver: "asix", Vendor: 0x0b95, Product: 0x772b, MAC: mac("00:0e:c6:88:77:2b"),
				USBSpeed: hw.SpeedFull, MaxPacket: 64, LinkMbps: 100, RxFrames: -1},
			make: func(end *sim.End) (*sim.Device, func(bool) error, func() map[string]int) {
				dev, m := ax88772.NewDevice(ax88772.Options{FullSpeed: true})
				m.Plug(end)
				return dev, func(up bool) error { m.SetCable(up); return nil }, ax88772Stats(m)
			},
		},
		&simBackend{
			name: "sim:ax88178",
			expect: Expectations{Driver: "asix", Vendor: 0x0b95, Product: 0x1780, MAC: mac("00:0e:c6:88:17:80"),
				USBSpeed: hw.SpeedHigh, MaxPacket: 512, LinkMbps: 1000, RxFrames: -1},
			make: func(end *sim.End) (*sim.Device, func(bool) error, func() map[string]int) {
				dev, m := ax88772.NewDevice(ax88772.Options{Chip: ax88772.AX88178})
				m.Plug(end)
				return dev, func(up bool) error { m.SetCable(up); return nil }, ax88772Stats(m)
			},
		},
		&simBackend{
			name: "sim:ax88179",
			expect: Expectations{Driver: "ax88179_178a", Vendor: 0x0b95, Product: 0x1790, MAC: mac("00:0e:c6:81:79:01"),
				USBSpeed: hw.SpeedHigh, MaxPacket: 512, LinkMbps: 1000, RxFrames: -1},
			make: func(end *sim.End) (*sim.Device, func(bool) error, func() map[string]int) {
				m, dev := ax88179.New(ax88179.Config{})
				m.Connect(end)
				return dev, ax88179Link(m), ax88179Stats(m)
			},
		},
		&simBackend{
			name: "sim:ax88179-ss",
			expect: Expectations{Driver: "ax88179_178a", Vendor: 0x0b95, Product: 0x1790, MAC: mac("00:0e:c6:81:79:01"),
				USBSpeed: hw.SpeedSuper, MaxPacket: 1024, LinkMbps: 1000, RxFrames: -1},
			make: func(end *sim.End) (*sim.Device, func(bool) error, func() map[string]int) {
				m, dev := ax88179.New(ax88179.Config{Speed: hw.SpeedSuper})
				m.Connect(end)
				return dev, ax88179Link(m), ax88179Stats(m)
			},
		},
	}
}

func ax88179Link(m *ax88179.Model) func(bool) error {
	return func(up bool) error {
		if up {
			m.PlugCable(1000, true)
		} else {
			m.UnplugCable()
		}
		return nil
	}
}

func ecmStats(m *ecm.Model) func() map[string]int {
	return func() map[string]int {
		c := m.Counters()
		return map[string]int{"no_zlp": int(c.NoZLP)}
	}
}

func ax88772Stats(m *ax88772.Model) func() map[string]int {
	return func() map[string]int {
		s, r := m.TxStats(), m.RxStats()
		// medium_mismatch: frames the AX88178 model dropped because the
		// medium mode did not match the link (always 0 on the AX88772B).
		return map[string]int{"tx_bad_header": int(s.BadHeader), "medium_mismatch": s.MediumMismatch + r.MediumMismatch}
	}
}

func ax88179Stats(m *ax88179.Model) func() map[string]int {
	return func() map[string]int {
		s := m.Stats()
		return map[string]int{"tx_bad_header": int(s.TxBadHeader)}
	}
}
