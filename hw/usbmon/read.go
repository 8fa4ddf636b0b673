package usbmon

import (
	"bufio"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
)

// MaxRecordLen bounds one captured record. The kernel never hands out more
// than a fifth of its largest usbmon buffer (about 240 KiB) per event;
// anything above this is damage, and checking it first keeps a lying
// length from allocating gigabytes.
const MaxRecordLen = 1 << 20

// maxBlock bounds a pcapng block: one record and its options.
const maxBlock = MaxRecordLen + 64<<10

const (
	pcapngMagic = 0x0a0d0d0a
	pcapMicro   = 0xa1b2c3d4
	pcapNano    = 0xa1b23c4d
)

// Errors of opening a capture (wrapped with the file's name and details).
var (
	// ErrNotCapture: the file is neither pcap, pcapng nor gzip'd pcap.
	ErrNotCapture = errors.New("not a capture file (pcap, pcapng or gzip'd pcap)")
	// ErrLinkType: the capture holds no link type this package reads.
	ErrLinkType = errors.New("not usbmon or USBPcap (want link type 189, 220 or 249)")
)

// ReadOptions tune a Reader.
type ReadOptions struct {
	// Tolerant makes a damaged record an entry of Damage instead of the
	// end of the file: the Reader skips it, resynchronises where the
	// container allows (see Reader) and goes on. A file that is not a
	// capture at all still fails in NewReader.
	Tolerant bool
}

// MaxDamageKept bounds how many damaged records Reader.Damage keeps (all
// are counted in DamageCount): a file of noise must not fill memory with
// reports.
const MaxDamageKept = 256

// Reader reads usbmon records from a pcap, gzip'd pcap or pcapng file, one
// at a time, as a stream: memory is one record (one pcapng block) plus a
// bufio buffer, whatever the file's size.
//
// Record numbering (Index, RecordError.Index) counts the container's
// packets, as tshark's frame numbers do (frame = Index+1), damaged ones
// included, so that numbers stay comparable with Wireshark after a damaged
// record. Bytes skipped while resynchronising hold no countable packet.
//
// # Damage and resynchronisation (ReadOptions.Tolerant)
//
// A record whose container framing is sound but whose contents do not
// decode (a bad type byte, len_cap that disagrees) is skipped alone. Where
// the framing itself is broken the Reader scans forward for the next
// plausible record:
//
//   - pcapng: at each 4-byte boundary (blocks are 32-bit aligned), a block
//     of a known type whose leading and trailing lengths agree, with an
//     interface it names already described.
//   - pcap, which has no trailer: at each byte, a 16-byte record header
//     with caplen ≤ snaplen (and MaxRecordLen) and ≤ the original length,
//     a sub-second field under 10^6 (10^9 for nanosecond files), a
//     timestamp within a day of the last good record's, whose contents
//     decode as a record of the file's link type.
//
// A pcap record's framing counts as broken when its header is implausible,
// or when its contents fail to decode and the header that would follow it
// is implausible too (a flipped caplen).
//
// After the first error in strict mode every call returns it again.
type Reader struct {
	name    string
	br      *bufio.Reader
	pos     int64 // bytes consumed from the (decompressed) stream
	ng      bool
	bo      binary.ByteOrder
	lt      LinkType // pcap: the file's; pcapng: the first interface's
	snap    int
	nanos   bool
	ifaces  []ngIface
	index   int   // index of the record Next returns next
	last    int64 // offset of the record returned last
	lastSec int64 // container timestamp of the last good record (resync)
	opts    ReadOptions
	damage  []*RecordError
	ndamage int
	err     error
	usbpcap usbpcapState
	pend    []pendRec // records decoded ahead (USBPcap)
	cur     int       // index of the record returned last
}

type pendRec struct {
	rec Record
	idx int
	off int64
}

type ngIface struct {
	lt    LinkType
	snap  int
	tsDiv uint64 // timestamp units per second
}

// Open opens a capture file. Close the returned file when done with the Reader.
func Open(path string) (*Reader, *os.File, error) {
	return OpenOptions(path, ReadOptions{})
}

// OpenOptions is Open with options.
func OpenOptions(path string, opts ReadOptions) (*Reader, *os.File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	r, err := NewReaderOptions(f, opts)
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	r.name = path
	return r, f, nil
}

// NewReader sniffs the container format and reads its header. It fails if
// the file is not pcap, gzip'd pcap or pcapng (ErrNotCapture), or its link
// type is not one this package reads (ErrLinkType).
func NewReader(in io.Reader) (*Reader, error) { return NewReaderOptions(in, ReadOptions{}) }

