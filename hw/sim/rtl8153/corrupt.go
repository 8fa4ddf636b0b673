package rtl8153

import "encoding/binary"

// Corruption rewrites one RX transfer the way a broken or malicious device
// would: each preset makes an rx_desc lie about the transfer's layout.
type Corruption int

const (
	// CorruptShort sends the first 3 bytes only: shorter than ETH_ZLEN,
	// which r8152 drops whole.
	CorruptShort Corruption = iota + 1
	// CorruptRuntLength gives the first descriptor a length of 0 (below
	// ETH_ZLEN): the walk must stop there.
	CorruptRuntLength
	// CorruptLengthPastEnd makes the last descriptor's frame run 64 bytes
	// past the end of the transfer.
	CorruptLengthPastEnd
	// CorruptTruncatedDesc cuts the transfer 12 bytes into its last
	// descriptor.
	CorruptTruncatedDesc
	// CorruptMisaligned moves every frame after the first 4 bytes later,
	// so the second descriptor is not where 8-byte alignment puts it
	// (with one frame, the first descriptor's length grows by 4 instead).
	CorruptMisaligned
	// CorruptNoFCS shortens the first descriptor's length by the 4 FCS
	// bytes: the frame a driver takes is 4 bytes short.
	CorruptNoFCS
)

// Corruptions lists every preset, for tables.
var Corruptions = []Corruption{CorruptShort, CorruptRuntLength, CorruptLengthPastEnd, CorruptTruncatedDesc, CorruptMisaligned, CorruptNoFCS}

func (c Corruption) String() string {
	switch c {
	case CorruptShort:
		return "transfer shorter than ETH_ZLEN"
	case CorruptRuntLength:
		return "rx_desc length 0"
	case CorruptLengthPastEnd:
		return "rx_desc length past the end"
	case CorruptTruncatedDesc:
		return "transfer ends inside an rx_desc"
	case CorruptMisaligned:
		return "rx_desc not 8-byte aligned"
	case CorruptNoFCS:
		return "rx_desc length without the FCS"
	}
	return "corruption?"
}

// CorruptNext makes the next RX transfer carry corruption c (several calls
// queue several corrupted transfers).
func (m *Model) CorruptNext(c Corruption) {
	m.mu.Lock()
	m.corrupt = append(m.corrupt, c)
	m.mu.Unlock()
}

// apply corrupts a well-formed transfer t whose descriptors start at descs
// and returns the result (t's storage may be reused).
func (c Corruption) apply(t []byte, descs []int) []byte {
	le := binary.LittleEndian
	first, last := descs[0], descs[len(descs)-1]
	setLen := func(at, l int) { le.PutUint32(t[at:], le.Uint32(t[at:])&^rxLenMask|uint32(l)&rxLenMask) }
	lenAt := func(at int) int { return int(le.Uint32(t[at:]) & rxLenMask) }
	switch c {
	case CorruptShort:
		return t[:3]
	case CorruptRuntLength:
		setLen(first, 0)
	case CorruptLengthPastEnd:
		setLen(last, len(t)-last-rxDescLen+64)
	case CorruptTruncatedDesc:
		if len(descs) == 1 {
			return t[:rxDescLen/2]
		}
		return t[:last+12]
	case CorruptMisaligned:
		if len(descs) == 1 {
			setLen(first, lenAt(first)+4)
			return t
		}
		second := descs[1]
		t = append(t, 0, 0, 0, 0)
		copy(t[second+4:], t[second:len(t)-4])
		copy(t[second:second+4], []byte{0, 0, 0, 0})
	case CorruptNoFCS:
		setLen(first, lenAt(first)-ethFCSLen)
	}
	return t
}
