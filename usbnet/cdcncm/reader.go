package cdcncm

import (
	"errors"
	"fmt"
	"sync/atomic"
)

// What a received NTB can get wrong: Linux's cdc_ncm receive path was
// fixed for each of these over the years (the regression table of
// reader_test.go). Each is counted in RxCounters; the error Read returns
// wraps the first that lost data.
var (
	ErrShortNTB         = errors.New("transfer shorter than an NTH and an NDP")
	ErrNTHSignature     = errors.New("bad NTH signature")
	ErrHeaderLength     = errors.New("NTH wHeaderLength is not the header's size")
	ErrBlockTooLong     = errors.New("NTB block length above the negotiated input size")
	ErrBlockLength      = errors.New("NTB block length shorter than its headers")
	ErrNDPInHeader      = errors.New("NDP index inside the NTH")
	ErrNDPBeyondBlock   = errors.New("NDP beyond the block")
	ErrNDPSignature     = errors.New("bad NDP signature")
	ErrNDPLength        = errors.New("bad NDP wLength")
	ErrNDPLoop          = errors.New("NDP chain loops or is too long")
	ErrNDPOverlap       = errors.New("NDP overlaps the NTH or another NDP")
	ErrEmptyNDP         = errors.New("NDP without a datagram")
	ErrZeroEntry        = errors.New("datagram entry with index or length 0")
	ErrNoTerminator     = errors.New("NDP without a null entry")
	ErrDatagramInHeader = errors.New("datagram index inside the NTH")
	ErrDatagramPastEnd  = errors.New("datagram runs past the block")
	ErrDatagramOverlap  = errors.New("datagram overlaps a header or another datagram")
	ErrRunt             = errors.New("datagram shorter than an Ethernet header")
	ErrOversize         = errors.New("datagram longer than the maximum datagram size")
)

// RxCounters count what the reader found, by name (ethtool -S). They are
// atomic: the bottom half writes them, diag reads them.
type RxCounters struct {
	NTBs, Datagrams atomic.Uint64
	// Counted, not lost: a sequence number that does not follow the last
	// (Linux's "sequence number glitch"), an NDP index that is not a
	// multiple of 4 (it still parses, as Linux reads it), and the bytes
	// of the block the transfer lacked (BlockPastTransfer).
	Sequence, NDPMisaligned, BlockPastTransfer atomic.Uint64
	// Each lost data: the NTB, the NDP, or the rest of the NDP.
	ShortNTB, NTHSignature, HeaderLength, BlockTooLong, BlockLength    atomic.Uint64
	NDPInHeader, NDPBeyondBlock, NDPSignature, NDPLength, NDPLoop      atomic.Uint64
	NDPOverlap, EmptyNDP, ZeroEntry, NoTerminator                      atomic.Uint64
	DatagramInHeader, DatagramPastEnd, DatagramOverlap, Runt, Oversize atomic.Uint64
}

// Named lists the counters with their names, in a fixed order.
func (c *RxCounters) Named() []NamedCounter {
	return []NamedCounter{
		{"rx_ntbs", &c.NTBs}, {"rx_datagrams", &c.Datagrams}, {"rx_sequence_glitch", &c.Sequence},
		{"rx_ndp_misaligned", &c.NDPMisaligned}, {"rx_block_past_transfer", &c.BlockPastTransfer},
		{"rx_short_ntb", &c.ShortNTB}, {"rx_nth_signature", &c.NTHSignature}, {"rx_header_length", &c.HeaderLength},
		{"rx_block_too_long", &c.BlockTooLong}, {"rx_block_length", &c.BlockLength}, {"rx_ndp_in_header", &c.NDPInHeader},
		{"rx_ndp_beyond_block", &c.NDPBeyondBlock}, {"rx_ndp_signature", &c.NDPSignature}, {"rx_ndp_length", &c.NDPLength},
		{"rx_ndp_loop", &c.NDPLoop}, {"rx_ndp_overlap", &c.NDPOverlap}, {"rx_empty_ndp", &c.EmptyNDP},
		{"rx_zero_entry", &c.ZeroEntry}, {"rx_no_terminator", &c.NoTerminator},
		{"rx_datagram_in_header", &c.DatagramInHeader}, {"rx_datagram_past_end", &c.DatagramPastEnd},
		{"rx_datagram_overlap", &c.DatagramOverlap}, {"rx_runt", &c.Runt}, {"rx_oversize", &c.Oversize},
	}
}

