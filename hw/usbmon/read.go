package usbmon

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/google/gopacket"
	"github.com/google/gopacket/pcapgo"
)

// MaxRecordLen bounds one captured record. The kernel never hands out more
// than a fifth of its largest usbmon buffer (about 240 KiB) per event;
// anything above this is damage, and checking it first keeps a lying
// length from allocating gigabytes.
const MaxRecordLen = 1 << 20

// maxNgFile bounds a pcapng input, which is read whole (see NewReader).
const maxNgFile = 1 << 30

const pcapngMagic = 0x0a0d0d0a

// Reader reads usbmon records from a pcap or pcapng file, one at a time.
//
// The container is pcapgo's (pcap, gzip'd pcap, pcapng). A pcap is read as
// a stream; a pcapng is read whole into memory first and its block lengths
// are checked before pcapgo sees them (pcapgo allocates whatever a block
// header claims), which is also what gives each record a byte offset.
//
// After the first error every call returns it again.
type Reader struct {
	name  string
	lt    LinkType
	read  func(zeroCopy bool) ([]byte, gopacket.CaptureInfo, error)
	index int   // index of the record Next returns next
	off   int64 // offset of the record Next returns next (pcap)
	last  int64 // offset of the record returned last
	ng    *ngIndex
	err   error
}

// Open opens a capture file. Close the returned file when done with the Reader.
func Open(path string) (*Reader, *os.File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	r, err := NewReader(f)
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	r.name = path
	return r, f, nil
}

// NewReader sniffs the container format and reads its header. It fails if
// the file is not pcap or pcapng, or its link type is not 189 or 220.
func NewReader(in io.Reader) (r *Reader, err error) {
	defer func() {
		if p := recover(); p != nil { // pcapgo on input it did not expect
			r, err = nil, fmt.Errorf("usbmon: capture header: container parser failed: %v", p)
		}
	}()
	br := bufio.NewReader(in)
	magic, err := br.Peek(4)
	if err != nil {
		return nil, fmt.Errorf("usbmon: not a capture file: %w", noEOF(err))
	}
	if binary.LittleEndian.Uint32(magic) == pcapngMagic {
		return newNgReader(br)
	}
	pr, err := pcapgo.NewReader(br)
	if err != nil {
		return nil, fmt.Errorf("usbmon: pcap header: %w", noEOF(err))
	}
	lt := LinkType(pr.LinkType())
	if lt.HeaderLen() == 0 {
		return nil, fmt.Errorf("usbmon: link type %d is not usbmon (want 189 or 220)", uint32(lt))
	}
	if s := pr.Snaplen(); s == 0 || s > MaxRecordLen {
		pr.SetSnaplen(MaxRecordLen)
	}
	// Offsets count the decompressed stream for a gzip'd pcap.
	r = &Reader{lt: lt, off: 24}
	r.read = func(zc bool) ([]byte, gopacket.CaptureInfo, error) {
		if zc {
			return pr.ZeroCopyReadPacketData()
		}
		return pr.ReadPacketData()
	}
	return r, nil
}

// LinkType is the capture's link type.
func (r *Reader) LinkType() LinkType { return r.lt }

// Index is the index (0-based) of the record returned last, -1 before the first.
func (r *Reader) Index() int { return r.index - 1 }

// Offset is the byte offset in the file of the record returned last.
func (r *Reader) Offset() int64 { return r.last }

// Next returns the next record in a Record of its own, Data copied. It
// returns io.EOF after the last record, and a *RecordError naming the
// record's index and file offset if the file is damaged there.
func (r *Reader) Next() (*Record, error) {
	rec := new(Record)
	if err := r.next(rec, false); err != nil {
		return nil, err
	}
	if rec.Data == nil {
		rec.Data = []byte{}
	}
	return rec, nil
}

// NextZeroCopy decodes the next record into rec without allocating in the
// steady state. rec.Data and rec.IsoDesc point into the Reader's buffer:
// they are valid only until the next call to Next or NextZeroCopy (pcapgo
// reuses the buffer); Clone the record to keep it.
func (r *Reader) NextZeroCopy(rec *Record) error { return r.next(rec, true) }

