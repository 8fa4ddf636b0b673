package usbmon_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"testing"

	"dongle/hw/usbmon"
)

// pcapFile builds a classic pcap by hand, in either byte order and
// timestamp precision, with record headers that may lie.
type pcapFile struct {
	bo   ngOrder
	b    []byte
	offs []int
}

func newPcap(bo ngOrder, magic, snap, lt uint32) *pcapFile {
	f := &pcapFile{bo: bo}
	f.b = bo.AppendUint32(f.b, magic)
	f.b = bo.AppendUint16(f.b, 2)
	f.b = bo.AppendUint16(f.b, 4)
	f.b = bo.AppendUint64(f.b, 0)
	f.b = bo.AppendUint32(f.b, snap)
	f.b = bo.AppendUint32(f.b, lt)
	return f
}

// rec appends a record with the given header fields and data.
func (f *pcapFile) rec(sec, frac, incl, orig uint32, data []byte) *pcapFile {
	f.offs = append(f.offs, len(f.b))
	for _, v := range []uint32{sec, frac, incl, orig} {
		f.b = f.bo.AppendUint32(f.b, v)
	}
	f.b = append(f.b, data...)
	return f
}

// add appends a sound record of data.
func (f *pcapFile) add(sec, frac uint32, data []byte) *pcapFile {
	return f.rec(sec, frac, uint32(len(data)), uint32(len(data)), data)
}

// TestPcapByteOrdersAndPrecision: the four pcap magics (either byte order,
// micro- or nanosecond timestamps) read, and a USBPcap record (whose time
// is the container's) gets the microseconds of a nanosecond file.
func TestPcapByteOrdersAndPrecision(t *testing.T) {
	up := upPacket{irp: 1, back: true, bus: 1, dev: 3, ep: 0x81, transfer: 3, stage: -1, data: []byte{1}}.bytes()
	for _, tc := range []struct {
		name  string
		bo    ngOrder
		magic uint32
		frac  uint32
		usec  int32
	}{
		{"little-endian µs", binary.LittleEndian, 0xa1b2c3d4, 654321, 654321},
		{"big-endian µs", binary.BigEndian, 0xa1b2c3d4, 654321, 654321},
		{"little-endian ns", binary.LittleEndian, 0xa1b23c4d, 654321987, 654321},
		{"big-endian ns", binary.BigEndian, 0xa1b23c4d, 999999999, 999999},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newPcap(tc.bo, tc.magic, 65535, uint32(usbmon.LinkTypeUSBPcap)).add(1700000001, tc.frac, up)
			recs, lt, err := usbmon.ReadAll(bytes.NewReader(f.b))
			if err != nil || lt != usbmon.LinkTypeUSBPcap || len(recs) != 2 {
				t.Fatalf("%d records, %v %v", len(recs), lt, err)
			}
			for _, r := range recs {
				if r.TsSec != 1700000001 || r.TsUsec != tc.usec || r.ID != 1 {
					t.Fatalf("record %v at %d.%06d", r, r.TsSec, r.TsUsec)
				}
			}
		})
	}
}

// TestPcapHeaderRefused: a cut file header, or a link type not USB, is
// refused; the FCS bits above the link type do not change it.
func TestPcapHeaderRefused(t *testing.T) {
	f := newPcap(binary.LittleEndian, 0xa1b2c3d4, 65535, uint32(usbmon.LinkTypeMmapped)).add(1, 0, usbRec(1, []byte("x")))
	var te *usbmon.TruncatedError
	for _, n := range []int{4, 10} {
		// The magic alone already says pcap: a cut capture, not noise.
		if _, err := usbmon.NewReader(bytes.NewReader(f.b[:n])); !errors.As(err, &te) || te.Have != n || te.Need != 24 || errors.Is(err, usbmon.ErrNotCapture) {
			t.Fatalf("header cut at %d: %v", n, err)
		}
	}
	if _, err := usbmon.NewReader(bytes.NewReader(newPcap(binary.BigEndian, 0xa1b2c3d4, 65535, 1).b)); !errors.Is(err, usbmon.ErrLinkType) {
		t.Fatalf("ethernet: %v", err)
	}
	fcs := newPcap(binary.LittleEndian, 0xa1b2c3d4, 65535, 0x14000000|uint32(usbmon.LinkTypeMmapped)).add(1, 0, usbRec(1, []byte("x")))
	if recs, lt, err := usbmon.ReadAll(bytes.NewReader(fcs.b)); err != nil || lt != usbmon.LinkTypeMmapped || len(recs) != 1 {
		t.Fatalf("FCS bits: %v %v", lt, err)
	}
}

