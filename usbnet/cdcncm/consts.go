package cdcncm

// Protocol constants of CDC NCM 1.0 (include/uapi/linux/usb/cdc.h,
// include/linux/usb/cdc_ncm.h).
const (
	SubClassNCM     = 0x0d // USB_CDC_SUBCLASS_NCM
	SubtypeNCM      = 0x1a // USB_CDC_NCM_TYPE: the NCM functional descriptor
	NCMDescLen      = 6    // struct usb_cdc_ncm_desc
	ProtoNone       = 0x00 // USB_CDC_PROTO_NONE
	DataProtoNTB    = 0x01 // the data interface's bInterfaceProtocol (NTB)
	ntbParamsLength = 0x1c // struct usb_cdc_ncm_ntb_parameters, wLength
)

// Class requests (NCM 1.0 table 6-2; the ECM ones are cdcecm's).
const (
	ReqGetNTBParameters   = 0x80
	ReqGetNetAddress      = 0x81
	ReqSetNetAddress      = 0x82
	ReqGetNTBFormat       = 0x83
	ReqSetNTBFormat       = 0x84
	ReqGetNTBInputSize    = 0x85
	ReqSetNTBInputSize    = 0x86
	ReqGetMaxDatagramSize = 0x87
	ReqSetMaxDatagramSize = 0x88
	ReqGetCRCMode         = 0x89
	ReqSetCRCMode         = 0x8a
)

// bmNetworkCapabilities bits of the NCM functional descriptor
// (USB_CDC_NCM_NCAP_*).
const (
	CapPacketFilter    uint8 = 1 << 0 // SET_ETHERNET_PACKET_FILTER (and the multicast filters)
	CapNetAddress      uint8 = 1 << 1 // GET/SET_NET_ADDRESS
	CapEncapsulated    uint8 = 1 << 2 // SEND_ENCAPSULATED_COMMAND / GET_ENCAPSULATED_RESPONSE
	CapMaxDatagramSize uint8 = 1 << 3 // GET/SET_MAX_DATAGRAM_SIZE
	CapCRCMode         uint8 = 1 << 4 // GET/SET_CRC_MODE
	CapInputSize8      uint8 = 1 << 5 // 8-byte GET/SET_NTB_INPUT_SIZE
)

// bmNtbFormatsSupported bits and SET_NTB_FORMAT values.
const (
	FormatsNTB16 uint16 = 1 << 0
	FormatsNTB32 uint16 = 1 << 1
)

// Signatures ("NCMH", "ncmh", "NCM0", "ncm0"; "NCM1"/"ncm1" carry a CRC).
const (
	SigNTH16      uint32 = 0x484d434e
	SigNTH32      uint32 = 0x686d636e
	SigNDP16      uint32 = 0x304d434e
	SigNDP16CRC   uint32 = 0x314d434e
	SigNDP32      uint32 = 0x306d636e
	SigNDP32CRC   uint32 = 0x316d636e
	nth16Len             = 12 // struct usb_cdc_ncm_nth16
	nth32Len             = 16 // struct usb_cdc_ncm_nth32
	ndp16HdrLen          = 8  // struct usb_cdc_ncm_ndp16 without entries
	ndp32HdrLen          = 16 // struct usb_cdc_ncm_ndp32 without entries
	ndp16MinLen          = 16 // USB_CDC_NCM_NDP16_LENGTH_MIN: header, one entry, terminator
	ndp32MinLen          = 32 // USB_CDC_NCM_NDP32_LENGTH_MIN
	ndpIndexAlign        = 4  // wNdpIndex/dwNdpIndex are multiples of 4 (NCM 1.0 §3.2)
)

// Linux's limits (cdc_ncm.h, cdc.h).
const (
	NTBMinSize      = 2048  // USB_CDC_NCM_NTB_MIN_IN_SIZE / _OUT_SIZE
	NTBMaxSize      = 65536 // CDC_NCM_NTB_MAX_SIZE_RX / _TX
	NTBDefaultSize  = 16384 // CDC_NCM_NTB_DEF_SIZE_RX / _TX
	MinDatagramSize = 1514  // CDC_NCM_MIN_DATAGRAM_SIZE
	MaxDatagramSize = 8192  // CDC_NCM_MAX_DATAGRAM_SIZE
	MaxTxDatagrams  = 40    // CDC_NCM_DPT_DATAGRAMS_MAX
	MinTxPkt        = 512   // CDC_NCM_MIN_TX_PKT
	minAlign        = 4     // USB_CDC_NCM_NDP_ALIGN_MIN_SIZE
	maxNDPs         = 50    // cdc_ncm_rx_fixup's loopcount: NDPs followed per NTB
	ethHeaderLen    = 14
)

// Format is an NTB format: NTB16 or NTB32.
type Format uint8

const (
	NTB16 Format = 0 // SET_NTB_FORMAT wValue 0
	NTB32 Format = 1 // SET_NTB_FORMAT wValue 1
)

func (f Format) String() string {
	if f == NTB32 {
		return "NTB32"
	}
	return "NTB16"
}
