package usbmon_test

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"io"
	"testing"

	"dongle/hw/usbmon"
)

// ngFile builds a pcapng file block by block, in either byte order, so
// that tests can write what pcapgo does not (big-endian sections, simple
// and obsolete packet blocks, if_tsresol, damaged blocks).
type ngFile struct {
	bo   ngOrder
	b    []byte
	offs []int // offset of each block
}

// ngOrder is a byte order that can also append.
type ngOrder interface {
	binary.ByteOrder
	binary.AppendByteOrder
}

func pad4(b []byte) []byte { return append(b, make([]byte, (4-len(b)%4)%4)...) }

// block appends a block of type typ around body (padded to 4 bytes).
func (f *ngFile) block(typ uint32, body []byte) *ngFile {
	body = pad4(append([]byte(nil), body...))
	n := uint32(12 + len(body))
	f.offs = append(f.offs, len(f.b))
	f.b = f.bo.AppendUint32(f.b, typ)
	f.b = f.bo.AppendUint32(f.b, n)
	f.b = append(f.b, body...)
	f.b = f.bo.AppendUint32(f.b, n)
	return f
}

func (f *ngFile) shb() *ngFile {
	var body []byte
	body = f.bo.AppendUint32(body, 0x1a2b3c4d)
	body = f.bo.AppendUint16(body, 1)
	body = f.bo.AppendUint16(body, 0)
	body = f.bo.AppendUint64(body, ^uint64(0))
	return f.block(0x0a0d0d0a, body)
}

// idb appends an interface description; opts are raw option bytes.
func (f *ngFile) idb(lt usbmon.LinkType, snap uint32, opts []byte) *ngFile {
	var body []byte
	body = f.bo.AppendUint16(body, uint16(lt))
	body = f.bo.AppendUint16(body, 0)
	body = f.bo.AppendUint32(body, snap)
	return f.block(1, append(body, opts...))
}

// opt is one pcapng option (code, value), padded.
func (f *ngFile) opt(code uint16, v []byte) []byte {
	var b []byte
	b = f.bo.AppendUint16(b, code)
	b = f.bo.AppendUint16(b, uint16(len(v)))
	return pad4(append(b, v...))
}

func (f *ngFile) epb(ifc uint32, ts uint64, data []byte, orig int) *ngFile {
	var body []byte
	body = f.bo.AppendUint32(body, ifc)
	body = f.bo.AppendUint32(body, uint32(ts>>32))
	body = f.bo.AppendUint32(body, uint32(ts))
	body = f.bo.AppendUint32(body, uint32(len(data)))
	body = f.bo.AppendUint32(body, uint32(orig))
	return f.block(6, append(body, data...))
}

// opb is the obsolete packet block: a 16-bit interface id and drop count.
func (f *ngFile) opb(ifc uint16, ts uint64, data []byte) *ngFile {
	var body []byte
	body = f.bo.AppendUint16(body, ifc)
	body = f.bo.AppendUint16(body, 0)
	body = f.bo.AppendUint32(body, uint32(ts>>32))
	body = f.bo.AppendUint32(body, uint32(ts))
	body = f.bo.AppendUint32(body, uint32(len(data)))
	body = f.bo.AppendUint32(body, uint32(len(data)))
	return f.block(2, append(body, data...))
}

func (f *ngFile) spb(orig uint32, data []byte) *ngFile {
	return f.block(3, append(f.bo.AppendUint32(nil, orig), data...))
}

// usbRec is a 220 record: a bulk IN completion of data, with id.
func usbRec(id uint64, data []byte) []byte {
	r := usbmon.Record{ID: id, Type: usbmon.Complete, XferType: usbmon.XferBulk, Endpoint: 0x81, Device: 2, Bus: 1,
		FlagSetup: usbmon.FlagNoSetup, TsSec: 1700000000, TsUsec: 5, Length: uint32(len(data)), Data: data}
	return usbmon.Encode(&r)
}