// TestPcapRecordHeaderLimits: a record header is damage when its captured
// length exceeds the snaplen or its original length, its original length
// exceeds 64 MiB, or its sub-second field a second; the limits themselves
// are sound. The damaged record is named by index and offset.
func TestPcapRecordHeaderLimits(t *testing.T) {
	rec := usbRec(1, []byte("0123456789"))
	n := uint32(len(rec))
	for _, tc := range []struct {
		name             string
		magic, snap      uint32
		frac, incl, orig uint32
		ok               bool
	}{
		{"caplen at snaplen", 0xa1b2c3d4, n, 0, n, n, true},
		{"caplen over snaplen", 0xa1b2c3d4, n - 1, 0, n, n, false},
		{"caplen over original length", 0xa1b2c3d4, 65535, 0, n, n - 1, false},
		{"original length 64 MiB", 0xa1b2c3d4, 65535, 0, n, 1 << 26, true},
		{"original length over 64 MiB", 0xa1b2c3d4, 65535, 0, n, 1<<26 + 1, false},
		{"µs 999999", 0xa1b2c3d4, 65535, 999999, n, n, true},
		{"µs 1000000", 0xa1b2c3d4, 65535, 1000000, n, n, false},
		{"ns 999999999", 0xa1b23c4d, 65535, 999999999, n, n, true},
		{"ns 1000000000", 0xa1b23c4d, 65535, 1000000000, n, n, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newPcap(binary.LittleEndian, tc.magic, tc.snap, uint32(usbmon.LinkTypeMmapped)).
				add(1, 0, usbRec(0, nil)).rec(1, tc.frac, tc.incl, tc.orig, rec)
			recs, _, err := usbmon.ReadAll(bytes.NewReader(f.b))
			if tc.ok {
				if err != nil || len(recs) != 2 || string(recs[1].Data) != "0123456789" {
					t.Fatalf("%d records, %v", len(recs), err)
				}
				return
			}
			var re *usbmon.RecordError
			var fe *usbmon.FieldError
			if len(recs) != 1 || !errors.As(err, &re) || re.Index != 1 || re.Offset != int64(f.offs[1]) || !errors.As(err, &fe) {
				t.Fatalf("%d records, %v", len(recs), err)
			}
		})
	}
}

// TestReaderPosition: Index, Offset and Pos follow the stream; a strict
// Reader's error is returned again by every later call.
func TestReaderPosition(t *testing.T) {
	f := newPcap(binary.LittleEndian, 0xa1b2c3d4, 65535, uint32(usbmon.LinkTypeMmapped)).
		add(1, 0, usbRec(1, []byte("a"))).add(1, 0, usbRec(2, []byte("bc")))
	good := len(f.b)
	f.add(1, 0, append(usbRec(3, nil)[:8], 'X'))
	r, err := usbmon.NewReader(bytes.NewReader(f.b))
	if err != nil || r.Index() != -1 || r.Pos() != 24 {
		t.Fatalf("fresh reader: index %d pos %d, %v", r.Index(), r.Pos(), err)
	}
	for i := 0; i < 2; i++ {
		rec, err := r.Next()
		if err != nil || rec.ID != uint64(i+1) || r.Index() != i || r.Offset() != int64(f.offs[i]) {
			t.Fatalf("record %d: index %d offset %d, %v", i, r.Index(), r.Offset(), err)
		}
	}
	if r.Pos() != int64(good) {
		t.Fatalf("pos %d after two records, want %d", r.Pos(), good)
	}
	_, err1 := r.Next()
	_, err2 := r.Next()
	var re *usbmon.RecordError
	if !errors.As(err1, &re) || re.Index != 2 || err2 != err1 {
		t.Fatalf("errors %v then %v", err1, err2)
	}
}

