package usbnet

import (
	"fmt"

	"dongle/hw"
)

// Binding is what Match found: the minidriver, the entry of its table that
// matched, the configuration it lives in and the interface it matched on.
type Binding struct {
	Driver Minidriver
	ID     ID
	Config *hw.Config
	Intf   *hw.Interface
}

// Matches reports whether the entry matches a device with descriptor dd
// through its interface setting a (usb_match_one_id): VID:PID when the entry
// has one, and the interface class fields it does not leave open (-1).
func (id ID) Matches(dd *hw.DeviceDescriptor, a *hw.AltSetting) bool {
	if id.Vendor != 0 && (id.Vendor != dd.Vendor || id.Product != dd.Product) {
		return false
	}
	return (id.Class < 0 || int(a.Class) == id.Class) &&
		(id.SubClass < 0 || int(a.SubClass) == id.SubClass) &&
		(id.Protocol < 0 || int(a.Protocol) == id.Protocol)
}

// Match is the matching half of Probe, and the only matching code dongle
// has: Probe, trace decoding and enumeration all call it, so a trace
// decodes, and `dongle list` names, the driver Probe would bind.
//
// First, an entry with SelectsConfig (a driver that chooses its device's
// configuration, as Linux's r8152 does with its cfgselector) is looked for
// in every configuration, active first: where one matches, that
// configuration is taken whatever else matches in the active one.
// Otherwise configurations are tried one at a time, the active one
// (bConfigurationValue active) first, then the others in order; the first
// configuration in which anything matches wins. Within one configuration every driver's VID:PID
// entries are tried before any class entry (so a vendor driver wins over the
// class driver, as Linux's blacklisting achieves), interfaces in order, on
// alternate setting 0.
//
// When nothing matches, a configuration holding a function dongle knows but
// does not support (RNDIS) gives an *UnsupportedError; otherwise
// the error wraps ErrNoDriver. name names the device in both.
func Match(name string, dd *hw.DeviceDescriptor, cfgs []*hw.Config, active int, drivers []Minidriver) (Binding, error) {
	for _, c := range activeFirst(cfgs, active) {
		if b, ok := matchConfigWith(dd, c, drivers, selectsConfig); ok {
			return b, nil
		}
	}
	for _, c := range activeFirst(cfgs, active) {
		if b, ok := matchConfig(dd, c, drivers); ok {
			return b, nil
		}
	}
	for _, c := range activeFirst(cfgs, active) {
		for i := range c.Interfaces {
			if len(c.Interfaces[i].Alts) == 0 {
				continue
			}
			a := &c.Interfaces[i].Alts[0]
			if f := UnsupportedFunction(a); f != "" {
				return Binding{}, &UnsupportedError{Device: name, Config: c.Value, Iface: a.Number, Function: f,
					Class: a.Class, SubClass: a.SubClass, Protocol: a.Protocol}
			}
		}
	}
	return Binding{}, fmt.Errorf("%s (class %02x/%02x/%02x, %d configurations): %w",
		name, dd.Class, dd.SubClass, dd.Protocol, len(cfgs), ErrNoDriver)
}

// activeFirst orders cfgs with the active configuration first.
func activeFirst(cfgs []*hw.Config, active int) []*hw.Config {
	order := make([]*hw.Config, 0, len(cfgs))
	for _, c := range cfgs {
		if int(c.Value) == active {
			order = append(order, c)
		}
	}
	for _, c := range cfgs {
		if int(c.Value) != active {
			order = append(order, c)
		}
	}
	return order
}

// matchConfig looks for a driver in one configuration: VID:PID entries of
// every driver first, then class entries; interfaces in order.
func matchConfig(dd *hw.DeviceDescriptor, cfg *hw.Config, drivers []Minidriver) (Binding, bool) {
	for _, pass := range [...]func(ID) bool{byVendor, byClass} {
		if b, ok := matchConfigWith(dd, cfg, drivers, pass); ok {
			return b, true
		}
	}
	return Binding{}, false
}

func byVendor(id ID) bool      { return id.Vendor != 0 }
func byClass(id ID) bool       { return id.Vendor == 0 }
func selectsConfig(id ID) bool { return id.Vendor != 0 && id.SelectsConfig }

// matchConfigWith is one pass of matchConfig over the entries use accepts:
// interfaces in order, on alternate setting 0.
func matchConfigWith(dd *hw.DeviceDescriptor, cfg *hw.Config, drivers []Minidriver, use func(ID) bool) (Binding, bool) {
	for i := range cfg.Interfaces {
		in := &cfg.Interfaces[i]
		if len(in.Alts) == 0 {
			continue
		}
		for _, drv := range drivers {
			for _, id := range drv.IDs() {
				if use(id) && id.Matches(dd, &in.Alts[0]) {
					return Binding{drv, id, cfg, in}, true
				}
			}
		}
	}
	return Binding{}, false
}
