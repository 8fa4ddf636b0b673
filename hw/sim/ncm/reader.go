package ncm

import "encoding/binary"

// Violation is one way a host's NTB breaks NCM 1.0. The reader counts each
// by name (Model.Violations) and drops an NTB that has any.
type Violation int

const (
	VShort             Violation = iota // transfer shorter than the NTH
	VNTHSignature                       // NTH signature is not the negotiated format's
	VHeaderLength                       // wHeaderLength is not the NTH size
	VBlockLength                        // block length differs from the transfer's
	VTooLong                            // transfer, or the block its NTH declares, longer than dwNtbOutMaxSize
	VNDPIndex                           // NDP index inside the NTH or past the block
	VNDPAlignment                       // NDP index not a multiple of wNdpOutAlignment
	VNDPSignature                       // NDP signature wrong (or a CRC one: CRC mode is off)
	VNDPLength                          // NDP wLength too small, not a multiple of 4 (8), or past the block
	VNDPLoop                            // a chain of NDPs that revisits one
	VNoTerminator                       // the NDP's entries end without the {0, 0} entry
	VEmptyNDP                           // an NDP with no datagram
	VZeroEntry                          // an entry with one of index and length zero
	VDatagramInHeader                   // datagram index inside the NTH
	VDatagramPastEnd                    // datagram runs past the block
	VDatagramOverlap                    // datagram overlaps another datagram or an NDP
	VDatagramAlignment                  // datagram index not ≡ wNdpOutPayloadRemainder (mod wNdpOutDivisor)
	VRunt                               // datagram shorter than an Ethernet header
	VOversize                           // datagram longer than the maximum datagram size
	VTooManyDatagrams                   // more than wNtbOutMaxDatagrams in one NTB
	numViolations
)

var violationNames = [numViolations]string{
	VShort: "short", VNTHSignature: "nth_signature", VHeaderLength: "header_length", VBlockLength: "block_length",
	VTooLong: "ntb_too_long", VNDPIndex: "ndp_index", VNDPAlignment: "ndp_alignment", VNDPSignature: "ndp_signature",
	VNDPLength: "ndp_length", VNDPLoop: "ndp_loop", VNoTerminator: "no_terminator", VEmptyNDP: "empty_ndp",
	VZeroEntry: "zero_entry", VDatagramInHeader: "datagram_in_header", VDatagramPastEnd: "datagram_past_end",
	VDatagramOverlap: "datagram_overlap", VDatagramAlignment: "datagram_alignment", VRunt: "runt",
	VOversize: "oversize", VTooManyDatagrams: "too_many_datagrams",
}

func (v Violation) String() string {
	if v >= 0 && v < numViolations {
		return violationNames[v]
	}
	return "violation?"
}

// Violations lists every violation, in order.
func Violations() []Violation {
	out := make([]Violation, numViolations)
	for i := range out {
		out[i] = Violation(i)
	}
	return out
}

// ethHeader is the Ethernet header the payload alignment skips: NCM's
// wNdpOutPayloadRemainder places the datagram's payload, after its
// header (Linux's cdc_ncm moves its TX remainder back by ETH_HLEN).
const ethHeader = 14

// startRemainder is the datagram start remainder (mod div) that puts its
// payload at remainder rem.
func startRemainder(div, rem int) int {
	if div <= 1 {
		return 0
	}
	return ((rem-ethHeader)%div + div) % div
}

// maxNDPs bounds an NDP chain the reader follows (a loop is caught before).
const maxNDPs = 32

// span is a byte range [lo, hi) of an NTB.
type span struct{ lo, hi int }

// reader checks host NTBs. Its slices are reused: in steady state it
// allocates nothing.
type reader struct {
	used   []span // NTH, NDPs, datagrams: for overlap checks
	frames []span // datagrams of the NTB, in order
	ndps   []int
}

// limits are what the reader checks an NTB against.
type limits struct {
	format                      int
	outMax                      int
	div, rem, ndpAlign, maxDgrs int
	maxDatagram                 int
}

