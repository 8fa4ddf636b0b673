package cdcncm

import (
	"encoding/binary"
	"fmt"
	"iter"
	"net"
	"strings"

	"dongle/hw"
	"dongle/usbnet"
	"dongle/usbnet/cdcecm"
)

// What cdc_ncm knows about its traffic without a bound device (see
// usbnet/offline.go): NTBs both ways, notifications, request names, the
// MAC and endpoints from the descriptors, the NCM functional descriptor.
var (
	_ usbnet.Unframer        = (*Driver)(nil)
	_ usbnet.TxFraming       = (*Driver)(nil)
	_ usbnet.StatusDescriber = (*Driver)(nil)
	_ usbnet.RequestNamer    = (*Driver)(nil)
	_ usbnet.MACLocator      = (*Driver)(nil)
	_ usbnet.EndpointLocator = (*Driver)(nil)
	_ usbnet.ClassDescriber  = (*Driver)(nil)
	_ usbnet.Diagnoser       = (*Driver)(nil)
)

// traceLimits are the NTB input size and datagram size a trace shows the
// host using, 0 where the trace does not say. The input size is the one
// SET_NTB_INPUT_SIZE asked for, else what cdc_ncm derives from
// GET_NTB_PARAMETERS' dwNtbInMaxSize without asking (min(16384,
// dwNtbInMaxSize) clamped as Negotiate does: Linux sends
// SET_NTB_INPUT_SIZE only when its size differs from the device's); the
// datagram size is SET_MAX_DATAGRAM_SIZE's, else the descriptor's
// wMaxSegmentSize. The last successful request wins.
func traceLimits(c *usbnet.Capture) (block, dgram int) {
	if c.Config != nil {
		if fn, err := Parse(c.Config, c.Intf); err == nil {
			dgram = min(max(int(fn.MaxSegmentSize), MinDatagramSize), MaxDatagramSize)
		}
	}
	for _, r := range c.Controls {
		s := r.Setup
		if s.RequestType&0x60 != hw.TypeClass || !r.OK {
			continue
		}
		switch {
		case s.In() && s.Request == ReqGetNTBParameters:
			if p, err := ParseNTBParams(r.Data); err == nil {
				if sz, err := Negotiate(p, MinDatagramSize, 0, Options{}); err == nil {
					block = sz.RxMax
				}
			}
		case !s.In() && s.Request == ReqSetNTBInputSize && len(r.Data) >= 4:
			block = int(binary.LittleEndian.Uint32(r.Data))
		case !s.In() && s.Request == ReqSetMaxDatagramSize && len(r.Data) >= 2:
			dgram = int(binary.LittleEndian.Uint16(r.Data))
		}
	}
	return block, dgram
}

// rxUnframer reads a trace's NTBs with the driver's Reader, the format
// picked by each NTH's signature.
type rxUnframer struct{ r Reader }

// Rx implements usbnet.RxUnframer. A transfer the capture cut has lost
// the NDP that locates its datagrams (NCM devices put it anywhere, often
// at the end): its frames are lost. An NTB anomaly is returned as the
// error, the frames read before it emitted.
func (u *rxUnframer) Rx(p []byte, length int, emit usbnet.EmitFunc) (bool, error) {
	if length == 0 {
		return false, nil
	}
	if len(p) < length {
		return true, nil
	}
	_, err := u.r.Read(p, func(off, n int) { emit(p[off:off+n], n) })
	return false, err
}

// Close implements usbnet.RxUnframer: nothing is held between transfers.
func (*rxUnframer) Close() {}

// RxUnframer implements usbnet.Unframer.
func (*Driver) RxUnframer(c *usbnet.Capture) usbnet.RxUnframer {
	block, dgram := traceLimits(c)
	return &rxUnframer{r: Reader{Auto: true, MaxBlock: block, MaxDatagram: dgram}}
}

