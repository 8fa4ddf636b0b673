// Package diag builds `dongle diag`'s report: what lsusb -v and ethtool
// -i/-e/-d/-S/-t would say about an adapter, from a live device (real or
// modelled) or from a trace, with the anomalies found on the way.
package diag

import (
	"fmt"

	"dongle/hw"
	"dongle/usbnet"
	"dongle/usbnet/catalog"
)

// DeviceInfo is the device descriptor, decoded.
type DeviceInfo struct {
	VID          string `json:"vid"`
	PID          string `json:"pid"`
	USB          string `json:"bcd_usb"`
	Device       string `json:"bcd_device"`
	Class        string `json:"class"`
	MaxPacket0   int    `json:"max_packet0"`
	Manufacturer string `json:"manufacturer,omitempty"`
	Product      string `json:"product,omitempty"`
	Serial       string `json:"serial,omitempty"`
	Configs      int    `json:"num_configurations"`
	Speed        string `json:"speed,omitempty"`
}

// ConfigInfo is one configuration descriptor set.
type ConfigInfo struct {
	Value      int         `json:"value"`
	Name       string      `json:"name,omitempty"`
	Attributes string      `json:"attributes"`
	MaxPowerMA int         `json:"max_power_ma"`
	Interfaces []IfaceInfo `json:"interfaces"`
	Active     bool        `json:"active,omitempty"`
}

// IfaceInfo is one alternate setting of one interface.
type IfaceInfo struct {
	Number     int            `json:"number"`
	Alt        int            `json:"alt"`
	Class      string         `json:"class"`
	Name       string         `json:"name,omitempty"`
	Functional []string       `json:"functional,omitempty"` // class-specific descriptors decoded
	Endpoints  []EndpointInfo `json:"endpoints,omitempty"`
}

// EndpointInfo is one endpoint descriptor.
type EndpointInfo struct {
	Address   string `json:"address"`
	Type      string `json:"type"`
	MaxPacket int    `json:"max_packet"`
	Interval  int    `json:"interval"`
}

// className names a class triple the way lsusb does, for the classes an
// adapter shows.
func className(c, s, p uint8) string {
	n := fmt.Sprintf("%02x/%02x/%02x", c, s, p)
	switch {
	case c == 0 && s == 0:
		return n + " (per interface)"
	case c == 0x02 && s == 0x06:
		return n + " (CDC Ethernet)"
	case c == 0x02 && s == 0x0d:
		return n + " (CDC NCM)"
	case c == 0x02 && s == 0x02 && p == 0xff:
		return n + " (RNDIS)"
	case c == 0x02:
		return n + " (Communications)"
	case c == 0x0a:
		return n + " (CDC Data)"
	case c == 0xef:
		return n + " (Miscellaneous)"
	case c == 0xe0:
		return n + " (Wireless)"
	case c == 0xff:
		return n + " (Vendor Specific)"
	}
	return n
}

// describeDevice decodes the device descriptor.
func describeDevice(d *hw.DeviceDescriptor, str func(uint8) string) *DeviceInfo {
	return &DeviceInfo{
		VID: fmt.Sprintf("%04x", d.Vendor), PID: fmt.Sprintf("%04x", d.Product),
		USB: bcd(d.USB), Device: bcd(d.Device), Class: className(d.Class, d.SubClass, d.Protocol),
		MaxPacket0: int(d.MaxPacketSize0), Manufacturer: str(d.Manufacturer), Product: str(d.ProductStr),
		Serial: str(d.Serial), Configs: int(d.NumConfigurations),
	}
}

func bcd(v uint16) string { return fmt.Sprintf("%x.%02x", v>>8, v&0xff) }

// describeConfig decodes a configuration, CDC functional descriptors
// included, and appends what looks wrong to anomalies.
func describeConfig(c *hw.Config, str func(uint8) string, anomalies *[]string) ConfigInfo {
	attr := "bus powered"
	if c.Attributes&0x40 != 0 {
		attr = "self powered"
	}
	if c.Attributes&0x20 != 0 {
		attr += ", remote wakeup"
	}
	ci := ConfigInfo{Value: int(c.Value), Name: str(c.String), Attributes: attr, MaxPowerMA: 2 * int(c.MaxPower)}
	for _, in := range c.Interfaces {
		for _, a := range in.Alts {
			ii := IfaceInfo{Number: int(a.Number), Alt: int(a.Alternate), Class: className(a.Class, a.SubClass, a.Protocol), Name: str(a.String)}
			ii.Functional = functional(a.Extra, str, anomalies)
			for _, e := range a.Endpoints {
				ii.Endpoints = append(ii.Endpoints, EndpointInfo{Address: fmt.Sprintf("%#02x", e.Address), Type: epType(e), MaxPacket: int(e.MaxPacketSize), Interval: int(e.Interval)})
				checkEndpoint(e, anomalies)
				ii.Functional = append(ii.Functional, functional(e.Extra, str, anomalies)...)
			}
			ci.Interfaces = append(ci.Interfaces, ii)
		}
	}
	return ci
}

func checkEndpoint(e hw.EndpointDesc, anomalies *[]string) {
	mp := e.MaxPacketSize
	switch e.Type() {
	case hw.XferBulk:
		switch mp {
		case 8, 16, 32, 64, 512, 1024:
		default:
			*anomalies = append(*anomalies, fmt.Sprintf("%v: wMaxPacketSize %d is not a legal bulk size (8/16/32/64 full, 512 high, 1024 super speed)", e, mp))
		}
	case hw.XferInterrupt:
		if mp == 0 {
			*anomalies = append(*anomalies, fmt.Sprintf("%v: wMaxPacketSize 0", e))
		}
		if e.Interval == 0 {
			*anomalies = append(*anomalies, fmt.Sprintf("%v: bInterval 0", e))
		}
	}
}

// functional decodes class-specific descriptors (CDC's functional
// descriptors, CS_INTERFACE) with the catalog drivers' usbnet.ClassDescriber,
// and names any other descriptor by type and size.
func functional(extra []byte, str func(uint8) string, anomalies *[]string) []string {
	if len(extra) == 0 {
		return nil
	}
	ds, err := hw.Descriptors(extra)
	if err != nil {
		*anomalies = append(*anomalies, err.Error())
	}
	var out []string
	for _, d := range ds {
		if text, problems, ok := describeClass(d, str); ok {
			out = append(out, text)
			*anomalies = append(*anomalies, problems...)
			continue
		}
		out = append(out, fmt.Sprintf("descriptor type %#02x, %d bytes", d[1], len(d)))
	}
	return out
}

// describeClass asks each catalog driver that reads class descriptors.
func describeClass(d []byte, str func(uint8) string) (string, []string, bool) {
	for _, drv := range catalog.All() {
		if cd, ok := drv.(usbnet.ClassDescriber); ok {
			if text, problems, ok := cd.DescribeDescriptor(d, str); ok {
				return text, problems, true
			}
		}
	}
	return "", nil, false
}

func epType(e hw.EndpointDesc) string {
	dir := "OUT"
	if e.In() {
		dir = "IN"
	}
	return [...]string{"control", "isochronous", "bulk", "interrupt"}[e.Type()] + " " + dir
}