// readNg reads f strictly, returning the records, their indexes and the
// error that ended the read (nil at a clean end).
func readNg(t *testing.T, b []byte) ([]usbmon.Record, []int, error) {
	t.Helper()
	r, err := usbmon.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, nil, err
	}
	var recs []usbmon.Record
	var idx []int
	for {
		rec, err := r.Next()
		if err == io.EOF {
			return recs, idx, nil
		}
		if err != nil {
			return recs, idx, err
		}
		recs = append(recs, *rec)
		idx = append(idx, r.Index())
	}
}

// TestPcapngBothByteOrders: a section's byte-order magic decides how every
// block of it is read; the usbmon record inside stays little-endian.
func TestPcapngBothByteOrders(t *testing.T) {
	for _, bo := range []ngOrder{binary.LittleEndian, binary.BigEndian} {
		f := &ngFile{bo: bo}
		f.shb().idb(usbmon.LinkTypeMmapped, 0, nil).epb(0, 1, usbRec(0x11, []byte("abc")), 67).epb(0, 2, usbRec(0x22, []byte("de")), 66)
		r, err := usbmon.NewReader(bytes.NewReader(f.b))
		if err != nil || r.LinkType() != usbmon.LinkTypeMmapped {
			t.Fatalf("%v: %v %v", bo, r, err)
		}
		recs, idx, err := readNg(t, f.b)
		if err != nil || len(recs) != 2 || recs[0].ID != 0x11 || string(recs[0].Data) != "abc" || recs[1].ID != 0x22 || string(recs[1].Data) != "de" || idx[1] != 1 {
			t.Fatalf("%v: %v %v", bo, recs, err)
		}
	}
}

// TestPcapngTimestamps: if_tsresol (decimal and binary) and the default
// microseconds give a USBPcap record (whose time is the container's) its
// time; options before if_tsresol are stepped over by their padded length.
func TestPcapngTimestamps(t *testing.T) {
	up := upPacket{irp: 1, back: true, bus: 1, dev: 3, ep: 0x81, transfer: 3, stage: -1, data: []byte{1}}.bytes()
	for _, tc := range []struct {
		name      string
		opts      func(f *ngFile) []byte
		ts        uint64
		sec, usec int64
	}{
		{"default microseconds", func(*ngFile) []byte { return nil }, 1700000000*1000000 + 42, 1700000000, 42},
		{"nanoseconds", func(f *ngFile) []byte {
			return append(append(f.opt(2, []byte("usb1")), f.opt(9, []byte{9})...), f.opt(0, nil)...)
		}, 1700000000*1000000000 + 123456789, 1700000000, 123456},
		{"2^-10 seconds", func(f *ngFile) []byte { return f.opt(9, []byte{0x80 | 10}) }, 5*1024 + 512, 5, 500000},
		{"milliseconds after a 5-byte option", func(f *ngFile) []byte {
			return append(f.opt(2, []byte("eth0x")), f.opt(9, []byte{3})...)
		}, 7*1000 + 250, 7, 250000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &ngFile{bo: binary.LittleEndian}
			f.shb().idb(usbmon.LinkTypeUSBPcap, 0, tc.opts(f)).epb(0, tc.ts, up, len(up))
			recs, _, err := readNg(t, f.b)
			if err != nil || len(recs) != 2 {
				t.Fatalf("%d records, %v", len(recs), err)
			}
			for _, r := range recs {
				if r.TsSec != tc.sec || int64(r.TsUsec) != tc.usec {
					t.Fatalf("time %d.%06d, want %d.%06d", r.TsSec, r.TsUsec, tc.sec, tc.usec)
				}
			}
		})
	}
}