// NamedCounter is one counter and its name.
type NamedCounter struct {
	Name string
	C    *atomic.Uint64
}

// Reader parses received NTBs (cdc_ncm_rx_fixup with its verify
// helpers). It keeps the sequence number between NTBs and a bitmap of
// the block's used bytes for the overlap checks, so that reading
// allocates nothing unless an NTB is bad. One goroutine at a time.
type Reader struct {
	// Format is the negotiated format; with Auto the NTH's signature
	// picks it per NTB (offline decoding, where SET_NTB_FORMAT may not
	// be in the trace).
	Format Format
	Auto   bool
	// MaxBlock is the negotiated NTB input size (0: 65536);
	// MaxDatagram the largest datagram (0: 8192).
	MaxBlock, MaxDatagram int
	// C receives the counts; nil: a private set.
	C *RxCounters

	seq    uint16
	seqOK  bool
	own    RxCounters
	ndps   [maxNDPs]int
	used   [NTBMaxSize / 64]uint64
	failed error // first data-losing anomaly of the NTB being read
	detail [3]int
}

// ResetSequence forgets the last sequence number (the device restarts
// its count when the data interface is reselected).
func (r *Reader) ResetSequence() { r.seqOK = false }

func (r *Reader) counters() *RxCounters {
	if r.C == nil {
		r.C = &r.own
	}
	return r.C
}

// fail records a data-losing anomaly: counted always, kept as the error
// if it is the NTB's first.
func (r *Reader) fail(c *atomic.Uint64, err error, a, b, n int) {
	c.Add(1)
	if r.failed == nil {
		r.failed, r.detail = err, [3]int{a, b, n}
	}
}

// Read parses one NTB, p being exactly the transfer, and calls emit for
// each good datagram with its offset and length in p, in NDP order.
//
//	NTH ─wNdpIndex─► NDP ─wNextNdpIndex─► NDP ─► ... (at most 50)
//	                  └─ {index, length} ... {0, 0}
//
// Checks, each counted (RxCounters) and each bounding every read by
// min(wBlockLength, len(p)), so nothing outside p is read:
//   - the NTH: length, signature, wHeaderLength, wBlockLength (0 means
//     "to the end of the transfer"; above MaxBlock drops the NTB, as
//     Linux; beyond the transfer is counted and read up to its end);
//     the sequence number (counted only);
//   - each NDP of the chain: inside the block and not in the NTH, a
//     multiple of 4 (counted only), wLength at least the minimum, a whole
//     number of entries and inside the block, no NDP revisited or
//     overlapping the NTH or another NDP; a bad NDP ends the chain; one
//     of the other signature (CRC) is skipped, the chain followed;
//   - each datagram entry: {0,0} ends the NDP (and must come before its
//     last slot); an entry with only one of them 0, an index inside the
//     NTH, a datagram past the block, shorter than 14 or longer than
//     MaxDatagram ends the NDP, as Linux; a datagram overlapping the
//     headers or another datagram is skipped.
//
// It returns the number of datagrams emitted and, if anything lost data,
// an error wrapping the first such anomaly's sentinel.
func (r *Reader) Read(p []byte, emit func(off, n int)) (int, error) {
	c := r.counters()
	c.NTBs.Add(1)
	r.failed = nil
	frames := r.read(p, c, emit)
	c.Datagrams.Add(uint64(frames))
	if r.failed != nil {
		return frames, fmt.Errorf("%d-byte NTB: %w (%s)", len(p), r.failed, detail(r.failed, r.detail))
	}
	return frames, nil
}

