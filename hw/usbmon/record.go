package usbmon

import (
	"fmt"
	"time"

	"dongle/hw"
)

// LinkType is a pcap link type of a usbmon capture.
type LinkType uint32

const (
	// LinkTypeLinux is LINKTYPE_USB_LINUX: the 48-byte header.
	LinkTypeLinux LinkType = 189
	// LinkTypeMmapped is LINKTYPE_USB_LINUX_MMAPPED: the 64-byte header.
	// dongle writes only this one.
	LinkTypeMmapped LinkType = 220
)

// Header sizes of the two link types.
const (
	HeaderLenLinux   = 48
	HeaderLenMmapped = 64
	// IsoDescLen is the size of one isochronous descriptor after a 220 header.
	IsoDescLen = 16
)

// Supported reports whether Reader reads the link type: usbmon's two and
// USBPcap's.
func (lt LinkType) Supported() bool { return lt.HeaderLen() != 0 || lt == LinkTypeUSBPcap }

// HeaderLen is the record header size of the link type, or 0 if lt is not usbmon.
func (lt LinkType) HeaderLen() int {
	switch lt {
	case LinkTypeLinux:
		return HeaderLenLinux
	case LinkTypeMmapped:
		return HeaderLenMmapped
	}
	return 0
}

func (lt LinkType) String() string {
	switch lt {
	case LinkTypeLinux:
		return "usb-linux(189)"
	case LinkTypeMmapped:
		return "usb-linux-mmapped(220)"
	case LinkTypeUSBPcap:
		return "usbpcap(249)"
	}
	return fmt.Sprintf("linktype(%d)", uint32(lt))
}

// Event is the record type byte.
type Event uint8

const (
	Submit   Event = 'S' // URB submitted
	Complete Event = 'C' // URB completed (also: cancelled, failed)
	Error    Event = 'E' // submission failed (follows the 'S')
)

func (e Event) String() string {
	switch e {
	case Submit, Complete, Error:
		return string(rune(e))
	}
	return fmt.Sprintf("%#02x", uint8(e))
}

// XferType is usbmon's transfer type numbering, which is not the
// descriptor's: usbmon has control=2 and bulk=3 where bmAttributes has
// control=0 and bulk=2.
type XferType uint8

const (
	XferIso       XferType = 0
	XferInterrupt XferType = 1
	XferControl   XferType = 2
	XferBulk      XferType = 3
)

var xferNames = [...]string{"isochronous", "interrupt", "control", "bulk"}

func (x XferType) String() string {
	if int(x) < len(xferNames) {
		return xferNames[x]
	}
	return fmt.Sprintf("xfer(%d)", uint8(x))
}

// XferTypeOf maps an endpoint descriptor's transfer type (hw.XferBulk, ...)
// onto usbmon's numbering.
func XferTypeOf(descType uint8) XferType {
	switch descType & 3 {
	case hw.XferIsochronous:
		return XferIso
	case hw.XferInterrupt:
		return XferInterrupt
	case hw.XferBulk:
		return XferBulk
	}
	return XferControl
}

// DescType is XferTypeOf's inverse: the transfer type in an endpoint
// descriptor's numbering (hw.XferBulk, ...); anything usbmon does not name
// is control.
func (x XferType) DescType() uint8 {
	switch x {
	case XferIso:
		return hw.XferIsochronous
	case XferInterrupt:
		return hw.XferInterrupt
	case XferBulk:
		return hw.XferBulk
	}
	return hw.XferControl
}

// Flag values. FlagSetup is 0 when Setup holds a setup packet ('-' when it
// does not); FlagData is 0 when data follows, '<' for an IN submission and
// '>' for an OUT completion (nothing to capture), '=' for QEMU's "present".
const (
	FlagPresent    uint8 = 0
	FlagNoSetup    uint8 = '-'
	FlagDataIn     uint8 = '<'
	FlagDataOut    uint8 = '>'
	FlagDataQEMU   uint8 = '='
	FlagDataLength uint8 = 'L' // kernel: data length is 0
	FlagDataZero   uint8 = 'Z'
)

// Record is one usbmon event: every field of the 64-byte header, and the
// captured data. The fields the 48-byte header lacks (Interval, StartFrame,
// XferFlags, NDesc) are zero for link type 189.
type Record struct {
	ID         uint64   // URB tag (kernel: the URB's address; QEMU: 0 for control)
	Type       Event    // 'S', 'C' or 'E'
	XferType   XferType // usbmon numbering: 0 iso, 1 interrupt, 2 control, 3 bulk
	Endpoint   uint8    // epnum: endpoint number, bit 7 set for IN
	Device     uint8    // devnum
	Bus        uint16   // busnum
	FlagSetup  uint8    // 0: Setup holds a setup packet
	FlagData   uint8    // 0 (or QEMU's '='): data follows
	TsSec      int64
	TsUsec     int32
	Status     int32  // 0 or a negative Linux errno
	Length     uint32 // URB length: requested (S) or transferred (C)
	LenCap     uint32 // len_cap exactly as in the file (see Decode for the conventions)
	Setup      [8]byte
	Interval   int32
	StartFrame int32
	XferFlags  uint32
	NDesc      uint32
	// IsoDesc holds the NDesc isochronous descriptors of a 220 record (16
	// bytes each), nil otherwise.
	IsoDesc []byte
	// Data is the captured data: len(Data) <= Length when the capture was
	// cut (see Truncated).
	Data []byte
}

// In reports whether the endpoint is IN. For control records it is the
// direction usbmon logged in epnum (the kernel and QEMU both set it from
// bmRequestType).
func (r *Record) In() bool { return r.Endpoint&0x80 != 0 }

// Time is the record's timestamp.
func (r *Record) Time() time.Time { return time.Unix(r.TsSec, int64(r.TsUsec)*1000) }

// SetTime sets TsSec and TsUsec from t.
func (r *Record) SetTime(t time.Time) {
	r.TsSec = t.Unix()
	r.TsUsec = int32(t.Nanosecond() / 1000)
}

// HasSetup reports whether Setup holds a setup packet.
func (r *Record) HasSetup() bool {
	return r.FlagSetup == FlagPresent && r.XferType == XferControl && r.Type == Submit
}

// SetupPacket returns the decoded setup packet; ok is false if there is none.
func (r *Record) SetupPacket() (s hw.Setup, ok bool) {
	if !r.HasSetup() {
		return hw.Setup{}, false
	}
	return hw.ParseSetup(r.Setup[:])
}

// HasData reports whether the record says data follows the header.
func (r *Record) HasData() bool { return r.FlagData == FlagPresent || r.FlagData == FlagDataQEMU }

// Truncated reports whether the capture holds fewer data bytes than the URB
// carried: QEMU's 256-byte bulk cut, a snaplen, or usbmon's own buffer limit.
func (r *Record) Truncated() bool {
	return r.HasData() && r.carriesData() && uint32(len(r.Data)) < r.Length
}

// carriesData: only an OUT submission or an IN completion has data on the wire.
func (r *Record) carriesData() bool {
	switch r.Type {
	case Submit:
		return !r.In()
	case Complete:
		return r.In()
	}
	return false
}

func (r *Record) String() string {
	s := fmt.Sprintf("%c %s ep %#02x dev %d bus %d id %#x status %d len %d/%d", rune(r.Type), r.XferType, r.Endpoint, r.Device, r.Bus, r.ID, r.Status, len(r.Data), r.Length)
	if sp, ok := r.SetupPacket(); ok {
		s += " setup " + sp.String()
	}
	return s
}
