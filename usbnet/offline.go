package usbnet

import (
	"errors"
	"net"

	"dongle/hw"
)

// What a minidriver knows about its own traffic when no device is bound:
// the optional interfaces trace decoding (usbnet/decode) asks a driver for.
// Each is declared here, at the seam, and implemented in the minidriver's
// package with a compile-time assertion, so decode knows no chip: a driver
// that implements none of them still decodes (descriptors, requests by
// their standard names, endpoints from the descriptors), and decode says
// what it could not do.

// Capture is what a trace shows of a device, as a minidriver reads it
// offline: the configuration and interface Match chose, the data and status
// endpoints, the control requests and the string descriptors read.
type Capture struct {
	Config          *hw.Config // nil when the trace holds no configuration descriptor
	Intf            uint8      // the interface the driver matched on
	ID              ID         // the entry of the driver's table that matched (zero if forced)
	In, Out, Status hw.EndpointDesc
	Controls        []CapturedControl // in trace order
	Strings         map[uint8]string  // string descriptors by index
}

// CapturedControl is one control request of a trace.
type CapturedControl struct {
	Setup hw.Setup
	Data  []byte // OUT data, or the IN data returned
	OK    bool   // completed with status 0
}

// EmitFunc receives one frame a deframer found: the bytes the capture holds
// of it and its real length (> len(data) when the capture cut it). data is
// only valid during the call.
type EmitFunc func(data []byte, length int)

// Unframer undoes the driver's framing on captured bulk transfers
// (the inverse of TxFixup, and RxFixup without a bound Dev).
type Unframer interface {
	// RxUnframer returns a deframer for the bulk IN transfers of one
	// trace, fed in order (a frame may span transfers).
	RxUnframer(c *Capture) RxUnframer
	// UnframeTx splits one bulk OUT transfer into the frames TxFixup
	// framed: p is what the capture holds of it, length its real length
	// (usbnet's own pad byte already removed: see Unpad). Frames found
	// before an error are emitted.
	UnframeTx(c *Capture, p []byte, length int, emit EmitFunc) error
}

// RxUnframer de-frames one trace's bulk IN transfers.
type RxUnframer interface {
	// Rx de-frames one transfer: p is what the capture holds of it,
	// length its real length. lost is true when the capture cut the
	// transfer so that frames in it cannot be found (they are then not
	// emitted, and this is no framing error).
	Rx(p []byte, length int, emit EmitFunc) (lost bool, err error)
	// Close frees whatever a frame still open at the end of the trace
	// holds (an sk_buff of a partial frame).
	Close()
}

// TxFraming is the framing a driver puts in front of each TX frame, in
// bytes: the unit its padding rule counts with (ASIX 4, AX88179 8). A
// driver that does not implement it adds none.
type TxFraming interface {
	TxHeaderLen() int
}

// LinkEvent is what one interrupt IN transfer says about the link. A field
// the transfer does not carry is left unknown.
type LinkEvent struct {
	HasLink bool // Up is known
	Up      bool
	Mbps    int // 0: not reported
}

// StatusDescriber decodes an interrupt IN transfer without a bound Dev
// (Status's decoding, without its SetLink).
type StatusDescriber interface {
	// DescribeStatus returns the link event data carries; an error
	// (wrapping the driver's sentinel) for malformed data.
	DescribeStatus(data []byte) (LinkEvent, error)
}

// RequestNamer names the class or vendor requests of the driver's protocol
// as a person reads a trace: "asix READ_PHY_ID",
// "SET_ETHERNET_PACKET_FILTER(DIRECTED|BROADCAST)". Standard requests are
// named by the caller.
type RequestNamer interface {
	// RequestName returns the name, or false for a request the driver
	// does not know.
	RequestName(s hw.Setup) (string, bool)
}

// MACLocator finds the station address in a trace, where the driver reads
// it at bind (a string descriptor, a vendor read of the node ID).
type MACLocator interface {
	// TraceMAC returns the address, nil when the trace does not show the
	// read, or an error naming what is wrong with what it shows.
	TraceMAC(c *Capture) (net.HardwareAddr, error)
}

// EndpointLocator picks the data and status endpoints from a trace's
// configuration by the driver's own rules (Bind's, without a Dev). A
// driver without one gets the first bulk IN, bulk OUT and interrupt IN
// endpoints of the configuration.
type EndpointLocator interface {
	TraceEndpoints(cfg *hw.Config, intf uint8) (Endpoints, error)
}

// Errors of offline decoding, wrapped by the drivers' UnframeTx and
// TraceMAC.
var (
	// ErrTxHeader: a TX framing header is inconsistent in itself.
	ErrTxHeader = errors.New("TX header length and complement disagree")
	// ErrTxShort: a TX transfer is shorter than its headers say.
	ErrTxShort = errors.New("TX transfer shorter than its header says")
	// ErrNotCaptured: the trace lacks what the driver reads (a string
	// descriptor it never fetched).
	ErrNotCaptured = errors.New("not in the trace")
)

// ClassDescriber reads the class-specific descriptors of the driver's
// class (CDC's functional descriptors), as lsusb -v prints them, for
// `dongle diag`'s descriptor tree: d is one whole descriptor; str reads a
// string descriptor. ok is false for a descriptor the driver does not know.
// problems are what is wrong with it (diag reports them as anomalies).
type ClassDescriber interface {
	DescribeDescriptor(d []byte, str func(uint8) string) (text string, problems []string, ok bool)
}

// Unpad undoes zlpRule's one 0x00 pad byte on a captured bulk OUT transfer
// whose endpoint's wMaxPacketSize is mp: p is what the capture holds of the
// transfer, length its real length. A transfer of length L+1 with L a
// non-zero multiple of mp was a frame of L bytes and the pad when the host
// pads (hostPads: the trace never shows it sending a non-empty multiple of
// mp, which a host that ends such transfers with a ZLP does) and the
// driver's framing does not (FlagTxPadsItself: ASIX's and AX88179's pad
// themselves; FlagMultiPacket: Linux's usbnet adds no pad to a
// multi-packet driver's transfers either), and the last byte is 0x00, or the capture cut it (then only
// the length shows it, and the pad is presumed). The frame is returned with
// padded true; anything else comes back as it was.
//
// The flags alone cannot decide: a trace may be of Linux's driver, which
// pads where dongle's sends a ZLP (cdc_ether has no FLAG_SEND_ZLP in
// Linux; dongle's has FlagSendZLP for libusb's sake).
//
// Unframer.UnframeTx receives transfers with the pad already removed.
func Unpad(f Flags, mp int, p []byte, length int, hostPads bool) (data []byte, n int, padded bool) {
	if !hostPads || mp <= 0 || length <= mp || (length-1)%mp != 0 || f&(FlagTxPadsItself|FlagMultiPacket) != 0 {
		return p, length, false
	}
	if len(p) == length && p[length-1] != 0 {
		return p, length, false
	}
	return p[:min(len(p), length-1)], length - 1, true
}