// UnframeTx implements usbnet.Unframer: the NTBs of a bulk OUT transfer
// (NTBs), each read with the same checks as RX (a ZLP is no NTB). A
// transfer the capture cut is not read (its NDP may lie in the part not
// captured).
func (*Driver) UnframeTx(c *usbnet.Capture, p []byte, length int, emit usbnet.EmitFunc) error {
	if length == 0 || len(p) < length {
		return nil
	}
	var r Reader
	r.Auto = true
	_, r.MaxDatagram = traceLimits(c)
	for off, ntb := range NTBs(p[:length]) {
		if _, err := r.Read(ntb, func(o, n int) { emit(ntb[o:o+n], n) }); err != nil {
			return fmt.Errorf("%w: NTB at %d: %w", usbnet.ErrTxHeader, off, err)
		}
	}
	return nil
}

// NTBs yields the NTBs of transfer p with their offsets: the first at 0,
// whatever it holds (the Reader judges it), then each next one where the
// last one's wBlockLength ends, as long as an NTH signature starts there.
// A transfer carries several when NTBs of exactly the maximum size go
// back to back with no short packet between them (Writer); what follows
// the last is ignored, as a device does (a pad byte after wBlockLength,
// say). A wBlockLength of 0 (ended by a short packet), past the end or
// too short for the headers takes the rest of the transfer (the Reader
// then says what is wrong with it).
func NTBs(p []byte) iter.Seq2[int, []byte] {
	return func(yield func(int, []byte) bool) {
		for off := 0; off < len(p); {
			q := p[off:]
			l := layoutOf(NTB16)
			if len(q) >= 4 && uint32(get(q, 0, 4)) == SigNTH32 {
				l = layoutOf(NTB32)
			}
			block := len(q)
			if len(q) >= l.blockOff+l.word {
				if b := get(q, l.blockOff, l.word); b >= l.nthLen+l.ndpMin && b < len(q) {
					block = b
				}
			}
			if !yield(off, q[:block]) {
				return
			}
			off += block
			if r := p[off:]; len(r) < 4 || (uint32(get(r, 0, 4)) != SigNTH16 && uint32(get(r, 0, 4)) != SigNTH32) {
				return
			}
		}
	}
}

// TxHeaderLen implements usbnet.TxFraming: where a lone frame starts in
// an NTB built with the parameters Linux uses when a device sets no
// limits (NTB16, 40 datagrams, 4-byte NDP alignment, divisor 4,
// remainder 0): NTH (12), NDP with 41 entries (172), 2 bytes so the
// payload after the Ethernet header is 4-aligned: 186. The suite's size
// edges then make single-frame NTBs a multiple of wMaxPacketSize.
func (*Driver) TxHeaderLen() int {
	z, _ := Negotiate(NTBParams{Length: ntbParamsLength, FormatsSupported: FormatsNTB16, InMaxSize: NTBDefaultSize, OutMaxSize: NTBDefaultSize}, MinDatagramSize, 0, Options{})
	return z.firstDatagram()
}

var requestNames = map[uint8]string{
	ReqGetNTBParameters: "GET_NTB_PARAMETERS", ReqGetNetAddress: "GET_NET_ADDRESS", ReqSetNetAddress: "SET_NET_ADDRESS",
	ReqGetNTBFormat: "GET_NTB_FORMAT", ReqSetNTBFormat: "SET_NTB_FORMAT", ReqGetNTBInputSize: "GET_NTB_INPUT_SIZE",
	ReqSetNTBInputSize: "SET_NTB_INPUT_SIZE", ReqGetMaxDatagramSize: "GET_MAX_DATAGRAM_SIZE",
	ReqSetMaxDatagramSize: "SET_MAX_DATAGRAM_SIZE", ReqGetCRCMode: "GET_CRC_MODE", ReqSetCRCMode: "SET_CRC_MODE",
}

