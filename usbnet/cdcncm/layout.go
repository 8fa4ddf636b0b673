package cdcncm

import "encoding/binary"

// layout is where NTB16 and NTB32 keep their fields: the one table both
// the reader and the writer use, so the two formats share their code.
//
//	NTH16: dwSignature wHeaderLength wSequence wBlockLength  wNdpIndex      (12 bytes)
//	NTH32: dwSignature wHeaderLength wSequence dwBlockLength dwNdpIndex     (16 bytes)
//	NDP16: dwSignature wLength wNextNdpIndex                  {wIndex wLength}...
//	NDP32: dwSignature wLength wReserved6 dwNextNdpIndex dwReserved12 {dwIndex dwLength}...
type layout struct {
	format            Format
	word              int // 2 or 4: the width of lengths and indexes
	nthLen            int
	nthSig, ndpSig    uint32
	ndpCRCSig         uint32
	blockOff, ndpOff  int // in the NTH
	ndpHdr, ndpMin    int
	nextOff, entryLen int // in the NDP
}

var layouts = [2]layout{
	NTB16: {format: NTB16, word: 2, nthLen: nth16Len, nthSig: SigNTH16, ndpSig: SigNDP16, ndpCRCSig: SigNDP16CRC,
		blockOff: 8, ndpOff: 10, ndpHdr: ndp16HdrLen, ndpMin: ndp16MinLen, nextOff: 6, entryLen: 4},
	NTB32: {format: NTB32, word: 4, nthLen: nth32Len, nthSig: SigNTH32, ndpSig: SigNDP32, ndpCRCSig: SigNDP32CRC,
		blockOff: 8, ndpOff: 12, ndpHdr: ndp32HdrLen, ndpMin: ndp32MinLen, nextOff: 8, entryLen: 8},
}

func layoutOf(f Format) *layout { return &layouts[f&1] }

// get reads a little-endian field of width w (2 or 4) at off; the caller
// has checked that it lies inside b.
func get(b []byte, off, w int) int {
	if w == 2 {
		return int(binary.LittleEndian.Uint16(b[off:]))
	}
	return int(binary.LittleEndian.Uint32(b[off:]))
}

func put(b []byte, off, w, v int) {
	if w == 2 {
		binary.LittleEndian.PutUint16(b[off:], uint16(v))
		return
	}
	binary.LittleEndian.PutUint32(b[off:], uint32(v))
}

// alignUp is the first multiple of a at or after n (a a power of two).
func alignUp(n, a int) int { return (n + a - 1) &^ (a - 1) }

// alignTo is the first offset at or after n that is ≡ rem (mod div), div a
// power of two and rem < div. (Linux's cdc_ncm_align_tail may skip one
// more div; the smallest offset is as good for the device and wastes less.)
func alignTo(n, div, rem int) int { return n + (rem-n)&(div-1) }
