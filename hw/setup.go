package hw

import (
	"encoding/binary"
	"fmt"
)

// Setup is a control transfer's 8-byte setup packet.
type Setup struct {
	RequestType uint8 // bmRequestType: direction, type, recipient
	Request     uint8 // bRequest
	Value       uint16
	Index       uint16
	Length      uint16 // wLength
}

// bmRequestType bits.
const (
	DirOut uint8 = 0x00
	DirIn  uint8 = 0x80

	TypeStandard uint8 = 0x00
	TypeClass    uint8 = 0x20
	TypeVendor   uint8 = 0x40

	RecipDevice    uint8 = 0x00
	RecipInterface uint8 = 0x01
	RecipEndpoint  uint8 = 0x02
	RecipOther     uint8 = 0x03
)

// Standard requests (USB 2.0 §9.4).
const (
	ReqGetStatus        uint8 = 0x00
	ReqClearFeature     uint8 = 0x01
	ReqSetFeature       uint8 = 0x03
	ReqSetAddress       uint8 = 0x05
	ReqGetDescriptor    uint8 = 0x06
	ReqSetDescriptor    uint8 = 0x07
	ReqGetConfiguration uint8 = 0x08
	ReqSetConfiguration uint8 = 0x09
	ReqGetInterface     uint8 = 0x0a
	ReqSetInterface     uint8 = 0x0b
)

// In reports whether the request reads from the device.
func (s Setup) In() bool { return s.RequestType&DirIn != 0 }

// Bytes encodes the setup packet as on the wire (little-endian fields).
func (s Setup) Bytes() [8]byte {
	var b [8]byte
	b[0], b[1] = s.RequestType, s.Request
	binary.LittleEndian.PutUint16(b[2:], s.Value)
	binary.LittleEndian.PutUint16(b[4:], s.Index)
	binary.LittleEndian.PutUint16(b[6:], s.Length)
	return b
}

// ParseSetup decodes an 8-byte setup packet; ok is false if b is short.
func ParseSetup(b []byte) (s Setup, ok bool) {
	if len(b) < 8 {
		return Setup{}, false
	}
	return Setup{b[0], b[1], binary.LittleEndian.Uint16(b[2:]), binary.LittleEndian.Uint16(b[4:]), binary.LittleEndian.Uint16(b[6:])}, true
}

func (s Setup) String() string {
	return fmt.Sprintf("%02x %02x %04x %04x %04x", s.RequestType, s.Request, s.Value, s.Index, s.Length)
}
