package specs

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"dongle/hw/sim"
	"dongle/hw/sim/ifwire"
	"dongle/usbnet/catalog"
)

// wireBackend is sim:MODEL@IFACE: a device model (one of SimBackends)
// whose wire is the host interface IFACE (hw/sim/ifwire), with whatever
// --peer names on the far side of that interface. With a veth pair,
// `--backend=sim:ecm-gadget@vethB --peer=iface:vethA` runs the suite's
// real-adapter path (the AF_PACKET peer, its tag filter, link control
// through the peer's interface) without an adapter: the model stands in
// for the adapter, the veth for its cable.
//
// The model keeps its fault injection (the device is still simulated);
// link control comes from the peer, whose interface's carrier the bridge
// turns into the model's link. Its specs share IFACE, so they must not
// run in parallel (go test runs them one at a time).
type wireBackend struct {
	name    string
	model   *simBackend
	iface   string
	peer    PeerScheme
	peerArg string
}

// WireBackend parses "sim:MODEL@IFACE"; the peer is --peer or DONGLE_PEER.
func WireBackend(name string) (Backend, error) {
	model, iface, ok := strings.Cut(name, "@")
	if !ok || iface == "" {
		return nil, fmt.Errorf("backend %q: want sim:MODEL@IFACE", name)
	}
	var m *simBackend
	for _, b := range SimBackends() {
		if s, ok := b.(*simBackend); ok && s.name == model {
			m = s
		}
	}
	if m == nil {
		return nil, fmt.Errorf("backend %q: no model %q", name, model)
	}
	b := &wireBackend{name: name, model: m, iface: iface}
	if spec := PeerSelection(); spec != "" {
		var err error
		if b.peer, b.peerArg, err = ParsePeer(spec); err != nil {
			return nil, fmt.Errorf("backend %q: %w", name, err)
		}
	}
	return b, nil
}

func (b *wireBackend) Name() string { return b.name }

func (b *wireBackend) Expect() Expectations {
	e := b.model.expect
	if e.NoLinkControl == "" && !b.peer.Link {
		e.NoLinkControl = "no --peer that can take " + b.iface + "'s far side down (--peer=iface:NAME can)"
	}
	return e
}

func (b *wireBackend) Caps() []Cap {
	// The model's own faults and receive filter.
	c := append([]Cap{CapLive, CapFaults}, FaultCaps...)
	if b.peer.Open != nil {
		c = append(c, CapPeer)
	}
	if b.peer.Echo {
		c = append(c, CapEcho)
	}
	if b.Expect().NoLinkControl == "" {
		c = append(c, CapLinkControl)
	}
	return c
}

func (b *wireBackend) Why(c Cap) string {
	switch c {
	case CapPeer:
		return "nothing the spec controls on the far side of " + b.iface + ": set --peer=iface:NAME (or DONGLE_PEER) to the interface at its other end"
	case CapEcho:
		return "the far side of " + b.iface + " is not a reflector (--peer=echo when it is)"
	case CapLinkControl:
		return b.Expect().NoLinkControl
	case CapTraceFrames:
		return "not a recording"
	}
	return ""
}

func (b *wireBackend) Open(ctx context.Context) (*Target, error) {
	w := sim.NewWire()
	m := b.model.model.Build(catalog.Options{})
	m.Plug(w.A())
	dev := m.Dev
	var follow func(up bool)
	if b.Expect().NoLinkControl == "" {
		// The cable's carrier is the model's link, as a PHY's is.
		follow = m.SetLink
	}
	br, err := ifwire.Open(w.B(), b.iface, follow)
	if err != nil {
		dev.Close()
		return nil, fmt.Errorf("%s: %w", b.name, err)
	}
	t := &Target{HW: dev, Faults: simFaults{dev}, Stats: m.Counters}
	var peer PeerConn
	if b.peer.Open != nil {
		if peer, err = b.peer.Open(ctx, b.peerArg); err != nil {
			br.Close()
			dev.Close()
			return nil, fmt.Errorf("%s: %w", b.name, err)
		}
		t.Peer = peer
		if l, ok := peer.(PeerLink); ok && follow != nil {
			t.Link = l.SetLink
		}
	}
	t.Close = func() error {
		// The harness closed the device already (hw.ErrClosed is expected).
		err := errors.Join(dev.Close(), br.Close())
		if peer != nil {
			err = errors.Join(err, peer.Close())
		}
		return err
	}
	return t, nil
}
