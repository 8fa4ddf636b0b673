package gousb

import (
	"fmt"
	"slices"
	"strings"

	"dongle/hw"
)

// ID is a vendor:product pair (hw.ID; usbnet/catalog.VendorIDs lists the
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
	// USBIP says whether the device is a remote host's attached here
	// through vhci_hcd, or this host's exported to another (usbip.go).
	USBIP USBIP
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
	if u := c.USBIP.String(); u != "" {
		s += " " + u
	}
	return s
}

// Descriptors rebuilds, from what enumeration saw without opening the
// device, the parts of its descriptors that matching reads: the device's
// VID:PID and class, and each configuration's interfaces and alternate
// settings with their class triples (no endpoints). Which of them dongle
// drives is its caller's policy (usbnet.Match over the driver catalog):
// this package holds no list of classes.
func (c Candidate) Descriptors() (*hw.DeviceDescriptor, []*hw.Config) {
	dd := &hw.DeviceDescriptor{Vendor: c.Vendor, Product: c.Product, Class: c.Class, SubClass: c.SubClass, Protocol: c.Protocol}
	byCfg := map[int]*hw.Config{}
	var cfgs []*hw.Config
	for _, i := range c.Interfaces {
		cfg := byCfg[i.Config]
		if cfg == nil {
			cfg = &hw.Config{Value: uint8(i.Config)}
			byCfg[i.Config] = cfg
			cfgs = append(cfgs, cfg)
		}
		in := cfg.Interface(uint8(i.Number))
		if in == nil {
			cfg.Interfaces = append(cfg.Interfaces, hw.Interface{Number: uint8(i.Number)})
			in = &cfg.Interfaces[len(cfg.Interfaces)-1]
		}
		in.Alts = append(in.Alts, hw.AltSetting{Number: uint8(i.Number), Alternate: uint8(i.Alt), Class: i.Class, SubClass: i.SubClass, Protocol: i.Protocol})
	}
	dd.NumConfigurations = uint8(len(cfgs))
	return dd, cfgs
}
