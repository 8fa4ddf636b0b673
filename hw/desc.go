package hw

import (
	"context"
	"encoding/binary"
	"fmt"
	"unicode/utf16"
)

// Descriptor types (USB 2.0 table 9-5) and the class-specific ones CDC uses.
const (
	DescDevice          uint8 = 0x01
	DescConfig          uint8 = 0x02
	DescString          uint8 = 0x03
	DescInterface       uint8 = 0x04
	DescEndpoint        uint8 = 0x05
	DescDeviceQualifier uint8 = 0x06
	DescIAD             uint8 = 0x0b
	DescBOS             uint8 = 0x0f
	DescCSInterface     uint8 = 0x24
	DescCSEndpoint      uint8 = 0x25
	DescSSEndpointComp  uint8 = 0x30
)

// Endpoint transfer types (bmAttributes bits 1:0).
const (
	XferControl     uint8 = 0
	XferIsochronous uint8 = 1
	XferBulk        uint8 = 2
	XferInterrupt   uint8 = 3
)

// DescError is a malformed descriptor: which one, where, and why.
type DescError struct {
	What   string // "configuration 1", "interface 0 alt 1 endpoint 0x82"
	Offset int    // byte offset in the descriptor set
	Reason string
}

func (e *DescError) Error() string {
	return fmt.Sprintf("bad descriptor: %s at byte %d: %s", e.What, e.Offset, e.Reason)
}

// DeviceDescriptor is the 18-byte device descriptor.
type DeviceDescriptor struct {
	USB               uint16 // bcdUSB
	Class             uint8
	SubClass          uint8
	Protocol          uint8
	MaxPacketSize0    uint8
	Vendor            uint16
	Product           uint16
	Device            uint16 // bcdDevice
	Manufacturer      uint8  // string index
	ProductStr        uint8  // string index
	Serial            uint8  // string index
	NumConfigurations uint8
}

// ParseDeviceDescriptor decodes an 18-byte device descriptor.
func ParseDeviceDescriptor(b []byte) (*DeviceDescriptor, error) {
	if len(b) < 18 {
		return nil, &DescError{"device descriptor", 0, fmt.Sprintf("%d bytes, need 18", len(b))}
	}
	if b[0] < 18 || b[1] != DescDevice {
		return nil, &DescError{"device descriptor", 0, fmt.Sprintf("bLength %d bDescriptorType %#x", b[0], b[1])}
	}
	le := binary.LittleEndian
	return &DeviceDescriptor{
		USB: le.Uint16(b[2:]), Class: b[4], SubClass: b[5], Protocol: b[6], MaxPacketSize0: b[7],
		Vendor: le.Uint16(b[8:]), Product: le.Uint16(b[10:]), Device: le.Uint16(b[12:]),
		Manufacturer: b[14], ProductStr: b[15], Serial: b[16], NumConfigurations: b[17],
	}, nil
}

// EndpointDesc is an endpoint descriptor and the class-specific bytes after it.
type EndpointDesc struct {
	Address       uint8 // bit 7 set for IN
	Attributes    uint8
	MaxPacketSize uint16 // bits 10:0 of wMaxPacketSize
	Interval      uint8
	Extra         []byte // descriptors following it (SS companion, CS endpoint)
}

// In reports whether the endpoint is IN (device to host).
func (e EndpointDesc) In() bool { return e.Address&0x80 != 0 }

// Type is the transfer type (XferBulk, XferInterrupt, ...).
func (e EndpointDesc) Type() uint8 { return e.Attributes & 3 }

func (e EndpointDesc) String() string {
	dir := "OUT"
	if e.In() {
		dir = "IN"
	}
	t := [...]string{"control", "isochronous", "bulk", "interrupt"}[e.Type()]
	return fmt.Sprintf("%s %s %#02x", t, dir, e.Address)
}

// AltSetting is one alternate setting of an interface.
type AltSetting struct {
	Number     uint8 // bInterfaceNumber
	Alternate  uint8 // bAlternateSetting
	Class      uint8
	SubClass   uint8
	Protocol   uint8
	String     uint8 // iInterface
	Endpoints  []EndpointDesc
	Extra      []byte // class-specific descriptors between the interface and its first endpoint
	declaredEP uint8
}

// Interface is an interface with all its alternate settings, in order.
type Interface struct {
	Number uint8
	Alts   []AltSetting
}

// Config is a parsed configuration descriptor set.
type Config struct {
	Value      uint8 // bConfigurationValue
	String     uint8 // iConfiguration
	Attributes uint8
	MaxPower   uint8 // in units of 2 mA (8 mA at SuperSpeed)
	Interfaces []Interface
	Extra      []byte // descriptors before the first interface (IADs, ...)
	Raw        []byte // the whole wTotalLength bytes
}

