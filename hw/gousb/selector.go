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
)

// Selector names one device on the host, as a person types it on the
// command line. ParseSelector reads it; String prints it back.
type Selector struct {
	Kind            SelectorKind
	Bus, Address    int
	Vendor, Product uint16
	Serial          string
	Port            string
}

// ParseSelector parses a device selector:
//
//	BUS.ADDR        "1.4"              decimal bus and address, as lsusb prints them ("001.004" too)
//	VID:PID         "0b95:1790"        hexadecimal vendor and product IDs
//	serial=SERIAL   "serial=00A1B2C3"  the iSerialNumber string, exactly
//	port=PATH       "port=1-2.3"       the sysfs port path (bus-port.port...)
func ParseSelector(s string) (Selector, error) {
	s = strings.TrimSpace(s)
	bad := func(format string, a ...any) (Selector, error) {
		return Selector{}, fmt.Errorf("device selector %q: %s (want BUS.ADDR like 1.4, VID:PID like 0b95:1790, serial=SERIAL or port=1-2.3)", s, fmt.Sprintf(format, a...))
	}
	switch {
	case s == "":
		return bad("empty")
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

// Match reports whether the device described by info is the one s names.
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
	}
	return "(no selector)"
}