// TestPcapngOtherBlocks: simple and obsolete packet blocks carry records;
// statistics, name resolution and decryption-secrets blocks are stepped
// over; a record on a second interface is read with that interface's
// link type.
func TestPcapngOtherBlocks(t *testing.T) {
	f := &ngFile{bo: binary.BigEndian}
	r189 := usbRec(0x33, []byte{7, 8})[:48]
	r189 = append(r189, 7, 8)
	f.shb().idb(usbmon.LinkTypeMmapped, 0, nil).
		spb(uint32(len(usbRec(1, []byte("spb")))), usbRec(1, []byte("spb"))).
		block(5, make([]byte, 12)).   // ISB: interface, timestamp
		block(4, []byte{0, 0, 0, 0}). // NRB: end of records
		block(0xa, make([]byte, 8)).  // DSB
		idb(usbmon.LinkTypeLinux, 0, nil).
		opb(0, 3, usbRec(2, []byte("opb"))).
		epb(1, 4, r189, len(r189))
	recs, idx, err := readNg(t, f.b)
	if err != nil || len(recs) != 3 {
		t.Fatalf("%d records, %v", len(recs), err)
	}
	if recs[0].ID != 1 || string(recs[0].Data) != "spb" || recs[1].ID != 2 || string(recs[1].Data) != "opb" ||
		recs[2].ID != 0x33 || !bytes.Equal(recs[2].Data, []byte{7, 8}) || recs[2].NDesc != 0 {
		t.Fatalf("records %v", recs)
	}
	if idx[0] != 0 || idx[1] != 1 || idx[2] != 2 {
		t.Fatalf("indexes %v", idx)
	}
}

// TestPcapngSimplePacketSnaplen: a simple packet block holds at most the
// interface's snaplen bytes of a longer packet: the record is kept, cut.
func TestPcapngSimplePacketSnaplen(t *testing.T) {
	rec := usbRec(9, bytes.Repeat([]byte{0xaa}, 100))
	f := &ngFile{bo: binary.LittleEndian}
	f.shb().idb(usbmon.LinkTypeMmapped, 80, nil).spb(uint32(len(rec)), rec[:80])
	recs, _, err := readNg(t, f.b)
	if err != nil || len(recs) != 1 || len(recs[0].Data) != 16 || !recs[0].Truncated() || recs[0].Length != 100 {
		t.Fatalf("%v %v", recs, err)
	}
	// Without the snaplen the same block is short of its own length, by
	// much or by a few bytes.
	for _, orig := range []int{len(rec), 84} {
		g := &ngFile{bo: binary.LittleEndian}
		g.shb().idb(usbmon.LinkTypeMmapped, 0, nil).spb(uint32(orig), rec[:80])
		var fe *usbmon.FieldError
		if _, _, err := readNg(t, g.b); !errors.As(err, &fe) || fe.Offset != 8 || fe.Field != "pcapng block" {
			t.Fatalf("length %d: err %v", orig, err)
		}
	}
}

// TestPcapngRefused: a file whose first interface is no USB link type, or
// whose section header is cut or has no byte-order magic, is refused with
// the right sentinel or error type.
func TestPcapngRefused(t *testing.T) {
	f := &ngFile{bo: binary.LittleEndian}
	f.shb().idb(1, 0, nil).epb(0, 0, []byte{1, 2, 3}, 3)
	if _, err := usbmon.NewReader(bytes.NewReader(f.b)); !errors.Is(err, usbmon.ErrLinkType) {
		t.Fatalf("ethernet pcapng: %v", err)
	}
	var te *usbmon.TruncatedError
	if _, err := usbmon.NewReader(bytes.NewReader(f.b[:20])); !errors.As(err, &te) || te.Have != 20 || te.Need != 28 {
		t.Fatalf("cut section header: %v", err)
	}
	bad := append([]byte(nil), f.b...)
	bad[8] = 0
	var fe *usbmon.FieldError
	if _, err := usbmon.NewReader(bytes.NewReader(bad)); !errors.As(err, &fe) || fe.Offset != 8 {
		t.Fatalf("bad byte-order magic: %v", err)
	}
	// A section with no interface yet reads as usbmon, and ends cleanly.
	g := &ngFile{bo: binary.LittleEndian}
	g.shb()
	r, err := usbmon.NewReader(bytes.NewReader(g.b))
	if err != nil || r.LinkType() != usbmon.LinkTypeMmapped {
		t.Fatalf("bare section: %v", err)
	}
	if _, err := r.Next(); err != io.EOF {
		t.Fatalf("bare section: %v", err)
	}
}

