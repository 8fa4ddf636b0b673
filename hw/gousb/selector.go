package gousb

import (
	"fmt"
	"strconv"
	"strings"

	"dongle/hw"
)

// SelectorKind says which field of a Selector picks the device.
type SelectorKind int

const (
	ByAddress SelectorKind = iota + 1 // "1.4": bus 1, device address 4
	ByID                              // "0b95:1790": vendor:product, the first such device
	BySerial                          // "serial=00A1B2C3": iSerialNumber
	ByPort                            // "port=1-2.3": the port path, stable across replugs
	// ByUSBIP: "usbip=10.0.0.7/1-2": the device attached through vhci_hcd
	// from that host's bus ID (as usbip attach recorded it), stable across
	// detach and attach, whatever vhci port and address it gets.
	ByUSBIP
)

// Selector names one device on the host, as a person types it on the
// command line. ParseSelector reads it; String prints it back.
type Selector struct {
	Kind            SelectorKind
	Bus, Address    int
	Vendor, Product uint16
	Serial          string
	Port            string
	// ByUSBIP: the exporting host and the device's bus ID there.
	USBIPHost, USBIPBusID string
}

// ParseSelector parses a device selector:
//
//	BUS.ADDR        "1.4"              decimal bus and address, as lsusb prints them ("001.004" too)
//	VID:PID         "0b95:1790"        hexadecimal vendor and product IDs
//	serial=SERIAL   "serial=00A1B2C3"  the iSerialNumber string, exactly
//	port=PATH       "port=1-2.3"       the sysfs port path (bus-port.port...)
//	usbip=HOST/BUSID "usbip=10.0.0.7/1-2" attached over USB/IP from HOST's BUSID
func ParseSelector(s string) (Selector, error) {
	s = strings.TrimSpace(s)
	bad := func(format string, a ...any) (Selector, error) {
		return Selector{}, fmt.Errorf("device selector %q: %s (want BUS.ADDR like 1.4, VID:PID like 0b95:1790, serial=SERIAL, port=1-2.3 or usbip=HOST/BUSID)", s, fmt.Sprintf(format, a...))
	}
	switch {
	case s == "":
		return bad("empty")
	case strings.HasPrefix(s, "usbip="):
		h, b, ok := strings.Cut(strings.TrimPrefix(s, "usbip="), "/")
		if !ok || h == "" || b == "" || strings.ContainsAny(h+b, "/ \t") {
			return bad("want usbip=HOST/BUSID, as usbip attach -r HOST -b BUSID")
		}
		return Selector{Kind: ByUSBIP, USBIPHost: h, USBIPBusID: b}, nil
	case strings.HasPrefix(s, "serial="):
		v := strings.TrimPrefix(s, "serial=")
		if v == "" {
			return bad("empty serial number")
		}
		return Selector{Kind: BySerial, Serial: v}, nil
	case strings.HasPrefix(s, "port="):
		v := strings.TrimPrefix(s, "port=")
		if err := checkPort(v); err != nil {
			return bad("%v", err)
		}
		return Selector{Kind: ByPort, Port: v}, nil
	case strings.Contains(s, ":"):
		vs, ps, _ := strings.Cut(s, ":")
		v, err := parseHex16(vs)
		if err != nil {
			return bad("vendor ID %q: %v", vs, err)
		}
		p, err := parseHex16(ps)
		if err != nil {
			return bad("product ID %q: %v", ps, err)
		}
		return Selector{Kind: ByID, Vendor: v, Product: p}, nil
	case strings.Contains(s, "."):
		bs, as, _ := strings.Cut(s, ".")
		b, err := strconv.ParseUint(bs, 10, 16)
		if err != nil || b < 1 || b > 255 {
			return bad("bus %q is not a number from 1 to 255", bs)
		}
		a, err := strconv.ParseUint(as, 10, 16)
		if err != nil || a < 1 || a > 127 {
			return bad("address %q is not a number from 1 to 127", as)
		}
		return Selector{Kind: ByAddress, Bus: int(b), Address: int(a)}, nil
	}
	return bad("not a recognised form")
}

func parseHex16(s string) (uint16, error) {
	s = strings.TrimPrefix(strings.TrimPrefix(s, "0x"), "0X")
	if s == "" || len(s) > 4 {
		return 0, fmt.Errorf("want 1 to 4 hexadecimal digits")
	}
	v, err := strconv.ParseUint(s, 16, 16)
	if err != nil {
		return 0, fmt.Errorf("want 1 to 4 hexadecimal digits")
	}
	return uint16(v), nil
}

// checkPort accepts "B-P[.P...]" with decimal numbers.
func checkPort(p string) error {
	bus, rest, ok := strings.Cut(p, "-")
	if !ok || bus == "" || rest == "" {
		return fmt.Errorf("port %q: want BUS-PORT[.PORT...]", p)
	}
	for _, f := range append([]string{bus}, strings.Split(rest, ".")...) {
		if n, err := strconv.ParseUint(f, 10, 8); err != nil || n == 0 {
			return fmt.Errorf("port %q: %q is not a number from 1 to 255", p, f)
		}
	}
	return nil
}

// MatchCandidate reports whether the device c is the one s names: Match
// on its Info, or for ByUSBIP its USB/IP link.
func (s Selector) MatchCandidate(c Candidate) bool {
	if s.Kind == ByUSBIP {
		return c.USBIP.Role == Imported && c.USBIP.Host == s.USBIPHost && c.USBIP.BusID == s.USBIPBusID
	}
	return s.Match(c.Info)
}

// Match reports whether the device described by info is the one s names
// (never for ByUSBIP, which Info cannot tell: see MatchCandidate).
func (s Selector) Match(info hw.Info) bool {
	switch s.Kind {
	case ByAddress:
		return info.Bus == s.Bus && info.Address == s.Address
	case ByID:
		return info.Vendor == s.Vendor && info.Product == s.Product
	case BySerial:
		return info.Serial == s.Serial
	case ByPort:
		return info.Port == s.Port
	}
	return false
}

func (s Selector) String() string {
	switch s.Kind {
	case ByAddress:
		return fmt.Sprintf("%d.%d", s.Bus, s.Address)
	case ByID:
		return fmt.Sprintf("%04x:%04x", s.Vendor, s.Product)
	case BySerial:
		return "serial=" + s.Serial
	case ByPort:
		return "port=" + s.Port
	case ByUSBIP:
		return "usbip=" + s.USBIPHost + "/" + s.USBIPBusID
	}
	return "(no selector)"
}
