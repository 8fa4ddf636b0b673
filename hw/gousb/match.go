package gousb

import (
	"fmt"
	"slices"
	"strings"

	"dongle/hw"
)

// ID is a vendor:product pair (hw.ID; usbnet/drivers.VendorIDs lists the
// ones the minidrivers claim).
type ID = hw.ID

// Iface is one alternate setting of one interface, as List sees it.
type Iface struct {
	Config, Number, Alt       int
	Class, SubClass, Protocol uint8
	// Driver is the kernel driver bound to the interface ("cdc_ether",
	// "asix", "usbfs" while a libusb program has it claimed), or "" if none
	// is or it cannot be known (no sysfs, or not the active configuration).
	Driver string
}

// Candidate is a device found by List: its hw.Info (known without opening
// it), its class triple and every interface of every configuration.
type Candidate struct {
	hw.Info
	Class, SubClass, Protocol uint8
	ActiveConfig              int // 0 if unknown
	Interfaces                []Iface
}

// Drivers lists the kernel drivers bound to the device's interfaces, in
// interface order, without repeats.
func (c Candidate) Drivers() []string {
	var out []string
	for _, i := range c.Interfaces {
		if i.Driver != "" && !slices.Contains(out, i.Driver) {
			out = append(out, i.Driver)
		}
	}
	return out
}

func (c Candidate) String() string {
	s := fmt.Sprintf("%s %s %s-speed", c.Info.Name(), c.Port, c.Speed)
	if d := c.Drivers(); len(d) > 0 {
		s += " driver " + strings.Join(d, ",")
	}
	return s
}

// Kind is what sort of network function a device offers.
type Kind int

const (
	KindNone          Kind = iota // not a network adapter dongle knows
	KindECM                       // CDC Ethernet (communications class 2, subclass 6)
	KindNCM                       // CDC NCM (2/0x0d): not supported by dongle
	KindRNDIS                     // RNDIS (2/2 protocol 0xff, or misc 0xef/4/1): not supported
	KindWirelessRNDIS             // wireless-controller RNDIS (0xe0/1/3): not supported
	KindVendor                    // a vendor-class chip whose VID:PID is in the caller's table
)

func (k Kind) String() string {
	switch k {
	case KindECM:
		return "CDC ECM"
	case KindNCM:
		return "CDC NCM"
	case KindRNDIS:
		return "RNDIS"
	case KindWirelessRNDIS:
		return "wireless RNDIS"
	case KindVendor:
		return "vendor-specific"
	}
	return "not a network adapter"
}

// Supported reports whether dongle has a driver for the kind (ECM, or a
// vendor chip matched by ID). NCM and RNDIS are reported so that callers
// can refuse them with a message instead of "not found".
func (k Kind) Supported() bool { return k == KindECM || k == KindVendor }

// Kind classifies the device: a VID:PID in known wins (the caller has a
// driver for that chip), then the CDC interface classes of any configuration.
func (c Candidate) Kind(known []ID) Kind {
	if slices.Contains(known, ID{Vendor: c.Vendor, Product: c.Product}) {
		return KindVendor
	}
	k := KindNone
	for _, i := range c.Interfaces {
		switch {
		case i.Class == 0x02 && i.SubClass == 0x06:
			return KindECM // prefer ECM when a device also offers RNDIS (QEMU usb-net)
		case i.Class == 0x02 && i.SubClass == 0x0d:
			k = KindNCM
		case i.Class == 0x02 && i.SubClass == 0x02 && i.Protocol == 0xff,
			i.Class == 0xef && i.SubClass == 0x04 && i.Protocol == 0x01:
			if k == KindNone {
				k = KindRNDIS
			}
		case i.Class == 0xe0 && i.SubClass == 0x01 && i.Protocol == 0x03:
			if k == KindNone {
				k = KindWirelessRNDIS
			}
		}
	}
	return k
}

// IsNetworkAdapter is the default List filter: CDC ECM, NCM and RNDIS
// devices (so that callers can refuse the last two by name), and devices
// whose VID:PID is in known (the vendor-class chips the caller's
// minidrivers list: ASIX AX88772/178, AX88179/178A, ...).
func IsNetworkAdapter(c Candidate, known []ID) bool { return c.Kind(known) != KindNone }

// NetworkAdapters returns IsNetworkAdapter with known bound, for List.
func NetworkAdapters(known ...ID) func(Candidate) bool {
	return func(c Candidate) bool { return IsNetworkAdapter(c, known) }
}
