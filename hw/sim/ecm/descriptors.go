package ecm

import (
	"encoding/binary"
	"fmt"

	"dongle/hw"
)

// String indexes of the QEMU flavor (QEMU's usb_net_stringtable order).
const (
	qemuStrManufacturer = 1
	qemuStrProduct      = 2
	qemuStrEthAddr      = 3
	qemuStrData         = 4
	qemuStrControl      = 5
	qemuStrRNDISControl = 6
	qemuStrCDC          = 7
	qemuStrSubset       = 8
	qemuStrRNDIS        = 9
	qemuStrSerial       = 10
)

// qemuDevice is QEMU 7.2 usb-net's device descriptor, as captured.
var qemuDevice = []byte{
	0x12, 0x01, 0x00, 0x02, 0x02, 0x00, 0x00, 0x40, 0x25, 0x05, 0xa2, 0xa4, 0x00, 0x00,
	qemuStrManufacturer, qemuStrProduct, qemuStrSerial, 0x02,
}

// qemuRNDIS is configuration index 0 (bConfigurationValue 2, RNDIS), as
// captured. The model does not implement RNDIS: its requests stall.
var qemuRNDIS = []byte{
	0x09, 0x02, 0x43, 0x00, 0x02, 0x02, qemuStrRNDIS, 0xc0, 0x32,
	0x09, 0x04, 0x00, 0x00, 0x01, 0x02, 0x02, 0xff, qemuStrRNDISControl,
	0x05, 0x24, 0x00, 0x10, 0x01,
	0x05, 0x24, 0x01, 0x00, 0x01,
	0x04, 0x24, 0x02, 0x00,
	0x05, 0x24, 0x06, 0x00, 0x01,
	0x07, 0x05, 0x81, 0x03, 0x10, 0x00, 0x20,
	0x09, 0x04, 0x01, 0x00, 0x02, 0x0a, 0x00, 0x00, qemuStrData,
	0x07, 0x05, 0x82, 0x02, 0x40, 0x00, 0x00,
	0x07, 0x05, 0x02, 0x02, 0x40, 0x00, 0x00,
}

// cdcConfig builds a CDC-ECM configuration in QEMU's layout (the CDC
// configuration of the capture when p is qemuParams):
//
//	config ─ iface 0 (02/06/00) ─ header ─ union(0→1) ─ ethernet ─ ep 0x81 intr IN
//	       ─ iface 1 alt 0 (0a, no endpoints)
//	       ─ iface 1 alt 1 (0a) ─ ep 0x82 bulk IN ─ ep 0x02 bulk OUT
type cdcParams struct {
	value, iConfig, attributes, maxPower uint8
	iControl, iMAC, iDataAlt0, iDataAlt1 uint8
	iad                                  bool // Linux f_ecm puts an IAD first
	iFunction                            uint8
	intrInterval                         uint8
	bulk                                 uint16
	maxSegment, mcFilters                uint16
}

func cdcConfig(p cdcParams) []byte {
	b := []byte{0x09, 0x02, 0, 0, 0x02, p.value, p.iConfig, p.attributes, p.maxPower}
	if p.iad {
		b = append(b, 0x08, hw.DescIAD, 0x00, 0x02, 0x02, 0x06, 0x00, p.iFunction)
	}
	b = append(b,
		0x09, 0x04, 0x00, 0x00, 0x01, 0x02, 0x06, 0x00, p.iControl,
		0x05, 0x24, 0x00, 0x10, 0x01, // header, bcdCDC 1.10
		0x05, 0x24, 0x06, 0x00, 0x01, // union: master 0, slave 1
		0x0d, 0x24, 0x0f, p.iMAC, 0, 0, 0, 0, // ethernet: iMACAddress, bmEthernetStatistics
		byte(p.maxSegment), byte(p.maxSegment>>8), byte(p.mcFilters), byte(p.mcFilters>>8), 0x00,
		0x07, 0x05, 0x81, 0x03, 0x10, 0x00, p.intrInterval,
		0x09, 0x04, 0x01, 0x00, 0x00, 0x0a, 0x00, 0x00, p.iDataAlt0,
		0x09, 0x04, 0x01, 0x01, 0x02, 0x0a, 0x00, 0x00, p.iDataAlt1,
		0x07, 0x05, 0x82, 0x02, byte(p.bulk), byte(p.bulk>>8), 0x00,
		0x07, 0x05, 0x02, 0x02, byte(p.bulk), byte(p.bulk>>8), 0x00,
	)
	binary.LittleEndian.PutUint16(b[2:], uint16(len(b)))
	return b
}

func qemuParams(o *Options) cdcParams {
	return cdcParams{value: 1, iConfig: qemuStrCDC, attributes: 0xc0, maxPower: 0x32,
		iControl: qemuStrControl, iMAC: qemuStrEthAddr, iDataAlt1: qemuStrData,
		intrInterval: 0x20, bulk: o.bulk(), maxSegment: o.MaxSegmentSize, mcFilters: o.MCFilters}
}

