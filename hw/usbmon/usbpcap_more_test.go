package usbmon_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"testing"

	"dongle/hw/usbmon"
)

// TestErrnoOfUSBD: each USBD_STATUS with a Linux counterpart maps onto
// the errno Linux's usbmon would log; other errors are -EPROTO, success
// and informational codes 0.
func TestErrnoOfUSBD(t *testing.T) {
	for s, want := range map[uint32]int32{
		0x00000000: 0,
		0x00000001: 0,
		0xC0000004: -usbmon.EPIPE,
		0xC0000030: -usbmon.EPIPE,
		0xC0000001: -usbmon.EILSEQ,
		0xC0000008: -usbmon.EOVERFLOW,
		0xC0000012: -usbmon.EOVERFLOW,
		0xC0000009: -usbmon.EREMOTEIO,
		0xC0000005: -usbmon.ETIME,
		0xC0006000: -usbmon.ETIMEDOUT,
		0xC0007000: -usbmon.ENODEV,
		0xC0010000: -usbmon.ENOENT,
		0xC0000011: -usbmon.EPROTO,
		0x80000200: -usbmon.EPROTO,
	} {
		if got := usbmon.ErrnoOfUSBD(s); got != want {
			t.Errorf("USBD_STATUS %#08x: %d, want %d", s, got, want)
		}
	}
}

// upRead reads USBPcap packets strictly and renders each record.
func upRead(t *testing.T, ps []upPacket) ([]string, error) {
	t.Helper()
	recs, _, err := usbmon.ReadAll(bytes.NewReader(usbpcapFile(t, ps)))
	var got []string
	for _, r := range recs {
		got = append(got, fmt.Sprintf("%c %s ep %#02x id %#x status %d len %d flag %q data %x", rune(r.Type), r.XferType, r.Endpoint, r.ID, r.Status, r.Length, r.FlagData, r.Data))
	}
	return got, err
}