// Interface returns the interface with bInterfaceNumber n, or nil.
func (c *Config) Interface(n uint8) *Interface {
	for i := range c.Interfaces {
		if c.Interfaces[i].Number == n {
			return &c.Interfaces[i]
		}
	}
	return nil
}

// ParseConfig decodes a full configuration descriptor set. It is as strict as
// Linux's usb_parse_configuration about lengths: a descriptor whose bLength
// is under 2 or runs past the end, a wTotalLength that disagrees with the
// data, or an interface/endpoint descriptor shorter than its type's size is
// an error naming the descriptor and its offset (CVE-2017-16534 class bugs
// come from trusting these).
func ParseConfig(b []byte) (*Config, error) {
	if len(b) < 9 {
		return nil, &DescError{"configuration", 0, fmt.Sprintf("%d bytes, need at least 9", len(b))}
	}
	if b[1] != DescConfig || b[0] < 9 {
		return nil, &DescError{"configuration", 0, fmt.Sprintf("bLength %d bDescriptorType %#x", b[0], b[1])}
	}
	total := int(binary.LittleEndian.Uint16(b[2:]))
	if total < int(b[0]) {
		return nil, &DescError{"configuration", 2, fmt.Sprintf("wTotalLength %d shorter than the header", total)}
	}
	if total > len(b) {
		return nil, &DescError{"configuration", 2, fmt.Sprintf("wTotalLength %d but only %d bytes", total, len(b))}
	}
	b = b[:total]
	c := &Config{Value: b[5], String: b[6], Attributes: b[7], MaxPower: b[8], Raw: b}
	what := fmt.Sprintf("configuration %d", c.Value)
	var alt *AltSetting
	var ep *EndpointDesc
	for off := int(b[0]); off < len(b); {
		if len(b)-off < 2 {
			return nil, &DescError{what, off, "trailing byte after the last descriptor"}
		}
		l, t := int(b[off]), b[off+1]
		if l < 2 {
			return nil, &DescError{what, off, fmt.Sprintf("descriptor type %#x with bLength %d", t, l)}
		}
		if off+l > len(b) {
			return nil, &DescError{what, off, fmt.Sprintf("descriptor type %#x with bLength %d runs %d bytes past the end", t, l, off+l-len(b))}
		}
		d := b[off : off+l]
		switch t {
		case DescInterface:
			if l < 9 {
				return nil, &DescError{what, off, fmt.Sprintf("interface descriptor bLength %d, need 9", l)}
			}
			if alt != nil && int(alt.declaredEP) != len(alt.Endpoints) {
				return nil, &DescError{fmt.Sprintf("interface %d alt %d", alt.Number, alt.Alternate), off, fmt.Sprintf("bNumEndpoints %d but %d endpoint descriptors", alt.declaredEP, len(alt.Endpoints))}
			}
			a := AltSetting{Number: d[2], Alternate: d[3], declaredEP: d[4], Class: d[5], SubClass: d[6], Protocol: d[7], String: d[8]}
			in := c.Interface(a.Number)
			if in == nil {
				c.Interfaces = append(c.Interfaces, Interface{Number: a.Number})
				in = &c.Interfaces[len(c.Interfaces)-1]
			}
			in.Alts = append(in.Alts, a)
			alt, ep = &in.Alts[len(in.Alts)-1], nil
		case DescEndpoint:
			if alt == nil {
				return nil, &DescError{what, off, "endpoint descriptor before any interface"}
			}
			if l < 7 {
				return nil, &DescError{fmt.Sprintf("interface %d alt %d", alt.Number, alt.Alternate), off, fmt.Sprintf("endpoint descriptor bLength %d, need 7", l)}
			}
			alt.Endpoints = append(alt.Endpoints, EndpointDesc{Address: d[2], Attributes: d[3], MaxPacketSize: binary.LittleEndian.Uint16(d[4:]) & 0x7ff, Interval: d[6]})
			ep = &alt.Endpoints[len(alt.Endpoints)-1]
		default:
			switch {
			case ep != nil:
				ep.Extra = append(ep.Extra, d...)
			case alt != nil:
				alt.Extra = append(alt.Extra, d...)
			default:
				c.Extra = append(c.Extra, d...)
			}
		}
		off += l
	}
	if alt != nil && int(alt.declaredEP) != len(alt.Endpoints) {
		return nil, &DescError{fmt.Sprintf("interface %d alt %d", alt.Number, alt.Alternate), len(b), fmt.Sprintf("bNumEndpoints %d but %d endpoint descriptors", alt.declaredEP, len(alt.Endpoints))}
	}
	return c, nil
}

// Descriptors splits a run of descriptors (an Extra field) into its parts,
// checking every bLength.
func Descriptors(extra []byte) ([][]byte, error) {
	var out [][]byte
	for off := 0; off < len(extra); {
		if len(extra)-off < 2 {
			return out, &DescError{"class-specific descriptors", off, "trailing byte"}
		}
		l := int(extra[off])
		if l < 2 || off+l > len(extra) {
			return out, &DescError{"class-specific descriptors", off, fmt.Sprintf("bLength %d with %d bytes left", l, len(extra)-off)}
		}
		out = append(out, extra[off:off+l])
		off += l
	}
	return out, nil
}

