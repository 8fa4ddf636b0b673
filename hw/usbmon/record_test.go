package usbmon_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"dongle/hw"
	"dongle/hw/usbmon"
)

// isoRec is a 220 isochronous record with ndesc descriptors (each 16
// bytes, filled with its number) and data after them.
func isoRec(xfer usbmon.XferType, ndesc int, data []byte) []byte {
	b := hdr('C', xfer, 0x81, uint32(len(data)), uint32(ndesc*16+len(data)))
	binary.LittleEndian.PutUint32(b[60:], uint32(ndesc))
	for i := 0; i < ndesc; i++ {
		b = append(b, bytes.Repeat([]byte{byte(i + 1)}, 16)...)
	}
	return append(b, data...)
}

// TestDecodeIsoDescriptors: an isochronous 220 record's descriptors are
// split off before its data; other transfer types have none, whatever
// ndesc says, and an iso record without descriptors has IsoDesc nil.
func TestDecodeIsoDescriptors(t *testing.T) {
	var r usbmon.Record
	if err := usbmon.Decode(isoRec(usbmon.XferIso, 2, []byte("payload")), usbmon.LinkTypeMmapped, &r); err != nil {
		t.Fatal(err)
	}
	if r.NDesc != 2 || len(r.IsoDesc) != 32 || r.IsoDesc[0] != 1 || r.IsoDesc[31] != 2 || string(r.Data) != "payload" {
		t.Fatalf("iso: ndesc %d desc %x data %q", r.NDesc, r.IsoDesc, r.Data)
	}
	// A bulk record: the bytes after the header are all data.
	b := isoRec(usbmon.XferBulk, 0, bytes.Repeat([]byte{7}, 32))
	binary.LittleEndian.PutUint32(b[60:], 2)
	if err := usbmon.Decode(b, usbmon.LinkTypeMmapped, &r); err != nil || r.IsoDesc != nil || len(r.Data) != 32 {
		t.Fatalf("bulk with ndesc 2: desc %x data %d, %v", r.IsoDesc, len(r.Data), err)
	}
	if err := usbmon.Decode(isoRec(usbmon.XferIso, 0, []byte("x")), usbmon.LinkTypeMmapped, &r); err != nil || r.IsoDesc != nil || string(r.Data) != "x" {
		t.Fatalf("iso without descriptors: desc %v data %q, %v", r.IsoDesc, r.Data, err)
	}
	// More descriptors than the kernel ever copies, or than fit: damage.
	var fe *usbmon.FieldError
	if err := usbmon.Decode(isoRec(usbmon.XferIso, 129, nil), usbmon.LinkTypeMmapped, &r); !errors.As(err, &fe) || fe.Field != "ndesc" {
		t.Fatalf("129 descriptors: %v", err)
	}
	if err := usbmon.Decode(isoRec(usbmon.XferIso, 128, nil), usbmon.LinkTypeMmapped, &r); err != nil || len(r.IsoDesc) != 128*16 {
		t.Fatalf("128 descriptors: %v", err)
	}
	// Data cut after the descriptors: the part at fault starts after them.
	var dte *usbmon.TruncatedError
	short := isoRec(usbmon.XferIso, 2, []byte("payload"))
	if err := usbmon.Decode(short[:len(short)-3], usbmon.LinkTypeMmapped, &r); !errors.As(err, &dte) || dte.What != "data" || dte.Offset != 64+32 {
		t.Fatalf("cut data: %v", err)
	}
	cut := isoRec(usbmon.XferIso, 3, nil)[:64+40]
	var te *usbmon.TruncatedError
	if err := usbmon.Decode(cut, usbmon.LinkTypeMmapped, &r); !errors.As(err, &te) || te.What != "iso descriptors" || te.Need != 48 || te.Have != 40 {
		t.Fatalf("cut descriptors: %v", err)
	}
}

// TestCloneOwnsIsoDesc: a clone's descriptors and data survive the
// buffer they were decoded from.
func TestCloneOwnsIsoDesc(t *testing.T) {
	b := isoRec(usbmon.XferIso, 1, []byte("d"))
	var r usbmon.Record
	if err := usbmon.Decode(b, usbmon.LinkTypeMmapped, &r); err != nil {
		t.Fatal(err)
	}
	c := r.Clone()
	for i := range b {
		b[i] = 0xee
	}
	if c.IsoDesc[0] != 1 || string(c.Data) != "d" {
		t.Fatalf("clone aliases the buffer: desc %x data %q", c.IsoDesc, c.Data)
	}
}