// Gadget flavor strings (configfs: product and serial set by the lab
// fixture, manufacturer unset).
const (
	gadgetStrProduct = 1
	gadgetStrSerial  = 2
	gadgetStrMAC     = 3
	gadgetStrControl = 4
	gadgetStrData    = 5
)

func gadgetDevice() []byte {
	return []byte{0x12, 0x01, 0x00, 0x02, 0x00, 0x00, 0x00, 0x40, 0x09, 0x12, 0x01, 0x00, 0x01, 0x06,
		0x00, gadgetStrProduct, gadgetStrSerial, 0x01}
}

func gadgetParams(o *Options) cdcParams {
	interval := uint8(32) // ECM_STATUS_INTERVAL_MS at full speed
	if o.Speed >= hw.SpeedHigh {
		interval = 9 // 2^(9-1) microframes = 32 ms
	}
	return cdcParams{value: 1, attributes: 0x80, maxPower: 0x01, iad: true, iFunction: gadgetStrControl,
		iControl: gadgetStrControl, iMAC: gadgetStrMAC, iDataAlt0: gadgetStrData, iDataAlt1: gadgetStrData,
		intrInterval: interval, bulk: o.bulk(), maxSegment: o.MaxSegmentSize, mcFilters: o.MCFilters}
}

// walk calls f for each descriptor of a configuration set (stopping at the
// first whose bLength is unusable).
func walk(cfg []byte, f func(off int, d []byte)) {
	for off := 0; off+2 <= len(cfg); {
		l := int(cfg[off])
		if l < 2 || off+l > len(cfg) {
			return
		}
		f(off, cfg[off:off+l])
		off += l
	}
}

// Corruption presets for CorruptDescriptors: each edits a configuration set
// in place the way a broken or malicious device would, for a driver's
// validation specs. They leave sets without the feature untouched.

// ZeroMaxPacket sets every bulk endpoint's wMaxPacketSize to 0
// (CVE-2021-47495: a divide by zero in a driver that trusts it).
func ZeroMaxPacket(cfg []byte) {
	walk(cfg, func(_ int, d []byte) {
		if d[1] == hw.DescEndpoint && len(d) >= 7 && d[3]&3 == hw.XferBulk {
			d[4], d[5] = 0, 0
		}
	})
}

// ZeroMaxSegment sets the Ethernet functional descriptor's wMaxSegmentSize
// to 0 (CVE-2017-16649).
func ZeroMaxSegment(cfg []byte) {
	walk(cfg, func(_ int, d []byte) {
		if d[1] == hw.DescCSInterface && len(d) >= 13 && d[2] == 0x0f {
			d[8], d[9] = 0, 0
		}
	})
}

// LyingLength makes the Ethernet functional descriptor's bLength claim 0xf0
// bytes, running past the end of the set (CVE-2017-16534).
func LyingLength(cfg []byte) {
	walk(cfg, func(_ int, d []byte) {
		if d[1] == hw.DescCSInterface && len(d) >= 3 && d[2] == 0x0f {
			d[0] = 0xf0
		}
	})
}

// NoUnion turns the union functional descriptor into an unknown subtype
// (0xfe), so the set has no union.
func NoUnion(cfg []byte) {
	walk(cfg, func(_ int, d []byte) {
		if d[1] == hw.DescCSInterface && len(d) >= 3 && d[2] == 0x06 {
			d[2] = 0xfe
		}
	})
}

// UnionSlaveNotData makes the union's slave interface (interface 1) vendor
// class 0xff instead of CDC data 0x0a.
func UnionSlaveNotData(cfg []byte) {
	walk(cfg, func(_ int, d []byte) {
		if d[1] == hw.DescInterface && len(d) >= 9 && d[2] == 1 && d[5] == 0x0a {
			d[5] = 0xff
		}
	})
}

// IntrAsBulk makes the status endpoint 0x81 bulk instead of interrupt
// (CVE-2023-53548: an endpoint type that does not match its use).
func IntrAsBulk(cfg []byte) {
	walk(cfg, func(_ int, d []byte) {
		if d[1] == hw.DescEndpoint && len(d) >= 7 && d[2] == 0x81 {
			d[3] = hw.XferBulk
		}
	})
}

// BadMACStrings are iMACAddress strings a driver must reject: too short,
// too long, not hex.
var BadMACStrings = []string{"5254001234", "52540012345600", "52540012345G", ""}

// validMAC reports whether s is 12 hex digits, and the address.
func parseMAC(s string) ([6]byte, error) {
	var a [6]byte
	if len(s) != 12 {
		return a, fmt.Errorf("ecm: MAC string %q is %d characters, need 12", s, len(s))
	}
	for i := 0; i < 12; i++ {
		c := s[i]
		var v byte
		switch {
		case c >= '0' && c <= '9':
			v = c - '0'
		case c >= 'a' && c <= 'f':
			v = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			v = c - 'A' + 10
		default:
			return a, fmt.Errorf("ecm: MAC string %q has non-hex %q", s, c)
		}
		a[i/2] = a[i/2]<<4 | v
	}
	return a, nil
}