// TestPcapngDamagedBlocks: each broken block is reported at its index and
// offset, with the field at fault.
func TestPcapngDamagedBlocks(t *testing.T) {
	rec := usbRec(5, []byte("data"))
	for _, tc := range []struct {
		name  string
		build func(f *ngFile) int // returns the offset of the damaged block
		field int                 // FieldError.Offset, -1: a TruncatedError
	}{
		{"length not a multiple of 4", func(f *ngFile) int {
			f.epb(0, 0, rec, len(rec))
			o := f.offs[len(f.offs)-1]
			binary.LittleEndian.PutUint32(f.b[o+4:], 13)
			return o
		}, 4},
		{"length under 12", func(f *ngFile) int {
			f.epb(0, 0, rec, len(rec))
			o := f.offs[len(f.offs)-1]
			binary.LittleEndian.PutUint32(f.b[o+4:], 8)
			return o
		}, 4},
		{"trailing length differs", func(f *ngFile) int {
			f.epb(0, 0, rec, len(rec))
			o := f.offs[len(f.offs)-1]
			binary.LittleEndian.PutUint32(f.b[len(f.b)-4:], 96)
			return o
		}, 96},
		{"packet block under 32 bytes", func(f *ngFile) int {
			f.block(6, make([]byte, 16))
			return f.offs[len(f.offs)-1]
		}, 4},
		{"packet block without data: a record cut in its header", func(f *ngFile) int {
			f.block(6, make([]byte, 20))
			return f.offs[len(f.offs)-1]
		}, -1},
		{"simple packet block without data: a record cut in its header", func(f *ngFile) int {
			f.block(3, make([]byte, 4))
			return f.offs[len(f.offs)-1]
		}, -1},
		{"simple packet block under 16 bytes", func(f *ngFile) int {
			f.block(3, nil)
			return f.offs[len(f.offs)-1]
		}, 4},
		{"interface description under 20 bytes", func(f *ngFile) int {
			f.block(1, make([]byte, 4)).epb(0, 0, rec, len(rec))
			return f.offs[len(f.offs)-2]
		}, 4},
		{"statistics under 24 bytes", func(f *ngFile) int {
			f.block(5, make([]byte, 8)).epb(0, 0, rec, len(rec))
			return f.offs[len(f.offs)-2]
		}, 4},
		{"section header under 28 bytes", func(f *ngFile) int {
			var body []byte
			body = binary.LittleEndian.AppendUint32(body, 0x1a2b3c4d)
			f.block(0x0a0d0d0a, body).idb(usbmon.LinkTypeMmapped, 0, nil).epb(0, 0, rec, len(rec))
			return f.offs[len(f.offs)-3]
		}, 4},
		{"interface option past the block", func(f *ngFile) int {
			f.idb(usbmon.LinkTypeMmapped, 0, []byte{9, 0, 40, 0, 6, 0, 0, 0}).epb(0, 0, rec, len(rec))
			return f.offs[len(f.offs)-2]
		}, 16},
		{"interface option a little past the block", func(f *ngFile) int {
			f.idb(usbmon.LinkTypeMmapped, 0, []byte{2, 0, 8, 0, 'u', 's', 'b', '1'}).epb(0, 0, rec, len(rec))
			return f.offs[len(f.offs)-2]
		}, 16},
		{"undescribed interface", func(f *ngFile) int {
			f.epb(1, 0, rec, len(rec))
			return f.offs[len(f.offs)-1]
		}, 8},
		{"interface of another link type", func(f *ngFile) int {
			f.idb(1, 0, nil).epb(1, 0, rec, len(rec))
			return f.offs[len(f.offs)-1]
		}, 8},
		{"captured length beyond the block", func(f *ngFile) int {
			f.epb(0, 0, rec, len(rec))
			o := f.offs[len(f.offs)-1]
			binary.LittleEndian.PutUint32(f.b[o+20:], uint32(len(rec)+1))
			return o
		}, 20},
		{"block cut by the end of the file", func(f *ngFile) int {
			f.epb(0, 0, rec, len(rec))
			o := f.offs[len(f.offs)-1]
			f.b = f.b[:len(f.b)-8]
			return o
		}, -1},
		{"block header cut by the end of the file", func(f *ngFile) int {
			o := len(f.b)
			f.b = append(f.b, 6, 0, 0, 0, 32)
			return o
		}, -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &ngFile{bo: binary.LittleEndian}
			f.shb().idb(usbmon.LinkTypeMmapped, 0, nil).epb(0, 0, usbRec(1, []byte("ok")), 66)
			off := tc.build(f)
			recs, _, err := readNg(t, f.b)
			var re *usbmon.RecordError
			if len(recs) != 1 || !errors.As(err, &re) || re.Index != 1 || re.Offset != int64(off) {
				t.Fatalf("%d records, err %v (want record 1 at byte %d)", len(recs), err, off)
			}
			var fe *usbmon.FieldError
			var te *usbmon.TruncatedError
			if tc.field < 0 && !errors.As(err, &te) || tc.field >= 0 && (!errors.As(err, &fe) || fe.Offset != tc.field) {
				t.Fatalf("err %v, want field at byte %d", err, tc.field)
			}
		})
	}
}

