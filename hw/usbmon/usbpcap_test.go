package usbmon_test

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"

	"dongle/hw/usbmon"
)

// upPacket is one USBPcap record as USBPcap's driver writes it (its
// "capture format specification": USBPCAP_BUFFER_PACKET_HEADER, 27 bytes,
// little-endian; control transfers add a stage byte, 28 bytes).
type upPacket struct {
	irp      uint64
	status   uint32
	function uint16
	back     bool // info bit 0: PDO→FDO (on the way back)
	bus, dev uint16
	ep       uint8
	transfer uint8
	stage    int // -1: not control
	data     []byte
}

func (p upPacket) bytes() []byte {
	hl := 27
	if p.stage >= 0 {
		hl = 28
	}
	b := make([]byte, hl, hl+len(p.data))
	le := binary.LittleEndian
	le.PutUint16(b, uint16(hl))
	le.PutUint64(b[2:], p.irp)
	le.PutUint32(b[10:], p.status)
	le.PutUint16(b[14:], p.function)
	if p.back {
		b[16] = 1
	}
	le.PutUint16(b[17:], p.bus)
	le.PutUint16(b[19:], p.dev)
	b[21], b[22] = p.ep, p.transfer
	le.PutUint32(b[23:], uint32(len(p.data)))
	if p.stage >= 0 {
		b[27] = uint8(p.stage)
	}
	return append(b, p.data...)
}

func usbpcapFile(t testing.TB, ps []upPacket) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := pcapgo.NewWriter(&buf)
	if err := w.WriteFileHeader(65535, layers.LinkType(249)); err != nil {
		t.Fatal(err)
	}
	for i, p := range ps {
		b := p.bytes()
		ci := gopacket.CaptureInfo{Timestamp: time.Unix(1700000000, int64(i)*1000), CaptureLength: len(b), Length: len(b)}
		if err := w.WritePacket(ci, b); err != nil {
			t.Fatal(err)
		}
	}
	return buf.Bytes()
}

const (
	urbControl = 0x08 // URB_FUNCTION_CONTROL_TRANSFER
	urbBulk    = 0x09 // URB_FUNCTION_BULK_OR_INTERRUPT_TRANSFER
	urbGetDesc = 0x0b // URB_FUNCTION_GET_DESCRIPTOR_FROM_DEVICE
	urbVendor  = 0x17 // URB_FUNCTION_VENDOR_DEVICE
	stallPID   = 0xC0000004
)

var (
	upSetupGetDevice = []byte{0x80, 6, 0, 1, 0, 0, 18, 0}
	upDevDesc        = []byte{18, 1, 0, 2, 0, 0, 0, 64, 0x25, 0x05, 0xa2, 0xa4, 0, 1, 1, 2, 3, 1}
	upSetupVendorOut = []byte{0x40, 0x10, 0x34, 0x12, 0, 0, 2, 0}
	upSetupVendorIn  = []byte{0xc0, 0x11, 0, 0, 0, 0, 4, 0}
)

// upSample is a USBPcap capture of one device (bus 1, address 3): a
// GET_DESCRIPTOR(device) in its three stages, a vendor OUT request with two
// data bytes, a stalled vendor IN request, a bulk OUT and a bulk IN
// transfer and an interrupt IN transfer, and a device on another address.
func upSample() []upPacket {
	return []upPacket{
		{irp: 0xa1, function: urbGetDesc, bus: 1, dev: 3, ep: 0x80, transfer: 2, stage: 0, data: upSetupGetDevice},
		{irp: 0xa1, function: urbControl, back: true, bus: 1, dev: 3, ep: 0x80, transfer: 2, stage: 1, data: upDevDesc},
		{irp: 0xa1, function: urbControl, back: true, bus: 1, dev: 3, ep: 0x80, transfer: 2, stage: 2},
		{irp: 0xa2, function: urbVendor, bus: 1, dev: 3, ep: 0x00, transfer: 2, stage: 0, data: upSetupVendorOut},
		{irp: 0xa2, function: urbVendor, bus: 1, dev: 3, ep: 0x00, transfer: 2, stage: 1, data: []byte{0xbe, 0xef}},
		{irp: 0xa2, function: urbControl, back: true, bus: 1, dev: 3, ep: 0x00, transfer: 2, stage: 2},
		{irp: 0xa3, function: urbVendor, bus: 1, dev: 3, ep: 0x80, transfer: 2, stage: 0, data: upSetupVendorIn},
		{irp: 0xa3, status: stallPID, function: urbControl, back: true, bus: 1, dev: 3, ep: 0x80, transfer: 2, stage: 2},
		{irp: 0xb1, function: urbBulk, bus: 1, dev: 3, ep: 0x02, transfer: 3, stage: -1, data: []byte("frame out")},
		{irp: 0xb2, function: urbBulk, back: true, bus: 1, dev: 3, ep: 0x81, transfer: 3, stage: -1, data: []byte("frame in!")},
		{irp: 0xb3, function: urbBulk, back: true, bus: 1, dev: 3, ep: 0x83, transfer: 1, stage: -1, data: []byte{0xa1, 0, 1, 0}},
		{irp: 0xc1, function: urbBulk, back: true, bus: 1, dev: 1, ep: 0x81, transfer: 1, stage: -1, data: []byte{2}},
	}
}