// check validates ntb and records each violation in v (one count per
// violation kind per NTB). On success r.frames lists the datagrams.
func (r *reader) check(ntb []byte, lim *limits, v *[numViolations]bool) (ok bool) {
	l := &layouts[lim.format]
	r.used, r.frames, r.ndps = r.used[:0], r.frames[:0], r.ndps[:0]
	bad := func(x Violation) { v[x], ok = true, false }
	ok = true
	if len(ntb) > lim.outMax || len(ntb) >= l.nthLen && get(ntb, l.blockOff, l.word) > lim.outMax {
		bad(VTooLong) // the transfer, or the block its NTH declares
	}
	if len(ntb) < l.nthLen {
		bad(VShort)
		return false
	}
	if binary.LittleEndian.Uint32(ntb) != l.nthSig {
		bad(VNTHSignature)
		return false
	}
	if int(binary.LittleEndian.Uint16(ntb[4:])) != l.nthLen {
		bad(VHeaderLength)
	}
	block := get(ntb, l.blockOff, l.word)
	if block != len(ntb) {
		bad(VBlockLength)
		if block > len(ntb) {
			block = len(ntb) // check against what really came
		}
	}
	r.used = append(r.used, span{0, l.nthLen})
	ndp := get(ntb, l.ndpIdxOff, l.word)
	for hop := 0; ; hop++ {
		if hop >= maxNDPs {
			bad(VNDPLoop)
			return false
		}
		for _, p := range r.ndps {
			if p == ndp {
				bad(VNDPLoop)
				return false
			}
		}
		r.ndps = append(r.ndps, ndp)
		if ndp < l.nthLen || ndp+l.ndpHdr > block {
			bad(VNDPIndex)
			return false
		}
		if lim.ndpAlign > 1 && ndp%lim.ndpAlign != 0 {
			bad(VNDPAlignment)
		}
		b := ntb[ndp:block]
		if binary.LittleEndian.Uint32(b) != l.ndpSig {
			bad(VNDPSignature)
			return false
		}
		size := int(binary.LittleEndian.Uint16(b[4:]))
		if size < l.minNDP || size%l.ndpMod != 0 || ndp+size > block {
			bad(VNDPLength)
			return false
		}
		r.used = append(r.used, span{ndp, ndp + size})
		n, terminated := 0, false
		for e := l.ndpHdr; e+l.entry <= size; e += l.entry {
			idx, dl := get(b, e, l.word), get(b, e+l.word, l.word)
			if idx == 0 && dl == 0 {
				terminated = true
				break
			}
			n++
			switch {
			case idx == 0 || dl == 0:
				bad(VZeroEntry)
				continue
			case idx < l.nthLen:
				bad(VDatagramInHeader)
				continue
			case idx+dl > block:
				bad(VDatagramPastEnd)
				continue
			}
			if lim.div > 1 && (idx+ethHeader)%lim.div != lim.rem%lim.div {
				bad(VDatagramAlignment)
			}
			if dl < 14 {
				bad(VRunt)
			}
			if dl > lim.maxDatagram {
				bad(VOversize)
			}
			r.frames = append(r.frames, span{idx, idx + dl})
		}
		if !terminated {
			bad(VNoTerminator)
		}
		if n == 0 {
			bad(VEmptyNDP)
		}
		next := get(b, l.nextOff, l.word)
		if next == 0 {
			break
		}
		ndp = next
	}
	if lim.maxDgrs > 0 && len(r.frames) > lim.maxDgrs {
		bad(VTooManyDatagrams)
	}
	// Overlaps: every datagram against the NTH, the NDPs and the datagrams
	// before it (NTBs hold tens of datagrams: quadratic is fine).
	for i, f := range r.frames {
		for _, u := range r.used {
			if f.lo < u.hi && u.lo < f.hi {
				bad(VDatagramOverlap)
			}
		}
		for _, g := range r.frames[:i] {
			if f.lo < g.hi && g.lo < f.hi {
				bad(VDatagramOverlap)
			}
		}
	}
	return ok
}
