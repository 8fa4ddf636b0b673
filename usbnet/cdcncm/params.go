package cdcncm

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"
)

// NTBParams is GET_NTB_PARAMETERS' answer (struct
// usb_cdc_ncm_ntb_parameters, 28 bytes), as the device sent it.
type NTBParams struct {
	Length              uint16 // wLength: 0x1c
	FormatsSupported    uint16 // bmNtbFormatsSupported
	InMaxSize           uint32 // dwNtbInMaxSize: the largest NTB the device sends
	InDivisor           uint16 // wNdpInDivisor
	InPayloadRemainder  uint16 // wNdpInPayloadRemainder
	InAlignment         uint16 // wNdpInAlignment
	OutMaxSize          uint32 // dwNtbOutMaxSize: the largest NTB the device takes
	OutDivisor          uint16 // wNdpOutDivisor
	OutPayloadRemainder uint16 // wNdpOutPayloadRemainder
	OutAlignment        uint16 // wNdpOutAlignment
	OutMaxDatagrams     uint16 // wNtbOutMaxDatagrams (0: no limit; NCM errata)
}

// Errors of GET_NTB_PARAMETERS' answer that make a device unusable.
var (
	ErrNTBParams  = errors.New("bad GET_NTB_PARAMETERS answer")
	ErrNTBFormats = errors.New("bmNtbFormatsSupported offers neither NTB16 nor NTB32")
)

// ParseNTBParams decodes the 28 bytes of GET_NTB_PARAMETERS.
func ParseNTBParams(b []byte) (NTBParams, error) {
	if len(b) < ntbParamsLength {
		return NTBParams{}, fmt.Errorf("%w: %d bytes, need %d", ErrNTBParams, len(b), ntbParamsLength)
	}
	le := binary.LittleEndian
	p := NTBParams{
		Length: le.Uint16(b[0:]), FormatsSupported: le.Uint16(b[2:]), InMaxSize: le.Uint32(b[4:]),
		InDivisor: le.Uint16(b[8:]), InPayloadRemainder: le.Uint16(b[10:]), InAlignment: le.Uint16(b[12:]),
		OutMaxSize: le.Uint32(b[16:]), OutDivisor: le.Uint16(b[20:]), OutPayloadRemainder: le.Uint16(b[22:]),
		OutAlignment: le.Uint16(b[24:]), OutMaxDatagrams: le.Uint16(b[26:]),
	}
	return p, nil
}

// Bytes encodes p as the device sends it (for tests and models).
func (p NTBParams) Bytes() []byte {
	b := make([]byte, ntbParamsLength)
	le := binary.LittleEndian
	le.PutUint16(b[0:], p.Length)
	le.PutUint16(b[2:], p.FormatsSupported)
	le.PutUint32(b[4:], p.InMaxSize)
	le.PutUint16(b[8:], p.InDivisor)
	le.PutUint16(b[10:], p.InPayloadRemainder)
	le.PutUint16(b[12:], p.InAlignment)
	le.PutUint32(b[16:], p.OutMaxSize)
	le.PutUint16(b[20:], p.OutDivisor)
	le.PutUint16(b[22:], p.OutPayloadRemainder)
	le.PutUint16(b[24:], p.OutAlignment)
	le.PutUint16(b[26:], p.OutMaxDatagrams)
	return b
}

// Sizes are what the driver uses after checking NTBParams against the
// descriptors and clamping them as Linux's cdc_ncm does (cdc_ncm_init,
// cdc_ncm_setup, cdc_ncm_check_rx_max/tx_max, cdc_ncm_fix_modulus).
type Sizes struct {
	Format      Format
	RxMax       int // NTB input size asked for (SET_NTB_INPUT_SIZE): the bulk IN transfer size
	TxMax       int // NTB output size: the TX block (padding target)
	MaxDatagram int // the largest datagram either way (Ethernet header included)
	TxDivisor   int // datagram alignment: index ≡ TxRemainder (mod TxDivisor)
	TxRemainder int // ... already moved back by the Ethernet header, as Linux does
	TxNDPAlign  int // NDP alignment
	TxMaxDgrams int // datagrams per TX NTB
	MinTxPkt    int // NTBs longer than this are padded to TxMax (cdc_ncm's min_tx_pkt)
	// Notes say what was clamped or sanitised, for diag.
	Notes []string
}