// TestUSBPcapAddress255: the largest address a byte holds is a device.
func TestUSBPcapAddress255(t *testing.T) {
	p := upPacket{irp: 1, back: true, bus: 2, dev: 255, ep: 0x81, transfer: 3, stage: -1, data: []byte{1, 2}}
	recs, _, err := usbmon.ReadAll(bytes.NewReader(usbpcapFile(t, []upPacket{p})))
	if err != nil || len(recs) != 2 || recs[1].Device != 255 || recs[1].Bus != 2 {
		t.Fatalf("%v %v", recs, err)
	}
}

func TestUSBPcapRecords(t *testing.T) {
	recs, lt, err := usbmon.ReadAll(bytes.NewReader(usbpcapFile(t, upSample())))
	if err != nil || lt != usbmon.LinkTypeUSBPcap {
		t.Fatalf("%v %v", lt, err)
	}
	var got []string
	for _, r := range recs {
		s := fmt.Sprintf("%c %s ep %#02x dev %d.%d id %#x status %d len %d data %x", rune(r.Type), r.XferType, r.Endpoint, r.Bus, r.Device, r.ID, r.Status, r.Length, r.Data)
		if sp, ok := r.SetupPacket(); ok {
			s += " setup " + sp.String()
		}
		got = append(got, s)
	}
	getDev, _ := (&usbmon.Record{Type: usbmon.Submit, XferType: usbmon.XferControl, Setup: [8]byte(upSetupGetDevice)}).SetupPacket()
	vOut, _ := (&usbmon.Record{Type: usbmon.Submit, XferType: usbmon.XferControl, Setup: [8]byte(upSetupVendorOut)}).SetupPacket()
	vIn, _ := (&usbmon.Record{Type: usbmon.Submit, XferType: usbmon.XferControl, Setup: [8]byte(upSetupVendorIn)}).SetupPacket()
	want := []string{
		"S control ep 0x80 dev 1.3 id 0xa1 status 0 len 18 data  setup " + getDev.String(),
		fmt.Sprintf("C control ep 0x80 dev 1.3 id 0xa1 status 0 len 18 data %x", upDevDesc),
		"S control ep 0x00 dev 1.3 id 0xa2 status 0 len 2 data beef setup " + vOut.String(),
		"C control ep 0x00 dev 1.3 id 0xa2 status 0 len 0 data ",
		"S control ep 0x80 dev 1.3 id 0xa3 status 0 len 4 data  setup " + vIn.String(),
		"C control ep 0x80 dev 1.3 id 0xa3 status -32 len 0 data ",
		"S bulk ep 0x02 dev 1.3 id 0xb1 status 0 len 9 data 6672616d65206f7574",
		"C bulk ep 0x02 dev 1.3 id 0xb1 status 0 len 9 data ",
		"S bulk ep 0x81 dev 1.3 id 0xb2 status 0 len 9 data ",
		"C bulk ep 0x81 dev 1.3 id 0xb2 status 0 len 9 data 6672616d6520696e21",
		"S interrupt ep 0x83 dev 1.3 id 0xb3 status 0 len 4 data ",
		"C interrupt ep 0x83 dev 1.3 id 0xb3 status 0 len 4 data a1000100",
		"S interrupt ep 0x81 dev 1.1 id 0xc1 status 0 len 1 data ",
		"C interrupt ep 0x81 dev 1.1 id 0xc1 status 0 len 1 data 02",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("records:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// Pairing works as for usbmon: one URB per transfer, all complete.
	urbs := usbmon.Pair(recs)
	if len(urbs) != 7 {
		t.Fatalf("%d URBs", len(urbs))
	}
	for _, u := range urbs {
		if u.Submit == nil || u.Complete == nil {
			t.Fatalf("unpaired URB %+v", u)
		}
	}
}

// TestUSBPcapRecordIndexes: records keep the number of the container packet
// they came from (tshark's frame number - 1).
func TestUSBPcapRecordIndexes(t *testing.T) {
	r, err := usbmon.NewReader(bytes.NewReader(usbpcapFile(t, upSample())))
	if err != nil {
		t.Fatal(err)
	}
	var idx []int
	for {
		if _, err := r.Next(); err != nil {
			break
		}
		idx = append(idx, r.Index())
	}
	want := []int{0, 2, 4, 5, 6, 7, 8, 8, 9, 9, 10, 10, 11, 11}
	if fmt.Sprint(idx) != fmt.Sprint(want) {
		t.Fatalf("indexes %v, want %v", idx, want)
	}
}

func TestUSBPcapDamage(t *testing.T) {
	for _, tc := range []struct {
		name string
		p    upPacket
		hl   int // overrides headerLen when > 0
	}{
		{"headerLen short", upPacket{irp: 1, ep: 0x81, transfer: 3, stage: -1, data: []byte{1}}, 20},
		{"reserved info bits", upPacket{irp: 1, back: true, ep: 0x81, transfer: 3, stage: -1}, 0},
		{"unknown transfer", upPacket{irp: 1, ep: 0x81, transfer: 9, stage: -1}, 0},
		{"device 0xffff", upPacket{irp: 1, dev: 0xffff, ep: 0x81, transfer: 3, stage: -1}, 0},
		{"data stage without setup", upPacket{irp: 7, ep: 0x00, transfer: 2, stage: 1, data: []byte{1}}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := tc.p.bytes()
			if tc.hl > 0 {
				binary.LittleEndian.PutUint16(b, uint16(tc.hl))
			}
			if tc.name == "reserved info bits" {
				b[16] = 0x81
			}
			ps := upSample()
			var buf bytes.Buffer
			w := pcapgo.NewWriter(&buf)
			w.WriteFileHeader(65535, layers.LinkType(249))
			for i, p := range ps {
				pb := p.bytes()
				if i == 8 {
					w.WritePacket(gopacket.CaptureInfo{Timestamp: time.Unix(1700000000, 0), CaptureLength: len(b), Length: len(b)}, b)
				}
				w.WritePacket(gopacket.CaptureInfo{Timestamp: time.Unix(1700000000, 0), CaptureLength: len(pb), Length: len(pb)}, pb)
			}
			if _, _, err := usbmon.ReadAll(bytes.NewReader(buf.Bytes())); err == nil {
				t.Fatal("strict read accepted the damaged record")
			}
			recs, _, r := readTolerant(t, buf.Bytes())
			if len(recs) != 14 || r.DamageCount() != 1 || r.Damage()[0].Index != 8 {
				t.Fatalf("%d records, damage %v", len(recs), r.Damage())
			}
		})
	}
}

// TestUSBPcapTshark: Wireshark's USBPcap dissector reads the test file as
// written: each field of each header, the stages, and the setup packet.
func TestUSBPcapTshark(t *testing.T) {
	if _, err := exec.LookPath("tshark"); err != nil {
		t.Skip("tshark not in PATH: install it (apt-get install tshark) to check the USBPcap test file")
	}
	path := filepath.Join(t.TempDir(), "usbpcap.pcap")
	ps := upSample()
	if err := os.WriteFile(path, usbpcapFile(t, ps), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("tshark", "-r", path, "-T", "fields", "-E", "separator=,",
		"-e", "usb.usbpcap_header_len", "-e", "usb.irp_id", "-e", "usb.usbd_status", "-e", "usb.function",
		"-e", "usb.irp_info.direction", "-e", "usb.bus_id", "-e", "usb.device_address", "-e", "usb.endpoint_address",
		"-e", "usb.transfer_type", "-e", "usb.data_len", "-e", "usb.control_stage").Output()
	if err != nil {
		t.Fatalf("tshark: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != len(ps) {
		t.Fatalf("tshark read %d packets, want %d:\n%s", len(lines), len(ps), out)
	}
	for i, p := range ps {
		hl, stage := 27, ""
		if p.stage >= 0 {
			hl, stage = 28, fmt.Sprint(p.stage)
		}
		dir := 0
		if p.back {
			dir = 1
		}
		want := fmt.Sprintf("%d,0x%016x,0x%08x,0x%04x,0x%02x,%d,%d,0x%02x,0x%02x,%d,%s", hl, p.irp, p.status, p.function, dir, p.bus, p.dev, p.ep, p.transfer, len(p.data), stage)
		if lines[i] != want {
			t.Errorf("packet %d: tshark %q, wrote %q", i+1, lines[i], want)
		}
	}
	// The setup packet and the descriptor it returned are dissected as such.
	v, err := exec.Command("tshark", "-r", path, "-V", "-Y", "frame.number <= 2").Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"bRequest: GET DESCRIPTOR (6)", "idVendor: ", "(0x0525)", "idProduct: ", "(0xa4a2)"} {
		if !strings.Contains(string(v), s) {
			t.Errorf("tshark -V lacks %q:\n%s", s, v)
		}
	}
}

// FuzzUSBPcapRecord puts arbitrary bytes among real USBPcap records: no
// panic, strict and tolerant reads end, and the records around it survive
// a tolerant read.
func FuzzUSBPcapRecord(f *testing.F) {
	for _, p := range upSample() {
		f.Add(p.bytes())
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var buf bytes.Buffer
		w := pcapgo.NewWriter(&buf)
		w.WriteFileHeader(65535, layers.LinkType(249))
		ts := gopacket.CaptureInfo{Timestamp: time.Unix(1700000000, 0)}
		for i, p := range upSample() {
			pb := p.bytes()
			if i == 8 {
				ts.CaptureLength, ts.Length = len(b), len(b)
				w.WritePacket(ts, b)
			}
			ts.CaptureLength, ts.Length = len(pb), len(pb)
			w.WritePacket(ts, pb)
		}
		usbmon.ReadAll(bytes.NewReader(buf.Bytes()))
		recs, _, _ := readTolerant(t, buf.Bytes())
		if len(recs) < 12 {
			t.Fatalf("%d records survive around the fuzzed one", len(recs))
		}
	})
}