func getDescriptor(ctx context.Context, d Device, typ, index uint8, lang uint16, buf []byte) (int, error) {
	return d.Control(ctx, Setup{RequestType: DirIn | TypeStandard | RecipDevice, Request: ReqGetDescriptor,
		Value: uint16(typ)<<8 | uint16(index), Index: lang, Length: uint16(len(buf))}, buf)
}

// ReadDeviceDescriptor reads and parses the device descriptor.
func ReadDeviceDescriptor(ctx context.Context, d Device) (*DeviceDescriptor, error) {
	buf := make([]byte, 18)
	n, err := getDescriptor(ctx, d, DescDevice, 0, 0, buf)
	if err != nil {
		return nil, Errorf(d.Info().Name()+": GET_DESCRIPTOR(device)", err)
	}
	dd, err := ParseDeviceDescriptor(buf[:n])
	if err != nil {
		return nil, fmt.Errorf("%s: %w", d.Info().Name(), err)
	}
	return dd, nil
}

// ReadConfig reads configuration descriptor set number index (0-based) and
// parses it: first the 9-byte header for wTotalLength, then the whole set.
func ReadConfig(ctx context.Context, d Device, index uint8) (*Config, error) {
	name := fmt.Sprintf("%s: GET_DESCRIPTOR(configuration %d)", d.Info().Name(), index)
	hdr := make([]byte, 9)
	n, err := getDescriptor(ctx, d, DescConfig, index, 0, hdr)
	if err != nil {
		return nil, Errorf(name, err)
	}
	if n < 9 {
		return nil, Errorf(name, fmt.Errorf("%w: %d of 9 header bytes", ErrShort, n))
	}
	total := int(binary.LittleEndian.Uint16(hdr[2:]))
	if total < 9 {
		return nil, fmt.Errorf("%s: %w", name, &DescError{"configuration", 2, fmt.Sprintf("wTotalLength %d", total)})
	}
	buf := make([]byte, total)
	n, err = getDescriptor(ctx, d, DescConfig, index, 0, buf)
	if err != nil {
		return nil, Errorf(name, err)
	}
	c, err := ParseConfig(buf[:n])
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return c, nil
}

// LangEnglishUS is the language ID dongle asks strings in when the device
// lists it (and the first listed language otherwise).
const LangEnglishUS uint16 = 0x0409

// ReadString reads string descriptor index in the device's first language
// (English-US if offered). Index 0 is "no string" and returns "".
func ReadString(ctx context.Context, d Device, index uint8) (string, error) {
	if index == 0 {
		return "", nil
	}
	name := fmt.Sprintf("%s: GET_DESCRIPTOR(string %d)", d.Info().Name(), index)
	buf := make([]byte, 255)
	n, err := getDescriptor(ctx, d, DescString, 0, 0, buf)
	if err != nil {
		return "", Errorf(name+" language list", err)
	}
	lang := LangEnglishUS
	if n >= 4 {
		lang = binary.LittleEndian.Uint16(buf[2:])
		for i := 2; i+1 < n; i += 2 {
			if binary.LittleEndian.Uint16(buf[i:]) == LangEnglishUS {
				lang = LangEnglishUS
			}
		}
	}
	n, err = getDescriptor(ctx, d, DescString, index, lang, buf)
	if err != nil {
		return "", Errorf(name, err)
	}
	return ParseString(buf[:n])
}

// ParseString decodes a UTF-16LE string descriptor.
func ParseString(b []byte) (string, error) {
	if len(b) < 2 || b[1] != DescString {
		return "", &DescError{"string descriptor", 0, fmt.Sprintf("%d bytes, not a string descriptor", len(b))}
	}
	l := int(b[0])
	if l > len(b) {
		return "", &DescError{"string descriptor", 0, fmt.Sprintf("bLength %d but %d bytes", l, len(b))}
	}
	if l%2 != 0 {
		l--
	}
	u := make([]uint16, 0, (l-2)/2)
	for i := 2; i+1 < l; i += 2 {
		u = append(u, binary.LittleEndian.Uint16(b[i:]))
	}
	return string(utf16.Decode(u)), nil
}

// EncodeString encodes s as a string descriptor (for device models).
func EncodeString(s string) []byte {
	u := utf16.Encode([]rune(s))
	if len(u) > 126 {
		u = u[:126]
	}
	b := make([]byte, 2+2*len(u))
	b[0], b[1] = byte(len(b)), DescString
	for i, r := range u {
		binary.LittleEndian.PutUint16(b[2+2*i:], r)
	}
	return b
}
