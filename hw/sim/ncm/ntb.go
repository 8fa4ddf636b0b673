package ncm

import "encoding/binary"

// NTB signatures (include/uapi/linux/usb/cdc.h), as le32.
const (
	SigNTH16 uint32 = 0x484d434e // "NCMH"
	SigNTH32 uint32 = 0x686d636e // "ncmh"
	SigNDP16 uint32 = 0x304d434e // "NCM0": no CRC
	SigNDP32 uint32 = 0x306d636e // "ncm0"
)

// layout is one NTB format's field sizes and offsets.
//
//	NTH16 (12): sig | wHeaderLength | wSequence | wBlockLength  | wNdpIndex
//	NTH32 (16): sig | wHeaderLength | wSequence | dwBlockLength | dwNdpIndex
//	NDP16 (8 + 4n):  sig | wLength | wNextNdpIndex                  | {wIndex, wLength}...  {0, 0}
//	NDP32 (16 + 8n): sig | wLength | wReserved | dwNextNdpIndex | dwReserved | {dwIndex, dwLength}... {0, 0}
type layout struct {
	nthSig, ndpSig uint32
	nthLen         int // NTH size and wHeaderLength
	word           int // 2 (NTB16) or 4 (NTB32): index and length fields
	blockOff       int // NTH: block length
	ndpIdxOff      int // NTH: first NDP index
	ndpHdr         int // NDP header size
	nextOff        int // NDP: next NDP index
	entry          int // NDP entry size
	minNDP         int // smallest wLength (one datagram and the terminator)
	ndpMod         int // wLength granularity
}

var layouts = [2]layout{
	FormatNTB16: {nthSig: SigNTH16, ndpSig: SigNDP16, nthLen: 12, word: 2, blockOff: 8, ndpIdxOff: 10,
		ndpHdr: 8, nextOff: 6, entry: 4, minNDP: 16, ndpMod: 4},
	FormatNTB32: {nthSig: SigNTH32, ndpSig: SigNDP32, nthLen: 16, word: 4, blockOff: 8, ndpIdxOff: 12,
		ndpHdr: 16, nextOff: 8, entry: 8, minNDP: 32, ndpMod: 8},
}

// get reads a word-sized (2 or 4 byte) little-endian field.
func get(b []byte, off, word int) int {
	if word == 2 {
		return int(binary.LittleEndian.Uint16(b[off:]))
	}
	return int(binary.LittleEndian.Uint32(b[off:]))
}

func put(b []byte, off, word, v int) {
	if word == 2 {
		binary.LittleEndian.PutUint16(b[off:], uint16(v))
		return
	}
	binary.LittleEndian.PutUint32(b[off:], uint32(v))
}

// alignPayload is the first offset ≥ off with offset ≡ rem (mod div).
func alignPayload(off, div, rem int) int {
	if div <= 1 {
		return off
	}
	return off + ((rem-off%div)%div+div)%div
}

func alignUp(off, a int) int {
	if a <= 1 {
		return off
	}
	return (off + a - 1) / a * a
}

// writer builds one RX NTB at a time into a reused buffer: the NTH, the
// datagrams (each at the payload alignment), then the NDP after the last.
// Its buffers only grow: in steady state it allocates nothing.
type writer struct {
	buf  []byte // NTH space + datagrams so far
	idx  []int  // datagram offsets
	lens []int
	seq  uint16
}

func (w *writer) reset(l *layout) {
	w.buf = append(w.buf[:0], make([]byte, l.nthLen)...)
	w.idx, w.lens = w.idx[:0], w.lens[:0]
}

func (w *writer) count() int { return len(w.idx) }

// sizeWith is the NTB's length if a datagram of n bytes were added (n = 0:
// as it stands), with its NDP at alignment ndpAlign.
func (w *writer) sizeWith(l *layout, n, div, rem, ndpAlign int) int {
	end, k := len(w.buf), len(w.idx)
	if n > 0 {
		end, k = alignPayload(end, div, rem)+n, k+1
	}
	return alignUp(end, ndpAlign) + l.ndpHdr + (k+1)*l.entry
}

func (w *writer) add(frame []byte, div, rem int) {
	off := alignPayload(len(w.buf), div, rem)
	for len(w.buf) < off {
		w.buf = append(w.buf, 0)
	}
	w.buf = append(w.buf, frame...)
	w.idx = append(w.idx, off)
	w.lens = append(w.lens, len(frame))
}

// finish appends the NDP (or, with chain, two NDPs: the first half of the
// datagrams in the first, linked to the second) and fills in the NTH. The
// result aliases w.buf.
func (w *writer) finish(l *layout, ndpAlign int, chain bool) []byte {
	groups := [2][2]int{{0, len(w.idx)}, {0, 0}}
	if chain && len(w.idx) >= 2 {
		h := len(w.idx) / 2
		groups = [2][2]int{{0, h}, {h, len(w.idx)}}
	}
	first, prevNext := 0, -1
	for _, g := range groups {
		if g[1] <= g[0] {
			continue
		}
		ndp := alignUp(len(w.buf), ndpAlign)
		for len(w.buf) < ndp {
			w.buf = append(w.buf, 0)
		}
		n := g[1] - g[0]
		size := l.ndpHdr + (n+1)*l.entry
		size = alignUp(size, l.ndpMod)
		w.buf = append(w.buf, make([]byte, size)...)
		b := w.buf[ndp:]
		binary.LittleEndian.PutUint32(b, l.ndpSig)
		binary.LittleEndian.PutUint16(b[4:], uint16(size))
		for i := g[0]; i < g[1]; i++ {
			e := l.ndpHdr + (i-g[0])*l.entry
			put(b, e, l.word, w.idx[i])
			put(b, e+l.word, l.word, w.lens[i])
		}
		if prevNext >= 0 {
			put(w.buf, prevNext, l.word, ndp)
		} else {
			first = ndp
		}
		prevNext = ndp + l.nextOff
	}
	b := w.buf
	binary.LittleEndian.PutUint32(b, l.nthSig)
	binary.LittleEndian.PutUint16(b[4:], uint16(l.nthLen))
	binary.LittleEndian.PutUint16(b[6:], w.seq)
	w.seq++
	put(b, l.blockOff, l.word, len(b))
	put(b, l.ndpIdxOff, l.word, first)
	return b
}