// TestPcapngResyncNeedsDescribedInterface: after a broken block, a packet
// block naming an interface not described is no place to resume; the next
// sound block is (and, the broken framing holding no countable packet,
// it takes the lost block's number).
func TestPcapngResyncNeedsDescribedInterface(t *testing.T) {
	f := &ngFile{bo: binary.LittleEndian}
	f.shb().idb(usbmon.LinkTypeMmapped, 0, nil).epb(0, 0, usbRec(1, []byte("one")), 67)
	// A broken block whose body holds a sound EPB on interface 1 (only
	// interface 0 is described).
	var inner ngFile
	inner.bo = binary.LittleEndian
	inner.epb(1, 0, usbRec(0xbad, []byte("ghost")), 69)
	f.block(6, append(make([]byte, 20), inner.b...))
	broken := f.offs[len(f.offs)-1]
	binary.LittleEndian.PutUint32(f.b[broken+4:], 1<<16)
	f.epb(0, 0, usbRec(2, []byte("two")), 67)
	recs, idx, r := readTolerant(t, f.b)
	if len(recs) != 2 || recs[1].ID != 2 || idx[1] != 1 || r.DamageCount() != 1 || r.Damage()[0].Offset != int64(broken) || r.Damage()[0].Index != 1 {
		t.Fatalf("records %v at %v, damage %v", recs, idx, r.Damage())
	}
}

// TestPcapngBlockSizes: a block may be as small as its 12-byte frame and
// as large as one record and 64 KiB of options; blocks of types this
// package does not know are stepped over. The same holds gzip'd.
func TestPcapngBlockSizes(t *testing.T) {
	const largest = usbmon.MaxRecordLen + 64<<10
	for _, tc := range []struct {
		name string
		body int // body bytes of the unknown block
		ok   bool
	}{
		{"empty block", 0, true},
		{"largest block", largest - 12, true},
		{"larger block", largest - 8, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &ngFile{bo: binary.LittleEndian}
			f.shb().idb(usbmon.LinkTypeMmapped, 0, nil).epb(0, 0, usbRec(1, []byte("a")), 65).
				block(0x0bad, make([]byte, tc.body)).epb(0, 0, usbRec(2, []byte("b")), 65)
			var z bytes.Buffer
			zw := gzip.NewWriter(&z)
			zw.Write(f.b)
			zw.Close()
			for name, b := range map[string][]byte{"plain": f.b, "gzip'd": z.Bytes()} {
				recs, _, err := readNg(t, b)
				if tc.ok != (err == nil) || tc.ok && (len(recs) != 2 || recs[1].ID != 2) {
					t.Fatalf("%s: %d records, %v", name, len(recs), err)
				}
				var re *usbmon.RecordError
				if !tc.ok && (!errors.As(err, &re) || re.Offset != int64(f.offs[3]) || re.Index != 1) {
					t.Fatalf("%s: err %v", name, err)
				}
			}
		})
	}
}

// TestPcapngPacketBeforeInterface: a packet block before any interface is
// described opens (the link type defaults to usbmon's) and is then
// reported as damage naming the missing interface.
func TestPcapngPacketBeforeInterface(t *testing.T) {
	rec := usbRec(1, []byte("a"))
	for name, f := range map[string]*ngFile{
		"enhanced": (&ngFile{bo: binary.LittleEndian}).shb().epb(0, 0, rec, len(rec)),
		"simple":   (&ngFile{bo: binary.LittleEndian}).shb().spb(uint32(len(rec)), rec),
	} {
		r, err := usbmon.NewReader(bytes.NewReader(f.b))
		if err != nil || r.LinkType() != usbmon.LinkTypeMmapped {
			t.Fatalf("%s: %v", name, err)
		}
		_, err = r.Next()
		var re *usbmon.RecordError
		var fe *usbmon.FieldError
		if !errors.As(err, &re) || re.Index != 0 || re.Offset != 28 || !errors.As(err, &fe) || fe.Offset != 8 {
			t.Fatalf("%s: err %v", name, err)
		}
	}
}

