package cdcecm

import (
	"encoding/binary"
	"fmt"
	"strings"

	"dongle/hw"
	"dongle/usbnet"
)

var _ usbnet.ClassDescriber = Driver{}

// DescribeDescriptor implements usbnet.ClassDescriber for CDC functional
// descriptors (CS_INTERFACE): Header, Union and Ethernet decoded and
// checked as Parse checks them, the other CDC subtypes named, except the
// NCM functional descriptor, which it leaves to cdc_ncm.
func (Driver) DescribeDescriptor(d []byte, str func(uint8) string) (string, []string, bool) {
	if len(d) < 3 || d[1] != hw.DescCSInterface {
		return "", nil, false
	}
	le := binary.LittleEndian
	switch d[2] {
	case SubtypeHeader:
		if len(d) >= HeaderLen {
			return fmt.Sprintf("CDC Header: bcdCDC %x.%02x", d[4], d[3]), nil, true
		}
	case SubtypeUnion:
		if len(d) >= UnionMinLen {
			slaves := make([]string, 0, len(d)-4)
			for _, x := range d[4:] {
				slaves = append(slaves, fmt.Sprint(x))
			}
			return fmt.Sprintf("CDC Union: master interface %d, slave interface(s) %s", d[3], strings.Join(slaves, ",")), nil, true
		}
	case SubtypeEthernet:
		if len(d) < EthernetLen {
			return fmt.Sprintf("CDC Ethernet functional descriptor, %d bytes", len(d)),
				[]string{fmt.Sprintf("CDC Ethernet functional descriptor: %d bytes, need %d", len(d), EthernetLen)}, true
		}
		var problems []string
		mac := str(d[3])
		note := ""
		if _, err := ParseMAC(mac); err != nil {
			note = " (INVALID)"
			problems = append(problems, fmt.Sprintf("iMACAddress (string %d) %q: %v", d[3], mac, err))
		}
		if le.Uint16(d[8:]) < MinMaxSegment {
			problems = append(problems, fmt.Sprintf("wMaxSegmentSize %d below %d", le.Uint16(d[8:]), MinMaxSegment))
		}
		return fmt.Sprintf("CDC Ethernet: iMACAddress %d %q%s, bmEthernetStatistics %#08x, wMaxSegmentSize %d, wNumberMCFilters %#04x, bNumberPowerFilters %d",
			d[3], mac, note, le.Uint32(d[4:]), le.Uint16(d[8:]), le.Uint16(d[10:]), d[12]), problems, true
	case 0x01:
		if len(d) >= 4 {
			return fmt.Sprintf("CDC Call Management: bmCapabilities %#02x", d[3]), nil, true
		}
	case 0x02:
		if len(d) >= 4 {
			return fmt.Sprintf("CDC ACM: bmCapabilities %#02x", d[3]), nil, true
		}
	case 0x1a:
		// The NCM functional descriptor is cdc_ncm's (usbnet/cdcncm):
		// diag asks every driver, and the first that answers wins.
		return "", nil, false
	}
	return fmt.Sprintf("CDC subtype %#02x, %d bytes", d[2], len(d)), nil, true
}
