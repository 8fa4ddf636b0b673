package cdcecm

import (
	"encoding/binary"
	"errors"
	"fmt"

	"dongle/hw"
)

// CDC constants (include/uapi/linux/usb/cdc.h).
const (
	ClassComm        = 0x02 // USB_CLASS_COMM
	ClassCDCData     = 0x0a // USB_CLASS_CDC_DATA
	SubClassEthernet = 0x06 // USB_CDC_SUBCLASS_ETHERNET
	ProtoNone        = 0x00 // USB_CDC_PROTO_NONE

	SubtypeHeader   = 0x00 // USB_CDC_HEADER_TYPE
	SubtypeUnion    = 0x06 // USB_CDC_UNION_TYPE
	SubtypeEthernet = 0x0f // USB_CDC_ETHERNET_TYPE

	// True sizes of the functional descriptors Bind needs.
	HeaderLen   = 5  // struct usb_cdc_header_desc
	UnionMinLen = 5  // struct usb_cdc_union_desc (one slave at least)
	EthernetLen = 13 // struct usb_cdc_ether_desc

	// MaxAlts is how many alternate settings of the data interface are
	// scanned for the bulk pair (FreeBSD if_cdce.c: some devices list
	// alternates without IN or OUT).
	MaxAlts = 32
	// NotificationLen is the size of a notification header; the status
	// endpoint must take at least that much per packet.
	NotificationLen = 8
)

// Descriptor validation errors. Each error Bind returns wraps exactly one
// of them and names the interface, descriptor and value at fault.
var (
	ErrNoFunctional     = errors.New("no CDC functional descriptors")
	ErrMissingHeader    = errors.New("missing CDC header functional descriptor")
	ErrMissingUnion     = errors.New("missing CDC union functional descriptor")
	ErrMissingEthernet  = errors.New("missing CDC Ethernet functional descriptor")
	ErrDuplicate        = errors.New("duplicate CDC functional descriptor")
	ErrDescriptorLength = errors.New("CDC functional descriptor has the wrong bLength")
	ErrUnionInterface   = errors.New("CDC union names an interface the configuration lacks or that is not this function's")
	ErrDataClass        = errors.New("CDC union slave is not a CDC data interface")
	ErrNoBulkPair       = errors.New("no alternate setting of the data interface has a bulk IN/OUT pair")
	ErrEndpointType     = errors.New("endpoint of the wrong transfer type where bulk is expected")
	ErrZeroMaxPacket    = errors.New("endpoint with wMaxPacketSize 0")
	ErrZeroMaxSegment   = errors.New("wMaxSegmentSize too small")
	ErrBadMAC           = errors.New("iMACAddress is not 12 hex digits")
)

// MinMaxSegment is the smallest wMaxSegmentSize accepted: an Ethernet
// header plus the minimum IPv4 MTU (68). 0 is CVE-2017-16649's
// divide-by-zero; anything under this would give a negative or useless MTU.
const MinMaxSegment = 14 + 68

// Function is what the descriptors say about one CDC-ECM function.
type Function struct {
	Control, Data uint8 // bInterfaceNumber of the communication and data interfaces
	DataAlt       uint8 // the data interface's alternate setting with the bulk pair
	Swapped       bool  // the union named master and slave the wrong way round
	In, Out       hw.EndpointDesc
	Status        hw.EndpointDesc // zero Address: none usable

	MACIndex       uint8  // iMACAddress
	Statistics     uint32 // bmEthernetStatistics
	MaxSegmentSize uint16 // wMaxSegmentSize: the largest frame, header included
	NumMCFilters   uint16 // wNumberMCFilters bits 14:0
	MCImperfect    bool   // wNumberMCFilters bit 15: the filters hash
	PowerFilters   uint8  // bNumberPowerFilters
}