// detail says where an anomaly is, in the terms of its fields (built only
// for an NTB that failed).
func detail(err error, d [3]int) string {
	switch err {
	case ErrShortNTB:
		return fmt.Sprintf("need %d bytes", max(d[1], 4))
	case ErrNTHSignature:
		return fmt.Sprintf("dwSignature %#08x, want %#08x", d[0], d[1])
	case ErrHeaderLength:
		return fmt.Sprintf("wHeaderLength %d, want %d", d[0], d[1])
	case ErrBlockTooLong:
		return fmt.Sprintf("block length %d, input size %d", d[0], d[1])
	case ErrBlockLength:
		return fmt.Sprintf("block length %d, headers need %d", d[0], d[1])
	case ErrNDPInHeader, ErrNDPBeyondBlock:
		return fmt.Sprintf("NDP index %d, block %d", d[0], d[1])
	case ErrNDPSignature:
		return fmt.Sprintf("NDP at %d, dwSignature %#08x", d[0], d[1])
	case ErrNDPLength:
		return fmt.Sprintf("NDP at %d, wLength %d, block %d", d[0], d[1], d[2])
	case ErrNDPLoop:
		return fmt.Sprintf("NDP index %d after %d NDPs", d[0], d[1])
	case ErrNDPOverlap:
		return fmt.Sprintf("NDP at %d, wLength %d", d[0], d[1])
	case ErrEmptyNDP, ErrNoTerminator:
		return fmt.Sprintf("NDP at %d", d[0])
	}
	return fmt.Sprintf("entry %d: index %d, length %d", d[0], d[1], d[2])
}

