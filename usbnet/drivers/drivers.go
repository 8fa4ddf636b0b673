// Package drivers lists every usbnet minidriver dongle has, in the order
// Probe should try them: the vendor drivers, whose VID:PID entries are
// exact, before the class driver, which matches any CDC Ethernet function.
package drivers

import (
	"time"

	"dongle/hw"
	"dongle/usbnet"
	"dongle/usbnet/asix"
	"dongle/usbnet/ax88179"
	"dongle/usbnet/cdcecm"
)

// All returns the minidrivers for real hardware: they wait as long as the
// chips need after resets.
func All() []usbnet.Minidriver {
	return []usbnet.Minidriver{&ax88179.Driver{}, &asix.Driver{}, cdcecm.Driver{}}
}

// ForModels returns the same minidrivers with the chips' settling delays
// removed, for device models and replayed traces, which answer at once.
func ForModels() []usbnet.Minidriver {
	return []usbnet.Minidriver{&ax88179.Driver{NoDelay: true}, &asix.Driver{Sleep: func(time.Duration) {}}, cdcecm.Driver{}}
}

// ByName returns the minidriver called name ("cdc_ether", "asix",
// "ax88179_178a", or the short forms "ecm" and "ax88179"), or nil.
func ByName(name string, models bool) usbnet.Minidriver {
	switch name {
	case "ecm":
		name = "cdc_ether"
	case "ax88179":
		name = "ax88179_178a"
	}
	list := All()
	if models {
		list = ForModels()
	}
	for _, d := range list {
		if d.Name() == name {
			return d
		}
	}
	return nil
}

// VendorIDs lists every VID:PID a minidriver claims by ID (class matches,
// Vendor 0, are left out): what enumeration looks for besides CDC
// Ethernet, and what the udev rule grants.
func VendorIDs() []hw.ID {
	var ids []hw.ID
	for _, d := range All() {
		for _, id := range d.IDs() {
			if id.Vendor != 0 {
				ids = append(ids, hw.ID{Vendor: id.Vendor, Product: id.Product})
			}
		}
	}
	return ids
}

// ByID is the name of the minidriver that claims vid:pid by ID, or ""
// when none does (the device may still match a class driver).
func ByID(vid, pid uint16) string {
	for _, d := range All() {
		for _, id := range d.IDs() {
			if id.Vendor == vid && id.Product == pid {
				return d.Name()
			}
		}
	}
	return ""
}