// TestUSBPcapControlStages: a status stage 3 ("complete") ends a transfer
// as stage 2 does; an OUT setup whose data stage never comes is logged as
// a submission without data (before its completion, or at the end of the
// file); iso, IRP-information and unknown packets are skipped.
func TestUSBPcapControlStages(t *testing.T) {
	setupOut := []byte{0x40, 0x10, 0, 0, 0, 0, 2, 0} // OUT, wLength 2
	got, err := upRead(t, []upPacket{
		{irp: 1, bus: 1, dev: 3, ep: 0x00, transfer: 2, stage: 0, data: setupOut},
		{irp: 1, status: 0xC0000004, back: true, bus: 1, dev: 3, ep: 0x00, transfer: 2, stage: 3},
		{irp: 2, back: true, bus: 1, dev: 3, ep: 0x82, transfer: 0, stage: -1, data: []byte{1}},
		{irp: 3, back: true, bus: 1, dev: 3, ep: 0x82, transfer: 0xfe, stage: -1},
		{irp: 4, back: true, bus: 1, dev: 3, ep: 0x82, transfer: 0xff, stage: -1},
		{irp: 5, bus: 1, dev: 3, ep: 0x00, transfer: 2, stage: 0, data: setupOut},
	})
	want := []string{
		`S control ep 0x00 id 0x1 status 0 len 2 flag '>' data `,
		`C control ep 0x00 id 0x1 status -32 len 0 flag '>' data `,
		`S control ep 0x00 id 0x5 status 0 len 2 flag '>' data `,
	}
	if err != nil || strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("%v\n%s\nwant\n%s", err, strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestUSBPcapSetupWithoutData: an OUT setup with wLength 0 is a complete
// submission at once (in file order, before what comes between it and its
// status stage), flagged as having no data.
func TestUSBPcapSetupWithoutData(t *testing.T) {
	got, err := upRead(t, []upPacket{
		{irp: 1, bus: 1, dev: 3, ep: 0x00, transfer: 2, stage: 0, data: []byte{0x00, 9, 1, 0, 0, 0, 0, 0}}, // SET_CONFIGURATION(1)
		{irp: 2, back: true, bus: 1, dev: 3, ep: 0x81, transfer: 3, stage: -1, data: []byte{1}},
		{irp: 1, back: true, bus: 1, dev: 3, ep: 0x00, transfer: 2, stage: 2},
	})
	want := []string{
		`S control ep 0x00 id 0x1 status 0 len 0 flag '>' data `,
		`S bulk ep 0x81 id 0x2 status 0 len 1 flag '<' data `,
		`C bulk ep 0x81 id 0x2 status 0 len 1 flag '\x00' data 01`,
		`C control ep 0x00 id 0x1 status 0 len 0 flag '>' data `,
	}
	if err != nil || strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("%v\n%s", err, strings.Join(got, "\n"))
	}
}

// TestUSBPcapHeaderChecks: each impossible header field is reported with
// the field's name and offset; the limits themselves are accepted.
func TestUSBPcapHeaderChecks(t *testing.T) {
	for _, tc := range []struct {
		name  string
		p     upPacket
		edit  func(b []byte) []byte
		field string // "" accepted; "truncated" a TruncatedError
		off   int
	}{
		{"headerLen beyond the packet", upPacket{irp: 1, back: true, ep: 0x81, transfer: 3, stage: -1},
			func(b []byte) []byte { binary.LittleEndian.PutUint16(b, 28); return b }, "USBPcap headerLen", 0},
		{"control header without its stage byte", upPacket{irp: 1, back: true, ep: 0x80, transfer: 2, stage: -1, data: []byte{1}},
			nil, "USBPcap headerLen", 0},
		{"stage 4", upPacket{irp: 1, back: true, ep: 0x80, transfer: 2, stage: 4}, nil, "USBPcap stage", 27},
		{"data stage on the way down without setup", upPacket{irp: 1, ep: 0x00, transfer: 2, stage: 1, data: []byte{1}}, nil, "USBPcap stage", 27},
		{"setup stage on the way back", upPacket{irp: 1, back: true, ep: 0x80, transfer: 2, stage: 0, data: upSetupGetDevice}, nil, "USBPcap stage", 27},
		{"setup packet cut", upPacket{irp: 1, ep: 0x80, transfer: 2, stage: 0, data: upSetupGetDevice[:7]}, nil, "truncated", 0},
		{"dataLength under the bytes there", upPacket{irp: 1, back: true, ep: 0x81, transfer: 3, stage: -1, data: []byte{1, 2}},
			func(b []byte) []byte { binary.LittleEndian.PutUint32(b[23:], 1); return b }, "USBPcap dataLength", 23},
		{"dataLength over the bytes there", upPacket{irp: 1, back: true, ep: 0x81, transfer: 3, stage: -1, data: []byte{1, 2}},
			func(b []byte) []byte { binary.LittleEndian.PutUint32(b[23:], 3); return b }, "truncated", 0},
		{"device 256", upPacket{irp: 1, back: true, dev: 256, ep: 0x81, transfer: 3, stage: -1}, nil, "USBPcap device", 19},
		{"header shorter than 27", upPacket{irp: 1, back: true, ep: 0x81, transfer: 3, stage: -1},
			func(b []byte) []byte { return b[:26] }, "truncated", 0},
		{"longer header (a future version)", upPacket{irp: 1, back: true, ep: 0x81, transfer: 3, stage: -1},
			func(b []byte) []byte { binary.LittleEndian.PutUint16(b, 30); return append(b, 0, 0, 0) }, "", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := tc.p.bytes()
			if tc.p.transfer == 2 && tc.p.stage < 0 {
				b = append(b[:27:27], b[27:]...) // a 27-byte header for a control transfer
			}
			if tc.edit != nil {
				b = tc.edit(b)
			}
			f := newPcap(binary.LittleEndian, 0xa1b2c3d4, 65535, uint32(usbmon.LinkTypeUSBPcap)).add(1700000000, 0, b)
			recs, _, err := usbmon.ReadAll(bytes.NewReader(f.b))
			var fe *usbmon.FieldError
			var te *usbmon.TruncatedError
			var re *usbmon.RecordError
			switch {
			case tc.field == "":
				if err != nil || len(recs) != 2 {
					t.Fatalf("%d records, %v", len(recs), err)
				}
			case !errors.As(err, &re) || re.Index != 0 || re.Offset != 24:
				t.Fatalf("err %v", err)
			case tc.field == "truncated":
				if !errors.As(err, &te) {
					t.Fatalf("err %v, want a TruncatedError", err)
				}
			case !errors.As(err, &fe) || fe.Field != tc.field || fe.Offset != tc.off:
				t.Fatalf("err %v, want %s at byte %d", err, tc.field, tc.off)
			}
		})
	}
}

// TestUSBPcapCutByContainer: a packet the capture's snaplen cut keeps the
// bytes it has; the lengths stay the transfer's.
func TestUSBPcapCutByContainer(t *testing.T) {
	b := upPacket{irp: 1, back: true, bus: 1, dev: 3, ep: 0x81, transfer: 3, stage: -1, data: bytes.Repeat([]byte{5}, 100)}.bytes()
	f := newPcap(binary.LittleEndian, 0xa1b2c3d4, 67, uint32(usbmon.LinkTypeUSBPcap)).rec(1700000000, 0, 67, uint32(len(b)), b[:67])
	recs, _, err := usbmon.ReadAll(bytes.NewReader(f.b))
	if err != nil || len(recs) != 2 || len(recs[1].Data) != 40 || recs[1].Length != 100 || !recs[1].Truncated() {
		t.Fatalf("%v %v", recs, err)
	}
}
