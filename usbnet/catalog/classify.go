package catalog

import (
	"errors"

	"dongle/hw"
	"dongle/usbnet"
)

// Classify is what Probe would do with a device whose descriptors are
// these, active being its bConfigurationValue: the binding, or Match's
// error (an *usbnet.UnsupportedError for a function dongle refuses by
// name, usbnet.ErrNoDriver otherwise). It reads descriptors only, so
// enumeration can classify a device without opening it.
func Classify(name string, dd *hw.DeviceDescriptor, cfgs []*hw.Config, active int) (usbnet.Binding, error) {
	return usbnet.Match(name, dd, cfgs, active, All())
}

// IsAdapter reports whether enumeration should list the device as a
// network adapter: one a catalog driver binds, or one whose function
// dongle recognises and refuses by name (RNDIS), so that the
// user is told why rather than "not found".
func IsAdapter(dd *hw.DeviceDescriptor, cfgs []*hw.Config, active int) bool {
	_, err := Classify("", dd, cfgs, active)
	var ue *usbnet.UnsupportedError
	return err == nil || errors.As(err, &ue)
}