func (r *Reader) next(rec *Record, zc bool) (err error) {
	if r.err != nil {
		return r.err
	}
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("container parser failed: %v", p)
		}
		if err != nil && err != io.EOF {
			var re *RecordError
			if !errors.As(err, &re) {
				err = &RecordError{File: r.name, Index: r.index, Offset: r.off, Err: err}
			}
		}
		if err != nil {
			r.err = err
		}
	}()
	var ngErr error
	lt := r.lt
	if r.ng != nil {
		if r.index >= len(r.ng.packets) {
			if r.ng.err != nil {
				return &RecordError{File: r.name, Index: r.index, Offset: r.ng.errOff, Err: r.ng.err}
			}
			return io.EOF
		}
		r.off = r.ng.packets[r.index].off
		lt = r.ng.packets[r.index].lt
		ngErr = r.ng.err
	}
	b, ci, err := r.read(zc)
	if err != nil {
		if err == io.EOF && r.ng == nil {
			return io.EOF
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			err = &TruncatedError{"pcap record", 0, 16 + ci.CaptureLength, -1}
			if ngErr != nil {
				err = ngErr
			}
		}
		return err
	}
	if err := decode(b, lt, ci.Length > ci.CaptureLength, rec); err != nil {
		return &RecordError{File: r.name, Index: r.index, Offset: r.off, Err: err}
	}
	r.last = r.off
	if r.ng == nil {
		r.off += 16 + int64(len(b))
	}
	r.index++
	return nil
}

func noEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// ReadAll reads every record of a capture.
func ReadAll(in io.Reader) ([]Record, LinkType, error) {
	r, err := NewReader(in)
	if err != nil {
		return nil, 0, err
	}
	return r.all()
}

// ReadFile reads every record of a capture file.
func ReadFile(path string) ([]Record, LinkType, error) {
	r, f, err := Open(path)
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	return r.all()
}

func (r *Reader) all() ([]Record, LinkType, error) {
	var out []Record
	for {
		rec, err := r.Next()
		if err == io.EOF {
			return out, r.lt, nil
		}
		if err != nil {
			return out, r.lt, err
		}
		out = append(out, *rec)
	}
}

// ngIndex is the result of walking a pcapng file's blocks.
type ngIndex struct {
	packets []ngPacket
	err     error // damage found after the last good packet, if any
	errOff  int64
}

type ngPacket struct {
	off int64
	lt  LinkType
}

// pcapng block types (pcapng draft §4).
const (
	ngSHB = 0x0a0d0d0a
	ngIDB = 1
	ngOPB = 2 // obsolete packet block
	ngSPB = 3
	ngISB = 5
	ngEPB = 6
)

func newNgReader(br *bufio.Reader) (*Reader, error) {
	data, err := io.ReadAll(io.LimitReader(br, maxNgFile+1))
	if err != nil {
		return nil, fmt.Errorf("usbmon: pcapng: %w", err)
	}
	if len(data) > maxNgFile {
		return nil, fmt.Errorf("usbmon: pcapng file over %d bytes", maxNgFile)
	}
	idx, good := indexNg(data)
	if len(idx.packets) == 0 && idx.err != nil && idx.errOff == 0 {
		return nil, fmt.Errorf("usbmon: pcapng section header: %w", idx.err)
	}
	nr, err := pcapgo.NewNgReader(bytes.NewReader(data[:good]), pcapgo.NgReaderOptions{WantMixedLinkType: true})
	if err != nil {
		return nil, fmt.Errorf("usbmon: pcapng: %w", noEOF(err))
	}
	r := &Reader{ng: idx, lt: LinkTypeMmapped}
	if len(idx.packets) > 0 {
		r.lt = idx.packets[0].lt
	}
	r.read = func(zc bool) ([]byte, gopacket.CaptureInfo, error) {
		if zc {
			return nr.ZeroCopyReadPacketData()
		}
		return nr.ReadPacketData()
	}
	return r, nil
}