// NewReaderOptions is NewReader with options.
func NewReaderOptions(in io.Reader, opts ReadOptions) (*Reader, error) {
	br := bufio.NewReaderSize(in, maxBlock+4096)
	magic, err := br.Peek(4)
	if err != nil {
		return nil, fmt.Errorf("usbmon: %w: %d bytes", ErrNotCapture, len(magic))
	}
	if magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("usbmon: gzip: %w", err)
		}
		br = bufio.NewReaderSize(zr, maxBlock+4096)
		if magic, err = br.Peek(4); err != nil {
			return nil, fmt.Errorf("usbmon: gzip'd: %w: %d bytes", ErrNotCapture, len(magic))
		}
	}
	r := &Reader{br: br, opts: opts, lastSec: -1, cur: -1}
	if binary.LittleEndian.Uint32(magic) == pcapngMagic {
		r.ng = true
		if err := r.ngFirst(); err != nil {
			return nil, err
		}
		return r, nil
	}
	if err := r.pcapHeader(); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *Reader) pcapHeader() error {
	h, err := r.br.Peek(24)
	if len(h) < 4 {
		return fmt.Errorf("usbmon: %w", ErrNotCapture)
	}
	switch {
	case binary.LittleEndian.Uint32(h) == pcapMicro:
		r.bo = binary.LittleEndian
	case binary.BigEndian.Uint32(h) == pcapMicro:
		r.bo = binary.BigEndian
	case binary.LittleEndian.Uint32(h) == pcapNano:
		r.bo, r.nanos = binary.LittleEndian, true
	case binary.BigEndian.Uint32(h) == pcapNano:
		r.bo, r.nanos = binary.BigEndian, true
	default:
		return fmt.Errorf("usbmon: %w: magic % x", ErrNotCapture, h[:4])
	}
	if err != nil {
		return fmt.Errorf("usbmon: pcap header: %w", &TruncatedError{"pcap file header", 0, 24, len(h)})
	}
	r.lt = LinkType(r.bo.Uint32(h[20:]) & 0xffff)
	if !r.lt.Supported() {
		return fmt.Errorf("usbmon: link type %d is %w", uint32(r.lt), ErrLinkType)
	}
	r.snap = int(r.bo.Uint32(h[16:]))
	if r.snap <= 0 || r.snap > MaxRecordLen {
		r.snap = MaxRecordLen
	}
	r.br.Discard(24)
	r.pos = 24
	return nil
}

// LinkType is the capture's link type (a pcapng's first interface's).
func (r *Reader) LinkType() LinkType { return r.lt }

// Index is the index (0-based) of the record returned last, -1 before the first.
// Records a USBPcap packet becomes (see usbpcapPacket) share its index.
func (r *Reader) Index() int { return r.cur }

// Offset is the byte offset in the file of the record returned last.
func (r *Reader) Offset() int64 { return r.last }

// Pos is how many bytes of the (decompressed) file have been read: the
// progress of a stream.
func (r *Reader) Pos() int64 { return r.pos }

// Damage is the damaged records a tolerant Reader skipped so far (the
// first MaxDamageKept of them), in file order.
func (r *Reader) Damage() []*RecordError { return r.damage }

// DamageCount is how many damaged records or regions were skipped.
func (r *Reader) DamageCount() int { return r.ndamage }

// Next returns the next record in a Record of its own, Data copied. It
// returns io.EOF after the last record, and a *RecordError naming the
// record's index and file offset if the file is damaged there (in
// tolerant mode only for what cannot be skipped).
func (r *Reader) Next() (*Record, error) {
	rec := new(Record)
	if err := r.next(rec); err != nil {
		return nil, err
	}
	c := rec.Clone()
	return c, nil
}

// NextZeroCopy decodes the next record into rec without allocating in the
// steady state. rec.Data and rec.IsoDesc point into the Reader's buffer:
// they are valid only until the next call to Next or NextZeroCopy; Clone
// the record to keep it.
func (r *Reader) NextZeroCopy(rec *Record) error { return r.next(rec) }

// packet is one container packet.
type packet struct {
	data []byte // valid until the next read
	cut  bool   // caplen < original length
	off  int64
	lt   LinkType
	sec  int64 // container timestamp
	usec int32
	size int // bytes of the container the packet takes
}

