package decode

import (
	"fmt"

	"dongle/hw"
	"dongle/usbnet"
)

// Match finds the minidriver of drivers that binds a device with these
// descriptors, with usbnet.Probe's rules: a VID:PID entry of any driver
// before a class entry, interfaces in order (alternate setting 0), every
// configuration in order. It returns the driver, the entry that matched and
// the configuration it lives in.
//
// A device whose only network function is CDC NCM or RNDIS fails with a
// *usbnet.UnsupportedError ("not supported yet"); one nothing matches fails
// wrapping usbnet.ErrNoDriver.
func Match(dd *hw.DeviceDescriptor, cfgs []*hw.Config, drivers []usbnet.Minidriver) (usbnet.Minidriver, usbnet.ID, *hw.Config, error) {
	for _, byVendor := range [...]bool{true, false} {
		for _, c := range cfgs {
			for i := range c.Interfaces {
				in := &c.Interfaces[i]
				if len(in.Alts) == 0 {
					continue
				}
				for _, drv := range drivers {
					for _, id := range drv.IDs() {
						if byVendor == (id.Vendor != 0) && id.Matches(dd, &in.Alts[0]) {
							return drv, id, c, nil
						}
					}
				}
			}
		}
	}
	name := fmt.Sprintf("%04x:%04x", dd.Vendor, dd.Product)
	for _, c := range cfgs {
		for i := range c.Interfaces {
			if len(c.Interfaces[i].Alts) == 0 {
				continue
			}
			a := &c.Interfaces[i].Alts[0]
			if f := usbnet.UnsupportedFunction(a); f != "" {
				return nil, usbnet.ID{}, nil, &usbnet.UnsupportedError{Device: name, Config: c.Value, Iface: a.Number,
					Function: f, Class: a.Class, SubClass: a.SubClass, Protocol: a.Protocol}
			}
		}
	}
	return nil, usbnet.ID{}, nil, fmt.Errorf("%s (class %02x/%02x/%02x, %d configurations): %w",
		name, dd.Class, dd.SubClass, dd.Protocol, len(cfgs), usbnet.ErrNoDriver)
}