// indexNg checks every block's framing and returns the packets' offsets and
// link types and how many leading bytes are sound.
func indexNg(data []byte) (idx *ngIndex, good int) {
	idx = &ngIndex{}
	var bo binary.ByteOrder = binary.LittleEndian
	var ifaces []LinkType
	var snap0 uint32
	fail := func(off int, format string, a ...any) (*ngIndex, int) {
		idx.err = &FieldError{"pcapng block", off, fmt.Sprintf(format, a...)}
		idx.errOff = int64(off)
		return idx, off
	}
	off := 0
	for off < len(data) {
		if len(data)-off < 12 {
			idx.err = &TruncatedError{"pcapng block header", off, 12, len(data) - off}
			idx.errOff = int64(off)
			return idx, off
		}
		typ := binary.LittleEndian.Uint32(data[off:])
		if typ == ngSHB {
			switch {
			case binary.LittleEndian.Uint32(data[off+8:]) == 0x1a2b3c4d:
				bo = binary.LittleEndian
			case binary.BigEndian.Uint32(data[off+8:]) == 0x1a2b3c4d:
				bo = binary.BigEndian
			default:
				return fail(off, "section header with a bad byte-order magic")
			}
			ifaces, snap0 = ifaces[:0], 0
		} else {
			typ = bo.Uint32(data[off:])
			if off == 0 {
				return fail(off, "file does not start with a section header")
			}
		}
		bl := int64(bo.Uint32(data[off+4:]))
		if bl < 12 || bl%4 != 0 || bl > int64(len(data)-off) {
			return fail(off, "block type %#x length %d (need 12..%d, a multiple of 4)", typ, bl, len(data)-off)
		}
		blk := data[off : off+int(bl)]
		if bo.Uint32(blk[len(blk)-4:]) != uint32(bl) {
			return fail(off, "block type %#x: trailing length %d differs from %d", typ, bo.Uint32(blk[len(blk)-4:]), bl)
		}
		switch typ {
		case ngSHB:
			if bl < 28 {
				return fail(off, "section header length %d, need 28", bl)
			}
		case ngIDB:
			if bl < 20 {
				return fail(off, "interface description length %d, need 20", bl)
			}
			lt := LinkType(bo.Uint16(blk[8:]))
			if len(ifaces) == 0 {
				snap0 = bo.Uint32(blk[12:])
			}
			ifaces = append(ifaces, lt)
			if err := checkNgOptions(blk[16:len(blk)-4], bo); err != nil {
				return fail(off, "interface description: %v", err)
			}
		case ngEPB, ngOPB:
			if bl < 32 {
				return fail(off, "packet block length %d, need 32", bl)
			}
			var ifc int
			if typ == ngEPB {
				ifc = int(bo.Uint32(blk[8:]))
			} else {
				ifc = int(bo.Uint16(blk[8:]))
			}
			capLen := int64(bo.Uint32(blk[20:]))
			if ifc >= len(ifaces) || ifc < 0 {
				return fail(off, "packet on interface %d, %d described", ifc, len(ifaces))
			}
			if capLen > bl-32 || capLen > MaxRecordLen {
				return fail(off, "packet captured length %d in a %d-byte block", capLen, bl)
			}
			if ifaces[ifc].HeaderLen() == 0 {
				return fail(off, "interface %d link type %d is not usbmon", ifc, uint32(ifaces[ifc]))
			}
			idx.packets = append(idx.packets, ngPacket{int64(off), ifaces[ifc]})
		case ngSPB:
			if bl < 16 {
				return fail(off, "simple packet block length %d, need 16", bl)
			}
			if len(ifaces) == 0 {
				return fail(off, "simple packet before any interface")
			}
			capLen := int64(bo.Uint32(blk[8:]))
			if snap0 != 0 && capLen > int64(snap0) {
				capLen = int64(snap0)
			}
			if capLen > bl-16 || capLen > MaxRecordLen {
				return fail(off, "simple packet length %d in a %d-byte block", capLen, bl)
			}
			if ifaces[0].HeaderLen() == 0 {
				return fail(off, "interface 0 link type %d is not usbmon", uint32(ifaces[0]))
			}
			idx.packets = append(idx.packets, ngPacket{int64(off), ifaces[0]})
		case ngISB:
			if bl < 24 {
				return fail(off, "interface statistics length %d, need 24", bl)
			}
			if ifc := int(bo.Uint32(blk[8:])); ifc >= len(ifaces) {
				return fail(off, "statistics for interface %d, %d described", ifc, len(ifaces))
			}
			if err := checkNgOptions(blk[20:len(blk)-4], bo); err != nil {
				return fail(off, "interface statistics: %v", err)
			}
		}
		off += int(bl)
	}
	return idx, off
}

// checkNgOptions walks an option list so that pcapgo never reads past it.
func checkNgOptions(b []byte, bo binary.ByteOrder) error {
	for len(b) > 0 {
		if len(b) < 4 {
			return fmt.Errorf("option header cut at %d bytes", len(b))
		}
		code, l := bo.Uint16(b), int(bo.Uint16(b[2:]))
		if code == 0 {
			return nil
		}
		padded := (l + 3) &^ 3
		if padded > len(b)-4 {
			return fmt.Errorf("option %d length %d with %d bytes left", code, l, len(b)-4)
		}
		b = b[4+padded:]
	}
	return nil
}