func (r *Reader) next(rec *Record) error {
	if r.err != nil {
		return r.err
	}
	for {
		if len(r.pend) > 0 {
			*rec = r.pend[0].rec
			r.cur, r.last = r.pend[0].idx, r.pend[0].off
			r.pend = r.pend[1:]
			return nil
		}
		p, err := r.packet()
		if err == io.EOF {
			if r.flushUSBPcap() {
				continue
			}
			r.err = io.EOF
			return io.EOF
		}
		if err != nil {
			re := &RecordError{File: r.name, Index: r.index, Offset: p.off, Err: err}
			if !r.opts.Tolerant {
				r.err = re
				return re
			}
			r.report(re)
			r.resync()
			continue
		}
		idx := r.index
		var derr error
		got := true
		if p.lt == LinkTypeUSBPcap {
			got, derr = r.usbpcapPacket(&p, rec)
		} else {
			derr = decode(p.data, p.lt, p.cut, rec)
		}
		if derr != nil {
			re := &RecordError{File: r.name, Index: idx, Offset: p.off, Err: derr}
			if !r.opts.Tolerant {
				r.err = re
				return re
			}
			r.report(re)
			if !r.ng && !r.headerPlausibleAt(p.size) {
				// The framing itself is suspect (a flipped caplen):
				// look for the next record from just after this one's
				// start.
				r.resync()
				continue
			}
			r.index++
			r.consume(p.size)
			continue
		}
		r.index++
		r.consume(p.size)
		r.lastSec = p.sec
		if !got {
			continue
		}
		r.last, r.cur = p.off, idx
		return nil
	}
}

func (r *Reader) consume(n int) {
	m, _ := r.br.Discard(n)
	r.pos += int64(m)
}

func (r *Reader) report(re *RecordError) {
	r.ndamage++
	if len(r.damage) < MaxDamageKept {
		r.damage = append(r.damage, re)
	}
}

// packet peeks at the next container packet without consuming it (size
// bytes; consume them once it is decoded). p.off is where it starts.
func (r *Reader) packet() (p packet, err error) {
	if r.ng {
		return r.ngPacket()
	}
	p.off, p.lt = r.pos, r.lt
	h, err := r.br.Peek(16)
	if len(h) == 0 && err != nil {
		return p, io.EOF
	}
	if len(h) < 16 {
		return p, &TruncatedError{"pcap record header", 0, 16, len(h)}
	}
	incl, orig, ok := r.pcapPlausible(h)
	if !ok {
		return p, &FieldError{"pcap record header", 0, fmt.Sprintf("captured length %d, original length %d, sub-second %d (snaplen %d)", r.bo.Uint32(h[8:]), r.bo.Uint32(h[12:]), r.bo.Uint32(h[4:]), r.snap)}
	}
	b, err := r.br.Peek(16 + incl)
	if err != nil {
		return p, &TruncatedError{"pcap record", 0, 16 + incl, -1}
	}
	p.sec, p.usec = int64(r.bo.Uint32(h)), int32(r.bo.Uint32(h[4:]))
	if r.nanos {
		p.usec /= 1000
	}
	p.data = b[16 : 16+incl : 16+incl]
	p.cut = orig > incl
	p.size = 16 + incl
	return p, nil
}

// skipRest consumes what is left of a stream whose last record is cut.
func (r *Reader) skipRest() {
	n, _ := io.Copy(io.Discard, r.br)
	r.pos += n
}

func (r *Reader) pcapPlausible(h []byte) (incl, orig int, ok bool) {
	incl, orig = int(r.bo.Uint32(h[8:])), int(r.bo.Uint32(h[12:]))
	frac := r.bo.Uint32(h[4:])
	limit := uint32(1000000)
	if r.nanos {
		limit = 1000000000
	}
	ok = incl <= r.snap && incl <= orig && orig <= 1<<26 && frac < limit
	return incl, orig, ok
}

// headerPlausibleAt: whether the bytes at skip past the stream's position
// start a plausible pcap record header (or the file ends there).
func (r *Reader) headerPlausibleAt(skip int) bool {
	b, _ := r.br.Peek(skip + 16)
	if len(b) <= skip {
		return true
	}
	if len(b) < skip+16 {
		return false
	}
	_, _, ok := r.pcapPlausible(b[skip:])
	return ok
}

// resync moves the stream past the start of the damaged packet at its
// position to the next plausible record (see Reader), or to its end.
func (r *Reader) resync() {
	var scratch Record
	if r.ng {
		for {
			r.consume(4)
			if ok, end := r.ngCandidate(); ok || end {
				return
			}
		}
	}
	for {
		r.consume(1)
		h, _ := r.br.Peek(16)
		if len(h) < 16 {
			r.skipRest()
			return
		}
		if incl, orig, ok := r.pcapPlausible(h); ok && incl >= 27 {
			sec := int64(r.bo.Uint32(h))
			near := r.lastSec < 0 || (sec >= r.lastSec-86400 && sec <= r.lastSec+86400)
			if b, err := r.br.Peek(16 + incl); err == nil && near && r.candidateDecodes(b[16:], orig > incl, &scratch) {
				return
			}
		}
	}
}

// candidateDecodes: whether b decodes as a record of the file's link type.
func (r *Reader) candidateDecodes(b []byte, cut bool, scratch *Record) bool {
	if r.lt == LinkTypeUSBPcap {
		_, err := parseUSBPcapHeader(b)
		return err == nil
	}
	return decode(b, r.lt, cut, scratch) == nil
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
