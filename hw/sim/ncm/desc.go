package ncm

import (
	"encoding/binary"
	"fmt"

	"dongle/hw"
)

// Endpoint addresses, interface numbers and identity.
const (
	EpStatus  uint8 = 0x81 // interrupt IN, wMaxPacketSize 16
	EpIn      uint8 = 0x82 // bulk IN
	EpOut     uint8 = 0x02 // bulk OUT
	CtrlIface       = 0
	DataIface       = 1
	DataAltOn       = 1

	Vendor  uint16 = 0x1209
	Product uint16 = 0x0004

	// DefaultMAC is the iMACAddress string unless Options.MAC says
	// otherwise (a locally administered address).
	DefaultMAC = "0211220a0004"
)

// CDC and NCM class requests (include/uapi/linux/usb/cdc.h).
const (
	ReqSetMulticastFilters = 0x40
	ReqSetPacketFilter     = 0x43
	ReqGetStatistic        = 0x44
	ReqGetNTBParameters    = 0x80
	ReqGetNetAddress       = 0x81
	ReqSetNetAddress       = 0x82
	ReqGetNTBFormat        = 0x83
	ReqSetNTBFormat        = 0x84
	ReqGetNTBInputSize     = 0x85
	ReqSetNTBInputSize     = 0x86
	ReqGetMaxDatagramSize  = 0x87
	ReqSetMaxDatagramSize  = 0x88
	ReqGetCRCMode          = 0x89
	ReqSetCRCMode          = 0x8a

	NotifyNetworkConnection = 0x00
	NotifySpeedChange       = 0x2a
)

// Packet filter bits (SET_ETHERNET_PACKET_FILTER wValue).
const (
	FilterPromiscuous  uint16 = 1 << 0
	FilterAllMulticast uint16 = 1 << 1
	FilterDirected     uint16 = 1 << 2
	FilterBroadcast    uint16 = 1 << 3
	FilterMulticast    uint16 = 1 << 4
)

// DefaultFilter is the filter before the host sets one: directed,
// broadcast and all multicast (CDC's power-on filter minus promiscuous).
const DefaultFilter = FilterDirected | FilterBroadcast | FilterAllMulticast

// bmNetworkCapabilities bits of the NCM functional descriptor.
const (
	CapPacketFilter    uint8 = 1 << 0 // SET_ETHERNET_PACKET_FILTER
	CapNetAddress      uint8 = 1 << 1 // GET/SET_NET_ADDRESS
	CapEncapsulated    uint8 = 1 << 2
	CapMaxDatagramSize uint8 = 1 << 3 // GET/SET_MAX_DATAGRAM_SIZE
	CapCRCMode         uint8 = 1 << 4
	CapInputSize8      uint8 = 1 << 5 // 8-byte GET/SET_NTB_INPUT_SIZE
)

// NTB formats (bmNtbFormatsSupported bits; SET_NTB_FORMAT wValue is 0 or 1).
const (
	FormatNTB16 = 0
	FormatNTB32 = 1
)

// String indexes.
const (
	strManufacturer = 1
	strProduct      = 2
	strSerial       = 3
	strMAC          = 4
	strControl      = 5
	strData         = 6
)