// RequestName implements usbnet.RequestNamer: the NCM requests
// ("SET_NTB_FORMAT(NTB32)", "SET_CRC_MODE(off)"), and the CDC/ECM ones
// as cdc_ether names them.
func (*Driver) RequestName(s hw.Setup) (string, bool) {
	if s.RequestType&0x60 != hw.TypeClass {
		return "", false
	}
	n, ok := requestNames[s.Request]
	if !ok {
		return cdcecm.Driver{}.RequestName(s)
	}
	switch s.Request {
	case ReqSetNTBFormat:
		return fmt.Sprintf("%s(%v)", n, Format(s.Value)), true
	case ReqSetCRCMode:
		if s.Value == 0 {
			return n + "(off)", true
		}
		return n + "(on)", true
	}
	return n, true
}

// TraceMAC implements usbnet.MACLocator: the iMACAddress string, as Bind
// reads it.
func (*Driver) TraceMAC(c *usbnet.Capture) (net.HardwareAddr, error) {
	if c.Config == nil {
		return nil, nil
	}
	fn, err := Parse(c.Config, c.Intf)
	if err != nil {
		return nil, fmt.Errorf("CDC NCM function: %w", err)
	}
	s, ok := c.Strings[fn.MACIndex]
	if !ok {
		return nil, fmt.Errorf("iMACAddress (string %d) was not read: %w", fn.MACIndex, usbnet.ErrNotCaptured)
	}
	return cdcecm.ParseMAC(s)
}

// TraceEndpoints implements usbnet.EndpointLocator: the function's own
// endpoints (Parse).
func (*Driver) TraceEndpoints(cfg *hw.Config, intf uint8) (usbnet.Endpoints, error) {
	fn, err := Parse(cfg, intf)
	if err != nil {
		return usbnet.Endpoints{}, fmt.Errorf("CDC NCM function: %w", err)
	}
	return usbnet.Endpoints{In: fn.In, Out: fn.Out, Status: fn.Status,
		CtrlIface: int(fn.Control), DataIface: int(fn.Data), DataAlt: int(fn.DataAlt)}, nil
}

// CapabilityNames names the bits of bmNetworkCapabilities.
func CapabilityNames(c uint8) string {
	names := []string{"packet filter", "net address", "encapsulated command", "max datagram size", "CRC mode", "8-byte NTB input size"}
	var out []string
	for i, n := range names {
		if c&(1<<i) != 0 {
			out = append(out, n)
		}
	}
	if c&0xc0 != 0 {
		out = append(out, fmt.Sprintf("reserved %#02x", c&0xc0))
	}
	if len(out) == 0 {
		return "none"
	}
	return strings.Join(out, ", ")
}

// DescribeDescriptor implements usbnet.ClassDescriber for the NCM
// functional descriptor (the other CDC descriptors are cdc_ether's).
func (*Driver) DescribeDescriptor(d []byte, _ func(uint8) string) (string, []string, bool) {
	if len(d) < 3 || d[1] != hw.DescCSInterface || d[2] != SubtypeNCM {
		return "", nil, false
	}
	if len(d) < NCMDescLen {
		return fmt.Sprintf("CDC NCM functional descriptor, %d bytes", len(d)),
			[]string{fmt.Sprintf("CDC NCM functional descriptor: %d bytes, need %d", len(d), NCMDescLen)}, true
	}
	var problems []string
	if len(d) != NCMDescLen {
		problems = append(problems, fmt.Sprintf("CDC NCM functional descriptor: bLength %d, want %d", len(d), NCMDescLen))
	}
	v := binary.LittleEndian.Uint16(d[3:])
	if v != 0x0100 {
		problems = append(problems, fmt.Sprintf("CDC NCM functional descriptor: bcdNcmVersion %x.%02x, dongle knows 1.00", v>>8, v&0xff))
	}
	if d[5]&0xc0 != 0 {
		problems = append(problems, fmt.Sprintf("CDC NCM functional descriptor: reserved bmNetworkCapabilities bits %#02x set", d[5]&0xc0))
	}
	return fmt.Sprintf("CDC NCM: bcdNcmVersion %x.%02x, bmNetworkCapabilities %#02x (%s)", v>>8, v&0xff, d[5], CapabilityNames(d[5])), problems, true
}