// Parse validates the CDC-ECM function whose communication interface is
// intf in cfg, as strictly as Linux's usbnet_generic_cdc_bind and
// usbnet_get_endpoints (and FreeBSD's alternate-setting scan):
//
//   - the class-specific descriptors follow the interface descriptor (or,
//     as Linux tolerates, its first endpoint's);
//   - header, union and Ethernet functional descriptors appear once each
//     with their true sizes (5, ≥5, 13): a lying bLength is an error;
//   - the union's master is intf and its slave a CDC data interface (a
//     union naming them the other way round is accepted, as Linux does for
//     the Ambit cable modem);
//   - a data alternate setting (of the first MaxAlts) has a bulk IN and a
//     bulk OUT endpoint with non-zero wMaxPacketSize; an interrupt or
//     isochronous endpoint where bulk is expected is rejected
//     (CVE-2023-53548), as is wMaxPacketSize 0 (CVE-2021-47495);
//   - wMaxSegmentSize is at least MinMaxSegment (CVE-2017-16649);
//   - the notification endpoint is used only if it is the control
//     interface's one endpoint, interrupt IN, wMaxPacketSize ≥ 8 and
//     bInterval ≠ 0; otherwise the function has no status endpoint (not an
//     error, as in Linux).
func Parse(cfg *hw.Config, intf uint8) (*Function, error) {
	ctl := cfg.Interface(intf)
	if ctl == nil || len(ctl.Alts) == 0 {
		return nil, fmt.Errorf("interface %d: %w", intf, ErrUnionInterface)
	}
	alt := &ctl.Alts[0]
	where := fmt.Sprintf("interface %d", intf)
	extra := alt.Extra
	if len(extra) == 0 && len(alt.Endpoints) > 0 {
		extra = alt.Endpoints[0].Extra // descriptors misplaced after the endpoint
		where += " endpoint " + fmt.Sprintf("%#02x", alt.Endpoints[0].Address)
	}
	if len(extra) == 0 {
		return nil, fmt.Errorf("%s: %w", where, ErrNoFunctional)
	}
	descs, err := hw.Descriptors(extra)
	if err != nil {
		return nil, fmt.Errorf("%s: %w: %w", where, ErrDescriptorLength, err)
	}
	var header, union, ether []byte
	once := func(name string, p *[]byte, d []byte, ok bool, want string) error {
		if !ok {
			return fmt.Errorf("%s: %s functional descriptor bLength %d, want %s: %w", where, name, len(d), want, ErrDescriptorLength)
		}
		if *p != nil {
			return fmt.Errorf("%s: second %s functional descriptor: %w", where, name, ErrDuplicate)
		}
		*p = d
		return nil
	}
	for _, d := range descs {
		if len(d) < 3 || d[1] != hw.DescCSInterface {
			continue
		}
		switch d[2] {
		case SubtypeHeader:
			err = once("header", &header, d, len(d) == HeaderLen, "5")
		case SubtypeUnion:
			err = once("union", &union, d, len(d) >= UnionMinLen, "at least 5")
		case SubtypeEthernet:
			err = once("Ethernet", &ether, d, len(d) == EthernetLen, "13")
		}
		if err != nil {
			return nil, err
		}
	}
	switch {
	case header == nil:
		return nil, fmt.Errorf("%s: %w", where, ErrMissingHeader)
	case union == nil:
		return nil, fmt.Errorf("%s: %w", where, ErrMissingUnion)
	case ether == nil:
		return nil, fmt.Errorf("%s: %w", where, ErrMissingEthernet)
	}

	f := &Function{Control: union[3], Data: union[4]}
	if f.Control != intf {
		if f.Data != intf {
			return nil, fmt.Errorf("%s: union master %d slave %d: %w", where, f.Control, f.Data, ErrUnionInterface)
		}
		f.Control, f.Data, f.Swapped = f.Data, f.Control, true
	}
	if f.Data == f.Control {
		return nil, fmt.Errorf("%s: union slave is the master itself: %w", where, ErrDataClass)
	}
	data := cfg.Interface(f.Data)
	if data == nil || len(data.Alts) == 0 {
		return nil, fmt.Errorf("%s: union slave interface %d not in configuration %d: %w", where, f.Data, cfg.Value, ErrUnionInterface)
	}
	if c := data.Alts[0].Class; c != ClassCDCData {
		return nil, fmt.Errorf("%s: union slave interface %d has class %#02x, want %#02x: %w", where, f.Data, c, ClassCDCData, ErrDataClass)
	}

	le := binary.LittleEndian
	f.MACIndex = ether[3]
	f.Statistics = le.Uint32(ether[4:])
	f.MaxSegmentSize = le.Uint16(ether[8:])
	mc := le.Uint16(ether[10:])
	f.NumMCFilters, f.MCImperfect = mc&0x7fff, mc&0x8000 != 0
	f.PowerFilters = ether[12]
	if f.MaxSegmentSize < MinMaxSegment {
		return nil, fmt.Errorf("%s: Ethernet functional descriptor wMaxSegmentSize %d, need at least %d: %w", where, f.MaxSegmentSize, MinMaxSegment, ErrZeroMaxSegment)
	}

	if err := f.pickDataAlt(data); err != nil {
		return nil, err
	}
	if len(alt.Endpoints) == 1 {
		e := alt.Endpoints[0]
		if e.In() && e.Type() == hw.XferInterrupt && e.MaxPacketSize >= NotificationLen && e.Interval != 0 {
			f.Status = e
		}
	}
	return f, nil
}

// pickDataAlt finds the first alternate setting (of at most MaxAlts) with
// a usable bulk pair. When none has one, the error says why the most
// telling one failed: a wrong endpoint type, then a zero wMaxPacketSize,
// then simply no pair.
func (f *Function) pickDataAlt(data *hw.Interface) error {
	var typeErr, mpsErr error
	for i, a := range data.Alts {
		if i == MaxAlts {
			break
		}
		var in, out *hw.EndpointDesc
		for j := range a.Endpoints {
			e := &a.Endpoints[j]
			if e.Type() != hw.XferBulk {
				if typeErr == nil {
					typeErr = fmt.Errorf("data interface %d alt %d: %v where bulk is expected: %w", a.Number, a.Alternate, e, ErrEndpointType)
				}
				continue
			}
			if e.MaxPacketSize == 0 {
				if mpsErr == nil {
					mpsErr = fmt.Errorf("data interface %d alt %d: %v: %w", a.Number, a.Alternate, e, ErrZeroMaxPacket)
				}
				continue
			}
			switch {
			case e.In() && in == nil:
				in = e
			case !e.In() && out == nil:
				out = e
			}
		}
		if in != nil && out != nil {
			f.In, f.Out, f.DataAlt = *in, *out, a.Alternate
			return nil
		}
	}
	switch {
	case typeErr != nil:
		return typeErr
	case mpsErr != nil:
		return mpsErr
	}
	return fmt.Errorf("data interface %d (%d alternate settings): %w", data.Number, len(data.Alts), ErrNoBulkPair)
}