// descriptors builds the device and configuration descriptors for speed.
func descriptors(o *Options) (dev, cfg []byte) {
	bcd, mps0, bulk, interval := uint16(0x0200), byte(64), uint16(512), byte(9) // 2^(9-1) µframes = 32 ms
	if o.Speed >= hw.SpeedSuper {
		bcd, mps0, bulk = 0x0300, 9, 1024
	}
	dev = []byte{18, hw.DescDevice, byte(bcd), byte(bcd >> 8), 0xef, 0x02, 0x01, mps0,
		byte(Vendor & 0xff), byte(Vendor >> 8), byte(Product & 0xff), byte(Product >> 8), 0x00, 0x01,
		strManufacturer, strProduct, strSerial, 1}
	ss := o.Speed >= hw.SpeedSuper
	ep := func(addr, attr byte, mps uint16, interval byte) []byte {
		b := []byte{7, hw.DescEndpoint, addr, attr, byte(mps), byte(mps >> 8), interval}
		if ss {
			comp := []byte{6, hw.DescSSEndpointComp, 0, 0, 0, 0}
			if attr == hw.XferInterrupt {
				binary.LittleEndian.PutUint16(comp[4:], mps)
			}
			b = append(b, comp...)
		}
		return b
	}
	var caps uint8 = CapPacketFilter | CapMaxDatagramSize
	if o.InputSize8 {
		caps |= CapInputSize8
	}
	cfg = []byte{9, hw.DescConfig, 0, 0, 2, 1, 0, 0x80, 0x32}
	cfg = append(cfg,
		8, hw.DescIAD, CtrlIface, 2, 0x02, 0x0d, 0x00, 0,
		9, hw.DescInterface, CtrlIface, 0, 1, 0x02, 0x0d, 0x00, strControl,
		5, hw.DescCSInterface, 0x00, 0x10, 0x01, // header, bcdCDC 1.10
		5, hw.DescCSInterface, 0x06, CtrlIface, DataIface, // union
		13, hw.DescCSInterface, 0x0f, strMAC, 0, 0, 0, 0, // ethernet: iMACAddress, bmEthernetStatistics
		byte(o.MaxSegmentSize), byte(o.MaxSegmentSize>>8), byte(o.MCFilters), byte(o.MCFilters>>8), 0,
		6, hw.DescCSInterface, 0x1a, 0x00, 0x01, caps, // NCM: bcdNcmVersion 1.00
	)
	cfg = append(cfg, ep(EpStatus, hw.XferInterrupt, 16, interval)...)
	cfg = append(cfg, 9, hw.DescInterface, DataIface, 0, 0, 0x0a, 0x00, 0x01, strData)
	cfg = append(cfg, 9, hw.DescInterface, DataIface, 1, 2, 0x0a, 0x00, 0x01, strData)
	cfg = append(cfg, ep(EpIn, hw.XferBulk, bulk, 0)...)
	cfg = append(cfg, ep(EpOut, hw.XferBulk, bulk, 0)...)
	binary.LittleEndian.PutUint16(cfg[2:], uint16(len(cfg)))
	return dev, cfg
}

// ntbParameters is GET_NTB_PARAMETERS' answer (struct
// usb_cdc_ncm_ntb_parameters, 28 bytes).
func (m *Model) ntbParameters() []byte {
	o := &m.opts
	b := make([]byte, 28)
	le := binary.LittleEndian
	le.PutUint16(b[0:], 28)
	formats := uint16(1)
	if !o.NoNTB32 {
		formats |= 2
	}
	le.PutUint16(b[2:], formats)
	le.PutUint32(b[4:], o.NtbInMaxSize)
	le.PutUint16(b[8:], o.InDivisor)
	le.PutUint16(b[10:], o.InRemainder)
	le.PutUint16(b[12:], o.InAlignment)
	le.PutUint32(b[16:], o.NtbOutMaxSize)
	le.PutUint16(b[20:], o.OutDivisor)
	le.PutUint16(b[22:], o.OutRemainder)
	le.PutUint16(b[24:], o.OutAlignment)
	le.PutUint16(b[26:], o.OutMaxDatagrams)
	return b
}

// parseMAC reads a 12-hex-digit iMACAddress string.
func parseMAC(s string) ([6]byte, error) {
	var a [6]byte
	if len(s) != 12 {
		return a, fmt.Errorf("ncm: MAC string %q is %d characters, need 12", s, len(s))
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
			return a, fmt.Errorf("ncm: MAC string %q has non-hex %q", s, c)
		}
		a[i/2] = a[i/2]<<4 | v
	}
	return a, nil
}
