package ncm

import "encoding/binary"

// Corruption damages one RX NTB the way a broken or malicious device
// would. The presets are the shapes Linux's cdc_ncm receive path was fixed
// for over the years; a driver must drop what they make unreadable and
// never read outside the block.
type Corruption int

const (
	// CorruptSignature gives the NTH the other format's signature (an
	// NTB32 header on an NTB16 link and the reverse).
	CorruptSignature Corruption = iota + 1
	// CorruptNDPBeyondBlock points the NTH's NDP index past the block.
	CorruptNDPBeyondBlock
	// CorruptDatagramInHeader points the first datagram into the NTH.
	CorruptDatagramInHeader
	// CorruptZeroLength gives the first entry a length of 0 (its index
	// kept): not the terminator, not a datagram.
	CorruptZeroLength
	// CorruptOverlap makes two datagrams share bytes (with one datagram:
	// it runs into the NDP).
	CorruptOverlap
	// CorruptMisalignedNDP moves the NDP 2 bytes off its 4-byte alignment
	// (the NTH and block length follow it, so it still parses).
	CorruptMisalignedNDP
	// CorruptNDPLoop links the NDP to itself as the next one.
	CorruptNDPLoop
)

// Corruptions lists every preset, for tables.
var Corruptions = []Corruption{CorruptSignature, CorruptNDPBeyondBlock, CorruptDatagramInHeader,
	CorruptZeroLength, CorruptOverlap, CorruptMisalignedNDP, CorruptNDPLoop}

func (c Corruption) String() string {
	switch c {
	case CorruptSignature:
		return "NTH signature of the other format"
	case CorruptNDPBeyondBlock:
		return "NDP index beyond the block"
	case CorruptDatagramInHeader:
		return "datagram index inside the NTH"
	case CorruptZeroLength:
		return "zero-length datagram entry"
	case CorruptOverlap:
		return "overlapping datagrams"
	case CorruptMisalignedNDP:
		return "misaligned wNdpIndex"
	case CorruptNDPLoop:
		return "NDP chained to itself"
	}
	return "corruption?"
}

// CorruptNext makes the next RX NTB carry c (several calls queue several
// damaged NTBs).
func (m *Model) CorruptNext(c Corruption) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.corrupt = append(m.corrupt, c)
}

// ChainNext makes the next RX NTB of two or more datagrams carry them in
// two chained NDPs (legal NCM 1.0: every datagram must be delivered).
func (m *Model) ChainNext() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.chainOne = true
}

// OversizeNext makes the next RX NTB extra bytes longer than the host's
// NTB input size (its SET_NTB_INPUT_SIZE, else dwNtbInMaxSize): zeros
// after its last datagram and NDP, counted by wBlockLength
// (dwBlockLength), as a device that ignores the negotiated size sends. The
// host's transfer of the input size fills with its first part (an NTH
// saying it is longer); the rest arrives as the next transfer. NTB16 caps
// the block at 65535 bytes, and every NTB's excess is at most
// MaxOversize. extra < 1 cancels a pending one.
func (m *Model) OversizeNext(extra int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.oversize = min(max(extra, 0), MaxOversize)
}

// MaxOversize bounds OversizeNext: an NTB at most this much longer than
// negotiated, so a fault command cannot make the model pad without end.
const MaxOversize = 1 << 16

// GateLinkOnFilter (on) makes the model hold each link-up
// NETWORK_CONNECTION notification (after the data path opens, or the cable
// is plugged back) until the host's next SET_ETHERNET_PACKET_FILTER, as
// devices do that report no link until a filter is set; the
// SPEED_CHANGE before it and a link-down go out as usual. Off sends a held
// one at the next poll.
func (m *Model) GateLinkOnFilter(on bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.linkGate = on
	if m.open {
		m.pumpNotifyLocked()
	}
}

// oversize pads a finished NTB b with zeros to size bytes (at most what
// l's block length field holds) and sets its block length to match.
func oversize(b []byte, l *layout, size int) []byte {
	if l.word == 2 {
		size = min(size, 0xffff)
	}
	if len(b) < size {
		b = append(b, make([]byte, size-len(b))...)
	}
	put(b, l.blockOff, l.word, len(b))
	return b
}

// apply damages a finished, single-NDP NTB b and returns it (it may grow
// b, whose storage belongs to w).
func (c Corruption) apply(b []byte, l *layout, w *writer) []byte {
	ndp := get(b, l.ndpIdxOff, l.word)
	entry := func(i int) int { return ndp + l.ndpHdr + i*l.entry }
	n := len(w.idx)
	switch c {
	case CorruptSignature:
		other := layouts[FormatNTB16].nthSig
		if l.nthSig == other {
			other = layouts[FormatNTB32].nthSig
		}
		binary.LittleEndian.PutUint32(b, other)
	case CorruptNDPBeyondBlock:
		put(b, l.ndpIdxOff, l.word, alignUp(len(b)+4, 4))
	case CorruptDatagramInHeader:
		put(b, entry(0), l.word, 4)
	case CorruptZeroLength:
		put(b, entry(0)+l.word, l.word, 0)
	case CorruptOverlap:
		if n >= 2 {
			put(b, entry(1), l.word, w.idx[0])
		} else {
			put(b, entry(0)+l.word, l.word, ndp+4-w.idx[0])
		}
	case CorruptMisalignedNDP:
		size := len(b) - ndp
		b = append(b, 0, 0)
		copy(b[ndp+2:], b[ndp:ndp+size])
		b[ndp], b[ndp+1] = 0, 0
		put(b, l.ndpIdxOff, l.word, ndp+2)
		put(b, l.blockOff, l.word, len(b))
	case CorruptNDPLoop:
		put(b, ndp+l.nextOff, l.word, ndp)
	}
	return b
}
