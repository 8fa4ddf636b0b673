package decode_test

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"

	"dongle/hw/usbmon"
)

// asUSBPcap writes usbmon records as USBPcap (link type 249) would have
// logged the same transfers (USBPcap's capture format specification):
// control transfers in stages (setup with the 8-byte setup packet and, for
// OUT, a data stage on the way down; an IN data stage and a status stage
// with the USBD_STATUS on the way back), a bulk or interrupt OUT transfer
// once on its way down, an IN transfer once on its way back. Data the
// usbmon capture cut stays cut (caplen < original length).
func asUSBPcap(t testing.TB, recs []usbmon.Record) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := pcapgo.NewWriter(&buf)
	if err := w.WriteFileHeader(65535, layers.LinkType(249)); err != nil {
		t.Fatal(err)
	}
	put := func(r *usbmon.Record, back bool, ep uint8, stage int, status uint32, data []byte, length int) {
		hl := 27
		if stage >= 0 {
			hl = 28
		}
		h := make([]byte, hl)
		le := binary.LittleEndian
		le.PutUint16(h, uint16(hl))
		le.PutUint64(h[2:], r.ID)
		le.PutUint32(h[10:], status)
		le.PutUint16(h[14:], 0x09)
		if back {
			h[16] = 1
		}
		le.PutUint16(h[17:], r.Bus+1) // USBPcap numbers its root hubs from 1
		le.PutUint16(h[19:], uint16(r.Device))
		h[21], h[22] = ep, uint8(r.XferType)
		le.PutUint32(h[23:], uint32(length))
		if stage >= 0 {
			h[27] = uint8(stage)
		}
		b := append(h, data...)
		ci := gopacket.CaptureInfo{Timestamp: r.Time(), CaptureLength: len(b), Length: hl + length}
		if err := w.WritePacket(ci, b); err != nil {
			t.Fatal(err)
		}
	}
	usbd := func(st int32) uint32 {
		switch st {
		case 0:
			return 0
		case -usbmon.EPIPE, -usbmon.EREMOTEIO: // QEMU logs a stall as -EREMOTEIO
			return 0xC0000004 // STALL_PID
		}
		return 0xC0000011 // XACT_ERROR
	}
	for i := range recs {
		r := &recs[i]
		switch {
		case r.XferType == usbmon.XferControl && r.Type == usbmon.Submit:
			put(r, false, r.Endpoint, 0, 0, r.Setup[:], 8)
			if !r.In() && len(r.Data) > 0 {
				put(r, false, r.Endpoint, 1, 0, r.Data, len(r.Data))
			}
		case r.XferType == usbmon.XferControl:
			if r.In() && len(r.Data) > 0 {
				put(r, true, r.Endpoint|0x80, 1, usbd(r.Status), r.Data, len(r.Data))
			}
			put(r, true, r.Endpoint, 2, usbd(r.Status), nil, 0)
		case r.XferType == usbmon.XferIso:
		case r.In() && r.Type == usbmon.Complete:
			put(r, true, r.Endpoint, -1, usbd(r.Status), r.Data, int(r.Length))
		case !r.In() && r.Type == usbmon.Submit:
			put(r, false, r.Endpoint, -1, 0, r.Data, int(r.Length))
		}
	}
	return buf.Bytes()
}

// TestUSBPcapDecodes: the QEMU usb-net capture, as USBPcap would have
// written it, decodes into the same frames, MAC and requests as the
// usbmon original, and into the frames tshark finds in the USBPcap file.
func TestUSBPcapDecodes(t *testing.T) {
	recs, _, err := usbmon.ReadFile(cdcTrace)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "usbpcap.pcap")
	if err := os.WriteFile(path, asUSBPcap(t, recs), 0o600); err != nil {
		t.Fatal(err)
	}
	want, wantFrames := decodeToPcap(t, cdcTrace)
	got, gotFrames := decodeToPcap(t, path)
	if got.LinkType != usbmon.LinkTypeUSBPcap || got.Driver != "cdc_ether" || got.MAC.String() != want.MAC.String() || got.Bus != 1 || got.Address != 1 {
		t.Fatalf("link type %v driver %s MAC %v device %d.%d", got.LinkType, got.Driver, got.MAC, got.Bus, got.Address)
	}
	if len(gotFrames) != len(wantFrames) || len(gotFrames) == 0 {
		t.Fatalf("%d frames from USBPcap, %d from usbmon", len(gotFrames), len(wantFrames))
	}
	for i := range wantFrames {
		if !bytes.Equal(gotFrames[i], wantFrames[i]) {
			t.Errorf("frame %d differs", i+1)
		}
	}
	if len(got.Controls) != len(want.Controls) || got.Stats.Stalls != want.Stats.Stalls || len(got.Links) != len(want.Links) {
		t.Errorf("controls %d/%d stalls %d/%d links %d/%d", len(got.Controls), len(want.Controls), got.Stats.Stalls, want.Stats.Stalls, len(got.Links), len(want.Links))
	}
	for i := range want.Controls {
		if i < len(got.Controls) && got.Controls[i].Name != want.Controls[i].Name {
			t.Errorf("control %d: %s, usbmon %s", i, got.Controls[i].Name, want.Controls[i].Name)
		}
	}
	// tshark reads the same Ethernet frames out of the USBPcap file.
	ts := tsharkFramesAt(t, path, 27)
	if len(ts) != len(gotFrames) {
		t.Fatalf("tshark finds %d Ethernet frames in the USBPcap file, decode %d", len(ts), len(gotFrames))
	}
	for i := range ts {
		if !bytes.Equal(ts[i], gotFrames[i]) {
			t.Errorf("frame %d differs from tshark's", i+1)
		}
	}
}