// TestResyncWithinADay: while resynchronising a pcap, a plausible record
// whose timestamp is more than a day from the last good record's is taken
// for noise; one within the day is where reading resumes.
func TestResyncWithinADay(t *testing.T) {
	const t0 = 1700000000
	for _, tc := range []struct {
		name  string
		last  uint32 // timestamp of the good records
		sec   uint32
		found bool
	}{
		{"a day later", t0, t0 + 86400, true},
		{"a day and a second later", t0, t0 + 86401, false},
		{"a day earlier", t0, t0 - 86400, true},
		{"a day and a second earlier", t0, t0 - 86401, false},
		{"a day and a second after time 0", 0, 86401, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ghost := usbRec(0x6057, []byte("ghost"))
			f := newPcap(binary.LittleEndian, 0xa1b2c3d4, 65535, uint32(usbmon.LinkTypeMmapped)).
				add(tc.last, 0, usbRec(1, []byte("one")))
			// A record whose captured length lies (over the snaplen);
			// inside its bytes, what looks like a record header and a
			// record.
			var inner pcapFile
			inner.bo = binary.LittleEndian
			inner.add(tc.sec, 0, ghost)
			f.rec(tc.last, 0, 1<<20, 1<<20, append(make([]byte, 8), inner.b...))
			f.add(tc.last, 1, usbRec(2, []byte("two")))
			recs, _, r := readTolerant(t, f.b)
			ids := []uint64{}
			for _, rec := range recs {
				ids = append(ids, rec.ID)
			}
			want := []uint64{1, 2}
			if tc.found {
				want = []uint64{1, 0x6057, 2}
			}
			if len(ids) != len(want) || ids[1] != want[1] || r.DamageCount() != 1 || r.Damage()[0].Offset != int64(f.offs[1]) {
				t.Fatalf("ids %x, want %x; damage %v", ids, want, r.Damage())
			}
		})
	}
}

// TestResyncFirstRecord: with no good record yet, any timestamp will do.
func TestResyncFirstRecord(t *testing.T) {
	f := newPcap(binary.LittleEndian, 0xa1b2c3d4, 65535, uint32(usbmon.LinkTypeMmapped))
	f.rec(5, 0, 1<<20, 1<<20, nil)
	f.add(1700000000, 0, usbRec(2, []byte("two")))
	recs, idx, r := readTolerant(t, f.b)
	if len(recs) != 1 || recs[0].ID != 2 || idx[0] != 0 || r.DamageCount() != 1 || r.Damage()[0].Offset != 24 {
		t.Fatalf("%v %v, damage %v", recs, idx, r.Damage())
	}
}

// TestResyncOntoBareUSBPcapHeader: a USBPcap packet of the header alone
// (27 bytes: a transfer without data) is a record a resync can land on.
func TestResyncOntoBareUSBPcapHeader(t *testing.T) {
	bare := upPacket{irp: 9, back: true, bus: 1, dev: 3, ep: 0x81, transfer: 3, stage: -1}.bytes()
	f := newPcap(binary.LittleEndian, 0xa1b2c3d4, 65535, uint32(usbmon.LinkTypeUSBPcap))
	f.add(1700000000, 0, upPacket{irp: 1, back: true, bus: 1, dev: 3, ep: 0x81, transfer: 3, stage: -1, data: []byte{1}}.bytes())
	f.rec(1700000000, 0, 1<<24, 1<<24, nil)
	f.add(1700000000, 2, bare)
	recs, _, r := readTolerant(t, f.b)
	if len(recs) != 4 || recs[2].ID != 9 || recs[3].Length != 0 || r.DamageCount() != 1 {
		t.Fatalf("%v, damage %v", recs, r.Damage())
	}
	if _, err := r.Next(); err != io.EOF {
		t.Fatal(err)
	}
}