// TestPairUnmatched: a completion whose submission the capture missed,
// and a submission still in flight at its end, each make a URB of their
// own with the missing side's index -1.
func TestPairUnmatched(t *testing.T) {
	recs := []usbmon.Record{
		{Type: usbmon.Complete, ID: 1, XferType: usbmon.XferBulk, Endpoint: 0x81, Length: 3, Data: []byte("abc")},
		{Type: usbmon.Submit, ID: 2, XferType: usbmon.XferBulk, Endpoint: 0x81, Length: 512, FlagData: usbmon.FlagDataIn},
	}
	urbs := usbmon.Pair(recs)
	if len(urbs) != 2 {
		t.Fatalf("%d URBs", len(urbs))
	}
	if u := urbs[0]; u.Submit != nil || u.Complete != &recs[0] || u.SubmitIndex != -1 || u.CompleteIndex != 0 || string(u.Data()) != "abc" {
		t.Fatalf("orphan completion: %+v", u)
	}
	if u := urbs[1]; u.Complete != nil || u.Submit != &recs[1] || u.SubmitIndex != 1 || u.CompleteIndex != -1 || u.Data() != nil || u.Status() != 0 {
		t.Fatalf("in-flight submission: %+v", u)
	}
}

// TestErrorMessages: a damaged file's error names the file, the record
// and the byte; a cut with nothing left says the file ends.
func TestErrorMessages(t *testing.T) {
	raw, err := os.ReadFile(fixture("qemu-usbnet-cdc_ether.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	offs := pcapOffsets(t, raw)
	path := filepath.Join(t.TempDir(), "cut.pcap")
	if err := os.WriteFile(path, raw[:offs[2]+10], 0o600); err != nil {
		t.Fatal(err)
	}
	_, _, err = usbmon.ReadFile(path)
	var re *usbmon.RecordError
	if !errors.As(err, &re) || re.File != path || !strings.HasPrefix(err.Error(), path+": usbmon record 2 at byte ") {
		t.Fatalf("cut file: %v", err)
	}
	for _, tc := range []struct {
		e    usbmon.TruncatedError
		want string
	}{
		{usbmon.TruncatedError{What: "data", Offset: 64, Need: 10, Have: 0}, "data at byte 64 needs 10 bytes, have 0"},
		{usbmon.TruncatedError{What: "pcap record", Offset: 0, Need: 80, Have: -1}, "pcap record at byte 0 needs 80 bytes, the file ends first"},
	} {
		if got := tc.e.Error(); !strings.HasSuffix(got, tc.want) {
			t.Errorf("%q, want it to end %q", got, tc.want)
		}
	}
	if got := (&usbmon.RecordError{Index: 4, Offset: 9, Err: errors.New("x")}).Error(); got != "usbmon record 4 at byte 9: x" {
		t.Errorf("without a file name: %q", got)
	}
}

// TestRecordTime: TsSec and TsUsec are the record's time, to the
// microsecond, both ways.
func TestRecordTime(t *testing.T) {
	r := usbmon.Record{TsSec: 1700000000, TsUsec: 250001}
	if got, want := r.Time(), time.Unix(1700000000, 250001000); !got.Equal(want) {
		t.Fatalf("Time %v, want %v", got, want)
	}
	var s usbmon.Record
	s.SetTime(time.Unix(42, 999999999))
	if s.TsSec != 42 || s.TsUsec != 999999 {
		t.Fatalf("SetTime: %d.%06d", s.TsSec, s.TsUsec)
	}
}

// TestWriterPcapTimestamp: the pcap record header carries the record's
// time (what Wireshark shows as the frame time).
func TestWriterPcapTimestamp(t *testing.T) {
	var b bytes.Buffer
	w, err := usbmon.NewWriter(&b)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(&usbmon.Record{Type: usbmon.Submit, XferType: usbmon.XferBulk, TsSec: 1700000000, TsUsec: 250001}); err != nil {
		t.Fatal(err)
	}
	h := b.Bytes()[24:]
	if sec, usec := binary.LittleEndian.Uint32(h), binary.LittleEndian.Uint32(h[4:]); sec != 1700000000 || usec != 250001 {
		t.Fatalf("pcap time %d.%06d", sec, usec)
	}
}

// TestXferTypeRoundTrip: DescType undoes XferTypeOf for every descriptor
// transfer type, and usbmon's types map onto distinct descriptor types.
func TestXferTypeRoundTrip(t *testing.T) {
	for _, d := range []uint8{hw.XferControl, hw.XferIsochronous, hw.XferBulk, hw.XferInterrupt} {
		if got := usbmon.XferTypeOf(d).DescType(); got != d {
			t.Errorf("XferTypeOf(%d).DescType() = %d", d, got)
		}
	}
	for x, want := range map[usbmon.XferType]uint8{usbmon.XferIso: hw.XferIsochronous, usbmon.XferInterrupt: hw.XferInterrupt,
		usbmon.XferControl: hw.XferControl, usbmon.XferBulk: hw.XferBulk, usbmon.XferType(7): hw.XferControl} {
		if got := x.DescType(); got != want {
			t.Errorf("%v.DescType() = %d, want %d", x, got, want)
		}
	}
}
