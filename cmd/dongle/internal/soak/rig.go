package soak

import (
	"fmt"

	"dongle/hw"
	"dongle/hw/sim"
	"dongle/usbnet"
	"dongle/usbnet/catalog"
)

// Faults are the USB faults a device can be made to have: the sim
// engine's (sim.Device).
type Faults interface {
	Stall(ep uint8)
	TimeoutNext(ep uint8, n int)
	Unplug()
	ShortControl(n int)
}

var _ Faults = (*sim.Device)(nil)

// Rig is one device under soak: its USB side, the far end of its wire,
// and its faults.
type Rig struct {
	HW      hw.Device
	Drivers []usbnet.Minidriver
	// Peer is the far end of the device's Ethernet wire: soak attaches
	// its counting port here and sends its RX frames from it.
	Peer *sim.End
	// Faults is nil when the device can be given none. Closing HW releases
	// the rig.
	Faults Faults
}

// Opener makes a fresh Rig: at the start, and after each unplug (as a
// replug would).
type Opener func() (*Rig, error)

// SimOpener opens the catalog's model sel ("sim:ecm") on a fresh wire.
func SimOpener(sel string) (Opener, error) {
	m, err := catalog.ModelBySelector(sel)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	return func() (*Rig, error) {
		w := sim.NewWire()
		inst := m.Build(catalog.Options{})
		inst.Plug(w.A())
		return &Rig{HW: inst.Dev, Drivers: catalog.ForModels(), Peer: w.B(), Faults: inst.Dev}, nil
	}, nil
}