// Options steer the negotiation; the zero value is Linux's behaviour.
type Options struct {
	// PreferNTB32 asks for NTB32 when the device has both formats
	// (CDC_NCM_FLAG_PREFER_NTB32); NTB16 otherwise, as Linux.
	PreferNTB32 bool
	// RxMax and TxMax ask for other NTB sizes than Linux's 16384
	// (sysfs rx_max/tx_max); they are clamped like the defaults.
	RxMax, TxMax int
	// SendZLP ends NTBs that are a packet multiple with a ZLP instead of
	// padding them (cdc_ncm_zlp_info's FLAG_SEND_ZLP).
	SendZLP bool
	// TxTimer is how long a frame may wait for company in a TX block
	// (sysfs tx_timer_usecs; 0: usbnet.DefaultTxAggTimeout, 400 µs).
	TxTimer time.Duration
}

// Negotiate computes the sizes for a device with parameters p, wMaxSegmentSize
// maxSegment, bulk OUT packet size maxPacket, and opts. It fails only when
// no NTB format is usable.
func Negotiate(p NTBParams, maxSegment uint16, maxPacket int, opts Options) (Sizes, error) {
	var s Sizes
	note := func(format string, args ...any) { s.Notes = append(s.Notes, fmt.Sprintf(format, args...)) }
	if p.Length != ntbParamsLength {
		note("wLength %d, want %d", p.Length, ntbParamsLength)
	}
	switch f := p.FormatsSupported; {
	case f&FormatsNTB16 != 0 && f&FormatsNTB32 != 0 && opts.PreferNTB32:
		s.Format = NTB32
	case f&FormatsNTB16 != 0:
		s.Format = NTB16
	case f&FormatsNTB32 != 0:
		note("bmNtbFormatsSupported %#04x lacks the mandatory NTB16: using NTB32", f)
		s.Format = NTB32
	default:
		return s, fmt.Errorf("%w (%#04x)", ErrNTBFormats, f)
	}
	l := layoutOf(s.Format)

	// Datagram size: wMaxSegmentSize clamped to [1514, 8192]
	// (cdc_ncm_set_dgram_size).
	s.MaxDatagram = min(max(int(maxSegment), MinDatagramSize), MaxDatagramSize)
	if s.MaxDatagram != int(maxSegment) {
		note("wMaxSegmentSize %d clamped to %d", maxSegment, s.MaxDatagram)
	}

	// RX: min(16384, dwNtbInMaxSize) within [2048, min(65536, dwNtbInMaxSize)].
	inMax := min(int64(p.InMaxSize), NTBMaxSize)
	if inMax < NTBMinSize {
		note("dwNtbInMaxSize %d below %d: using %d", p.InMaxSize, NTBMinSize, NTBMinSize)
		inMax = NTBMinSize
	}
	want := opts.RxMax
	if want == 0 {
		want = int(min(NTBDefaultSize, int64(p.InMaxSize)))
	}
	s.RxMax = int(min(max(int64(want), NTBMinSize), inMax))

	// TX datagram cap: 0 or above 40 → 40 (cdc_ncm_init).
	s.TxMaxDgrams = int(p.OutMaxDatagrams)
	if s.TxMaxDgrams == 0 || s.TxMaxDgrams > MaxTxDatagrams {
		s.TxMaxDgrams = MaxTxDatagrams
	}
	want0 := s.TxMaxDgrams

	// TX size: min(16384, dwNtbOutMaxSize) within [NTH + NDP room,
	// dwNtbOutMaxSize clamped to [2048, 65536]] (0: 65536).
	outMax := int64(NTBMaxSize)
	if p.OutMaxSize != 0 {
		outMax = min(max(int64(p.OutMaxSize), NTBMinSize), NTBMaxSize)
		if outMax != int64(p.OutMaxSize) {
			note("dwNtbOutMaxSize %d clamped to %d", p.OutMaxSize, outMax)
		}
	}
	want = opts.TxMax
	if want == 0 {
		want = NTBDefaultSize
		if p.OutMaxSize != 0 {
			want = int(min(NTBDefaultSize, int64(p.OutMaxSize)))
		}
	}
	if l.word == 2 {
		outMax = min(outMax, 0xffff) // wBlockLength is 16 bits
	}
	// The floor is one NTB with the NDP for every datagram and one
	// datagram of the largest size, with the most padding the alignments
	// can put before the NDP and before the datagram: a block that cannot
	// hold one full-size frame would drop it.
	quiet := func(string, ...any) {}
	ndpPad := sanitizeAlign(int(p.OutAlignment), int(outMax), "", quiet) - 1
	dgPad := sanitizeAlign(int(p.OutDivisor), int(outMax), "", quiet) - 1
	floor := l.nthLen + ndpPad + ndpSize(l, s.TxMaxDgrams) + dgPad + s.MaxDatagram
	s.TxMax = int(min(max(int64(want), int64(min(int64(floor), outMax))), outMax))
	// A padded NTB must end short unless it is exactly the device's own
	// maximum (cdc_ncm_update_rxtx_max's pad byte).
	if maxPacket > 0 && s.TxMax != int(p.OutMaxSize) && s.TxMax%maxPacket == 0 {
		s.TxMax++
		if int64(s.TxMax) > outMax {
			s.TxMax -= 2
		}
	}

	// Alignment (cdc_ncm_fix_modulus): a power of two, at least 4, below
	// the NTB size; the remainder below the divisor.
	s.TxNDPAlign = sanitizeAlign(int(p.OutAlignment), s.TxMax, "wNdpOutAlignment", note)
	s.TxDivisor = sanitizeAlign(int(p.OutDivisor), s.TxMax, "wNdpOutDivisor", note)
	rem := int(p.OutPayloadRemainder)
	if rem >= s.TxDivisor {
		note("wNdpOutPayloadRemainder %d not below the divisor %d: using 0", rem, s.TxDivisor)
		rem = 0
	}
	// The remainder aligns the datagram's payload, after its Ethernet
	// header (Linux and FreeBSD read the spec so).
	s.TxRemainder = (rem - ethHeaderLen) & (s.TxDivisor - 1)

	// An NTB the device keeps small (its dwNtbOutMaxSize at the 2048
	// floor) with coarse alignments cannot reserve an NDP entry for every
	// datagram it may carry and still hold one full-size datagram: it
	// carries fewer datagrams, never drops a frame that is within the
	// limits.
	for s.TxMaxDgrams > 1 && l.nthLen+s.TxNDPAlign-1+ndpSize(l, s.TxMaxDgrams)+s.TxDivisor-1+s.MaxDatagram > s.TxMax {
		s.TxMaxDgrams--
	}
	if s.TxMaxDgrams != want0 {
		note("datagrams per NTB %d lowered to %d: an NTB of %d bytes with alignments %d/%d holds no more beside a full-size datagram", want0, s.TxMaxDgrams, s.TxMax, s.TxNDPAlign, s.TxDivisor)
	}

	// Never pad more than three packets (cdc_ncm_update_rxtx_max).
	s.MinTxPkt = s.TxMax
	if maxPacket > 0 {
		s.MinTxPkt = min(max(s.TxMax-3*maxPacket, MinTxPkt), s.TxMax)
	}
	return s, nil
}

func sanitizeAlign(v, ntb int, name string, note func(string, ...any)) int {
	if v < minAlign || v&(v-1) != 0 || v >= ntb {
		if v != 0 {
			note("%s %d unusable: using %d", name, v, minAlign)
		}
		return minAlign
	}
	return v
}

// ndpSize is the room an NDP of n datagrams and its terminator takes
// (cdc_ncm's max_ndp_size).
func ndpSize(l *layout, n int) int { return l.ndpHdr + (n+1)*l.entryLen }