// TestPcapRecordCut: a record the file ends inside says how many bytes it
// needed; a record whose len_cap claims more bytes than the pcap record
// holds, in a file that cut nothing (caplen = original length), is damage
// rather than a snaplen cut.
func TestPcapRecordCut(t *testing.T) {
	rec := usbRec(1, []byte("0123456789"))
	f := newPcap(binary.LittleEndian, 0xa1b2c3d4, 65535, uint32(usbmon.LinkTypeMmapped)).add(1, 0, rec)
	_, _, err := usbmon.ReadAll(bytes.NewReader(f.b[:len(f.b)-3]))
	var te *usbmon.TruncatedError
	if !errors.As(err, &te) || te.Need != 16+len(rec) || te.Have != -1 {
		t.Fatalf("cut record: %v", err)
	}
	short := append([]byte(nil), rec[:len(rec)-4]...) // len_cap still says 10
	for _, tc := range []struct {
		orig uint32
		ok   bool
	}{{uint32(len(short)), false}, {uint32(len(rec)), true}} {
		g := newPcap(binary.LittleEndian, 0xa1b2c3d4, 65535, uint32(usbmon.LinkTypeMmapped)).rec(1, 0, uint32(len(short)), tc.orig, short)
		recs, _, err := usbmon.ReadAll(bytes.NewReader(g.b))
		if tc.ok && (err != nil || len(recs) != 1 || string(recs[0].Data) != "012345") {
			t.Fatalf("cut by the container: %v", err)
		}
		if !tc.ok && (!errors.As(err, &te) || te.What != "data") {
			t.Fatalf("len_cap beyond an uncut record: %v", err)
		}
	}
}

// TestDamagedLastRecordBeforeJunk: a last record with bad contents,
// followed by fewer bytes than a record header, is reported and the tail
// skipped.
func TestDamagedLastRecordBeforeJunk(t *testing.T) {
	bad := usbRec(2, []byte("b"))
	bad[8] = 'X'
	for _, tail := range []int{0, 1, 15} {
		f := newPcap(binary.LittleEndian, 0xa1b2c3d4, 65535, uint32(usbmon.LinkTypeMmapped)).
			add(1, 0, usbRec(1, []byte("a"))).add(1, 0, bad)
		f.b = append(f.b, make([]byte, tail)...)
		recs, _, r := readTolerant(t, f.b)
		var fe *usbmon.FieldError
		if len(recs) != 1 || r.DamageCount() != 1 || r.Damage()[0].Index != 1 || r.Damage()[0].Offset != int64(f.offs[1]) || !errors.As(r.Damage()[0], &fe) || fe.Field != "type" {
			t.Fatalf("tail %d: %d records, damage %v", tail, len(recs), r.Damage())
		}
		if r.Pos() != int64(len(f.b)) {
			t.Fatalf("tail %d: stopped at byte %d of %d", tail, r.Pos(), len(f.b))
		}
	}
}

// TestResyncCandidates: a resync resumes at a record a snaplen cut (its
// len_cap beyond its bytes, the container saying so), and not at one whose
// len_cap lies in a record the container did not cut.
func TestResyncCandidates(t *testing.T) {
	long := usbRec(3, make([]byte, 300))
	liar := usbRec(0x6057, []byte("ghost"))
	binary.LittleEndian.PutUint32(liar[36:], 50) // len_cap 50, 5 bytes there
	var inner pcapFile
	inner.bo = binary.LittleEndian
	inner.add(1, 0, liar)
	f := newPcap(binary.LittleEndian, 0xa1b2c3d4, 200, uint32(usbmon.LinkTypeMmapped)).
		rec(1, 0, 200, uint32(len(long)), long[:200]).
		rec(1, 0, 1<<20, 1<<20, append(make([]byte, 8), inner.b...)).
		rec(1, 0, 200, uint32(len(long)), long[:200])
	recs, _, r := readTolerant(t, f.b)
	if len(recs) != 2 || recs[1].ID != 3 || !recs[1].Truncated() || len(recs[1].Data) != 136 || r.DamageCount() != 1 {
		t.Fatalf("%v, damage %v", recs, r.Damage())
	}
}

func TestXferTypeString(t *testing.T) {
	for x, want := range map[usbmon.XferType]string{0: "isochronous", 3: "bulk", 4: "xfer(4)"} {
		if got := x.String(); got != want {
			t.Errorf("%d: %q, want %q", x, got, want)
		}
	}
}
