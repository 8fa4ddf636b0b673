package ax88179

import "encoding/binary"

// Corruption rewrites one RX transfer the way a broken or malicious device
// would. The presets are the CVE-2022-48805 shapes: each makes the
// trailer or a header lie about the transfer's layout.
type Corruption int

const (
	// CorruptShort sends 3 bytes: too short for the trailer.
	CorruptShort Corruption = iota + 1
	// CorruptNoPackets sets pkt_cnt to 0.
	CorruptNoPackets
	// CorruptHdrOffInTrailer points hdr_off into the trailer.
	CorruptHdrOffInTrailer
	// CorruptHdrArrayPastEnd makes pkt_cnt so large that the header array
	// runs over the trailer.
	CorruptHdrArrayPastEnd
	// CorruptPacketOverlapsHdr makes the first packet long enough to run
	// into the header array (but not past the trailer).
	CorruptPacketOverlapsHdr
	// CorruptPacketPastEnd makes the first packet run past the transfer.
	CorruptPacketPastEnd
)

// Corruptions lists every preset, for tables.
var Corruptions = []Corruption{CorruptShort, CorruptNoPackets, CorruptHdrOffInTrailer, CorruptHdrArrayPastEnd, CorruptPacketOverlapsHdr, CorruptPacketPastEnd}

func (c Corruption) String() string {
	switch c {
	case CorruptShort:
		return "transfer shorter than the trailer"
	case CorruptNoPackets:
		return "pkt_cnt 0"
	case CorruptHdrOffInTrailer:
		return "hdr_off into the trailer"
	case CorruptHdrArrayPastEnd:
		return "header array past the trailer"
	case CorruptPacketOverlapsHdr:
		return "packet overlapping the header array"
	case CorruptPacketPastEnd:
		return "packet past the end"
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

// apply corrupts a well-formed transfer t (pkts bytes of packets, n
// packets) and returns the result.
func (c Corruption) apply(t []byte, pkts, n int) []byte {
	le := binary.LittleEndian
	tr := len(t) - 4
	switch c {
	case CorruptShort:
		return t[:3]
	case CorruptNoPackets:
		le.PutUint32(t[tr:], uint32(pkts)<<16)
	case CorruptHdrOffInTrailer:
		le.PutUint32(t[tr:], uint32(2*n)|uint32(tr+2)<<16)
	case CorruptHdrArrayPastEnd:
		le.PutUint32(t[tr:], uint32(0xffff)|uint32(pkts)<<16)
	case CorruptPacketOverlapsHdr, CorruptPacketPastEnd:
		// Rewrite the last packet's header (index 2(n-1); the dummies sit
		// between) so that it ends 8 bytes into the header array, or 8
		// bytes past the end of the transfer.
		h := t[pkts+8*(n-1):]
		last := pkts - ((int(le.Uint32(h)>>16)&0x1fff + 7) &^ 7)
		end := pkts + 8
		if c == CorruptPacketPastEnd {
			end = len(t) + 8
		}
		le.PutUint32(h, le.Uint32(h)&0xe000ffff|uint32(end-last)<<16)
	}
	return t
}