// TestMaxRecordLen: a record of MaxRecordLen bytes is read, in a pcapng
// packet block and in a pcap; one byte more is damage, not an allocation.
func TestMaxRecordLen(t *testing.T) {
	for _, n := range []int{usbmon.MaxRecordLen, usbmon.MaxRecordLen + 1} {
		rec := usbRec(7, make([]byte, n-64))
		f := &ngFile{bo: binary.LittleEndian}
		f.shb().idb(usbmon.LinkTypeMmapped, 0, nil).epb(0, 0, rec, len(rec))
		p := newPcap(binary.LittleEndian, 0xa1b2c3d4, 0, uint32(usbmon.LinkTypeMmapped)).add(1, 0, rec)
		s := &ngFile{bo: binary.LittleEndian}
		s.shb().idb(usbmon.LinkTypeMmapped, 0, nil).spb(uint32(len(rec)), rec)
		for name, b := range map[string][]byte{"pcapng": f.b, "pcap": p.b, "pcapng simple packet": s.b} {
			recs, _, err := usbmon.ReadAll(bytes.NewReader(b))
			var fe *usbmon.FieldError
			if n == usbmon.MaxRecordLen && (err != nil || len(recs) != 1 || len(recs[0].Data) != n-64) ||
				n > usbmon.MaxRecordLen && (len(recs) != 0 || !errors.As(err, &fe)) {
				t.Fatalf("%s, %d-byte record: %d records, %v", name, n, len(recs), err)
			}
		}
	}
}

// TestPcapngSections: concatenated captures (cat a.pcapng b.pcapng) read
// on: each section has its own byte order and its own interfaces, counted
// from 0 again; an interface block may end a section.
func TestPcapngSections(t *testing.T) {
	a := &ngFile{bo: binary.LittleEndian}
	a.shb().idb(usbmon.LinkTypeMmapped, 0, nil).epb(0, 0, usbRec(1, []byte("a")), 65).idb(usbmon.LinkTypeMmapped, 0, nil)
	b := &ngFile{bo: binary.BigEndian}
	r189 := append(usbRec(2, []byte{7, 8})[:48:48], 7, 8)
	b.shb().idb(usbmon.LinkTypeLinux, 0, nil).epb(0, 0, r189, len(r189))
	recs, idx, err := readNg(t, append(append([]byte(nil), a.b...), b.b...))
	if err != nil || len(recs) != 2 || recs[1].ID != 2 || !bytes.Equal(recs[1].Data, []byte{7, 8}) || idx[1] != 1 {
		t.Fatalf("%v %v", recs, err)
	}
}

// TestPcapngRecordCut: a packet block whose original length exceeds its
// captured length holds a cut record, kept; in one that cut nothing, a
// len_cap beyond the bytes there is damage.
func TestPcapngRecordCut(t *testing.T) {
	rec := usbRec(1, []byte("0123456789"))
	short := rec[:len(rec)-4] // len_cap still says 10
	for _, tc := range []struct {
		orig int
		ok   bool
	}{{len(short), false}, {len(rec), true}} {
		f := &ngFile{bo: binary.LittleEndian}
		f.shb().idb(usbmon.LinkTypeMmapped, 0, nil).epb(0, 0, short, tc.orig)
		recs, _, err := readNg(t, f.b)
		var te *usbmon.TruncatedError
		if tc.ok && (err != nil || len(recs) != 1 || string(recs[0].Data) != "012345") {
			t.Fatalf("cut by the container: %v", err)
		}
		if !tc.ok && (!errors.As(err, &te) || te.What != "data") {
			t.Fatalf("len_cap beyond an uncut record: %v", err)
		}
	}
}