func (r *Reader) read(p []byte, c *RxCounters, emit func(off, n int)) int {
	maxBlock := r.MaxBlock
	if maxBlock <= 0 || maxBlock > NTBMaxSize {
		maxBlock = NTBMaxSize
	}
	maxDgram := r.MaxDatagram
	if maxDgram <= 0 {
		maxDgram = MaxDatagramSize
	}
	if len(p) < 4 {
		r.fail(&c.ShortNTB, ErrShortNTB, len(p), 0, 0)
		return 0
	}
	l := layoutOf(r.Format)
	if r.Auto {
		if sig := uint32(get(p, 0, 4)); sig == SigNTH32 {
			l = layoutOf(NTB32)
		} else if sig == SigNTH16 {
			l = layoutOf(NTB16)
		}
	}
	if len(p) < l.nthLen+l.ndpHdr {
		r.fail(&c.ShortNTB, ErrShortNTB, len(p), l.nthLen+l.ndpHdr, 0)
		return 0
	}
	if uint32(get(p, 0, 4)) != l.nthSig {
		r.fail(&c.NTHSignature, ErrNTHSignature, get(p, 0, 4), int(l.nthSig), 0)
		return 0
	}
	if h := get(p, 4, 2); h != l.nthLen {
		r.fail(&c.HeaderLength, ErrHeaderLength, h, l.nthLen, 0)
		return 0
	}
	seq := uint16(get(p, 6, 2))
	if r.seqOK && seq != r.seq+1 && (r.seq != 0 || seq != 0) {
		c.Sequence.Add(1)
	}
	r.seq, r.seqOK = seq, true
	block := get(p, l.blockOff, l.word)
	switch {
	case block == 0:
		block = len(p) // ended by a short packet
	case block > maxBlock:
		r.fail(&c.BlockTooLong, ErrBlockTooLong, block, maxBlock, 0)
		return 0
	case block < l.nthLen+l.ndpMin:
		r.fail(&c.BlockLength, ErrBlockLength, block, l.nthLen+l.ndpMin, 0)
		return 0
	case block > len(p):
		c.BlockPastTransfer.Add(1)
		block = len(p)
	}
	if block > len(r.used)*64 {
		block = len(r.used) * 64
	}
	clear(r.used[:(block+63)/64])
	r.mark(0, l.nthLen)

	// Pass 1: the NDP chain, so that a datagram overlapping any NDP is
	// caught whatever the order.
	n := 0
	ndp := get(p, l.ndpOff, l.word)
	for hop := 0; ; hop++ {
		if hop > 0 && ndp == 0 {
			break
		}
		if hop == maxNDPs {
			r.fail(&c.NDPLoop, ErrNDPLoop, ndp, hop, 0)
			break
		}
		if ndp < l.nthLen {
			r.fail(&c.NDPInHeader, ErrNDPInHeader, ndp, l.nthLen, 0)
			break
		}
		if ndp > block-l.ndpHdr {
			r.fail(&c.NDPBeyondBlock, ErrNDPBeyondBlock, ndp, block, 0)
			break
		}
		if ndp%ndpIndexAlign != 0 {
			c.NDPMisaligned.Add(1)
		}
		size := get(p, ndp+4, 2)
		if size < l.ndpMin || size > block-ndp {
			r.fail(&c.NDPLength, ErrNDPLength, ndp, size, block)
			break
		}
		if r.visited(ndp, n) {
			r.fail(&c.NDPLoop, ErrNDPLoop, ndp, hop, 0)
			break
		}
		if r.any(ndp, ndp+size) {
			r.fail(&c.NDPOverlap, ErrNDPOverlap, ndp, size, 0)
			break
		}
		r.mark(ndp, ndp+size)
		r.ndps[n] = ndp
		n++
		ndp = get(p, ndp+l.nextOff, l.word)
	}

	// Pass 2: the datagrams.
	frames := 0
	for _, ndp := range r.ndps[:n] {
		if uint32(get(p, ndp, 4)) != l.ndpSig {
			r.fail(&c.NDPSignature, ErrNDPSignature, ndp, get(p, ndp, 4), 0)
			continue
		}
		size := get(p, ndp+4, 2)
		if (size-l.ndpHdr)%l.entryLen != 0 {
			r.fail(&c.NDPLength, ErrNDPLength, ndp, size, block)
		}
		entries := (size - l.ndpHdr) / l.entryLen
		terminated := false
		for i := 0; i < entries; i++ {
			e := ndp + l.ndpHdr + i*l.entryLen
			idx, dl := get(p, e, l.word), get(p, e+l.word, l.word)
			if idx == 0 && dl == 0 {
				terminated = true
				if i == 0 {
					r.fail(&c.EmptyNDP, ErrEmptyNDP, ndp, 0, 0)
				}
				break
			}
			if i == entries-1 {
				break // the last slot is the terminator's
			}
			bad := true
			switch {
			case idx == 0 || dl == 0:
				r.fail(&c.ZeroEntry, ErrZeroEntry, i, idx, dl)
			case idx < l.nthLen:
				r.fail(&c.DatagramInHeader, ErrDatagramInHeader, i, idx, dl)
			case idx > block || dl > block-idx:
				r.fail(&c.DatagramPastEnd, ErrDatagramPastEnd, i, idx, dl)
			case dl < ethHeaderLen:
				r.fail(&c.Runt, ErrRunt, i, idx, dl)
			case dl > maxDgram:
				r.fail(&c.Oversize, ErrOversize, i, idx, dl)
			default:
				bad = false
			}
			if bad {
				terminated = true // the NDP ends here, as Linux's does
				break
			}
			if r.any(idx, idx+dl) {
				r.fail(&c.DatagramOverlap, ErrDatagramOverlap, i, idx, dl)
				continue
			}
			r.mark(idx, idx+dl)
			emit(idx, dl)
			frames++
		}
		if !terminated {
			r.fail(&c.NoTerminator, ErrNoTerminator, ndp, size, 0)
		}
	}
	return frames
}

func (r *Reader) visited(ndp, n int) bool {
	for _, x := range r.ndps[:n] {
		if x == ndp {
			return true
		}
	}
	return false
}

// mark sets the bits of bytes [lo, hi) of the block.
func (r *Reader) mark(lo, hi int) {
	for lo < hi {
		w, b := lo/64, lo%64
		n := min(64-b, hi-lo)
		r.used[w] |= bits(b, n)
		lo += n
	}
}

// any reports whether a byte of [lo, hi) is marked.
func (r *Reader) any(lo, hi int) bool {
	for lo < hi {
		w, b := lo/64, lo%64
		n := min(64-b, hi-lo)
		if r.used[w]&bits(b, n) != 0 {
			return true
		}
		lo += n
	}
	return false
}

// bits is n one bits from bit b (n ≥ 1, b+n ≤ 64).
func bits(b, n int) uint64 {
	if n == 64 {
		return ^uint64(0)
	}
	return (uint64(1)<<n - 1) << b
}
