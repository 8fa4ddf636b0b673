package decode_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"strings"
	"testing"

	"dongle/hw"
	"dongle/hw/usbmon"
	"dongle/usbnet/decode"
)

// rndisConfig is configuration 2 of QEMU's usb-net: an RNDIS function
// (communications interface 02/02/ff with interrupt IN 0x83, data interface
// with bulk IN 0x81 and OUT 0x02 of 64 bytes).
func rndisConfig(value uint8) []byte {
	cfg := []byte{9, hw.DescConfig, 0, 0, 2, value, 0, 0x80, 50,
		9, hw.DescInterface, 0, 0, 1, 0x02, 0x02, 0xff, 0,
		5, 0x24, 0x00, 0x10, 0x01,
		5, 0x24, 0x06, 0, 1,
		7, hw.DescEndpoint, 0x83, hw.XferInterrupt, 8, 0, 9,
		9, hw.DescInterface, 1, 0, 2, 0x0a, 0, 0, 0,
		7, hw.DescEndpoint, 0x81, hw.XferBulk, 64, 0, 0,
		7, hw.DescEndpoint, 0x02, hw.XferBulk, 64, 0, 0,
	}
	binary.LittleEndian.PutUint16(cfg[2:], uint16(len(cfg)))
	return cfg
}

// ncmConfig is an NCM function (02/0d/00) on the same endpoints.
func ncmConfig(value uint8) []byte {
	cfg := rndisConfig(value)
	cfg[9+6], cfg[9+7] = 0x0d, 0x00
	return cfg
}

// rndisPacket wraps frames in REMOTE_NDIS_PACKET_MSGs, back to back.
func rndisPacket(frames ...[]byte) []byte {
	var out []byte
	for _, f := range frames {
		h := make([]byte, 44)
		binary.LittleEndian.PutUint32(h, 1)
		binary.LittleEndian.PutUint32(h[4:], uint32(44+len(f)))
		binary.LittleEndian.PutUint32(h[8:], 36)
		binary.LittleEndian.PutUint32(h[12:], uint32(len(f)))
		out = append(append(out, h...), f...)
	}
	return out
}

func getConfigIdx(idx uint8, n int) hw.Setup {
	return hw.Setup{RequestType: hw.DirIn, Request: hw.ReqGetDescriptor, Value: uint16(hw.DescConfig)<<8 | uint16(idx), Length: uint16(n)}
}

func setConfig(v uint16) hw.Setup {
	return hw.Setup{RequestType: hw.DirOut | hw.TypeStandard | hw.RecipDevice, Request: hw.ReqSetConfiguration, Value: v}
}

func frameOf(b byte, n int) []byte { return bytes.Repeat([]byte{b}, n) }

// usbnetWithRNDIS logs the bring-up of a device with ECM as configuration
// 1 and second as configuration 2, both read at enumeration.
func usbnetWithSecond(b *builder, second []byte) {
	dd, ecm := ecmDescriptors(0x0003)
	dd[17] = 2 // two configurations
	b.control(getDevice, dd, 0)
	b.control(getConfigIdx(0, len(ecm)), ecm, 0)
	b.control(getConfigIdx(1, len(second)), second, 0)
	b.control(getMAC, macString("020000000003"), 0)
}

// TestConfigurationChangeMidTrace: ECM frames while configuration 1 is
// selected, then RNDIS after SET_CONFIGURATION(2): the RNDIS transfers
// decode into the frames they carry, not into frames that begin with
// REMOTE_NDIS_PACKET_MSG headers (what tshark, and decode before, wrote).
func TestConfigurationChangeMidTrace(t *testing.T) {
	var b builder
	usbnetWithSecond(&b, rndisConfig(2))
	b.control(setConfig(1), nil, 0)
	b.control(setAlt1, nil, 0)
	ecm1, ecm2 := frameOf(0xe1, 64), frameOf(0xe2, 100)
	b.xfer(usbmon.XferBulk, 0x81, ecm1, len(ecm1), 0, false)
	b.xfer(usbmon.XferBulk, 0x02, ecm2, len(ecm2), 0, false)
	b.control(setConfig(0), nil, 0)
	b.xfer(usbmon.XferBulk, 0x81, frameOf(0xee, 60), 60, 0, false) // while unconfigured: nothing
	b.xfer(usbmon.XferBulk, 0x02, frameOf(0xee, 60), 60, 0, true)  // nor out
	change := len(b.recs)
	b.control(setConfig(2), nil, 0)
	r1, r2, r3 := frameOf(0xa1, 60), frameOf(0xa2, 1514), frameOf(0xa3, 98)
	b.xfer(usbmon.XferBulk, 0x81, rndisPacket(r1, r3), 44*2+60+98, 0, false)
	b.xfer(usbmon.XferBulk, 0x02, rndisPacket(r2), 44+1514, 0, false)
	tr, err := decode.Decode(b.recs, usbmon.LinkTypeMmapped, decode.Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		dir  decode.Dir
		data []byte
	}{{decode.RX, ecm1}, {decode.TX, ecm2}, {decode.RX, r1}, {decode.RX, r3}, {decode.TX, r2}}
	if len(tr.Frames) != len(want) {
		t.Fatalf("%d frames, want %d: %+v", len(tr.Frames), len(want), tr.Stats)
	}
	for i, w := range want {
		if f := tr.Frames[i]; f.Dir != w.dir || !bytes.Equal(f.Data, w.data) || f.Length != len(w.data) {
			t.Errorf("frame %d: %v %d bytes starting % x", i, f.Dir, f.Length, f.Data[:min(8, len(f.Data))])
		}
	}
	var got []string
	for _, s := range tr.Selections {
		got = append(got, s.String())
	}
	if len(got) != 5 || !strings.HasSuffix(got[1], "configuration 1: cdc_ether") || !strings.HasSuffix(got[2], "interface 1 alt 1: cdc_ether") ||
		!strings.HasSuffix(got[3], "unconfigured: nothing decodes it") || got[4] != "from record "+itoa(change+1)+": configuration 2: RNDIS" {
		t.Errorf("selections:\n%s", strings.Join(got, "\n"))
	}
	if tr.Stats.Unconfigured != 2 || !strings.HasPrefix(tr.Driver, "RNDIS") && tr.Driver != "RNDIS" {
		t.Errorf("unconfigured %d, driver %q", tr.Stats.Unconfigured, tr.Driver)
	}
	hasAnomaly(t, tr, "configuration 2 is RNDIS: decoded by decode's offline RNDIS unframer (REMOTE_NDIS_PACKET_MSG); no rndis_host minidriver binds it")
}

func itoa(i int) string { return fmtInt(i) }

func fmtInt(i int) string {
	if i == 0 {
		return "0"
	}
	var s []byte
	for ; i > 0; i /= 10 {
		s = append([]byte{byte('0' + i%10)}, s...)
	}
	return string(s)
}

// TestRNDISSelectedAtStart is the usb-net capture: the host put
// the device in its RNDIS configuration, while enumeration read
// configuration 1 (ECM) too. Nothing is decoded as cdc_ether.
func TestRNDISSelectedAtStart(t *testing.T) {
	var b builder
	usbnetWithSecond(&b, rndisConfig(2))
	b.control(setConfig(2), nil, 0)
	f := frameOf(0x5a, 342)
	b.xfer(usbmon.XferBulk, 0x81, rndisPacket(f), 44+342, 0, false)
	// A transfer the capture cut inside the frame, and one cut before the
	// second message's header.
	cut := rndisPacket(f, f)
	b.xfer(usbmon.XferBulk, 0x81, cut[:100], len(cut), 0, false)
	tr, err := decode.Decode(b.recs, usbmon.LinkTypeMmapped, decode.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if tr.Stats.RxFrames != 2 || !bytes.Equal(tr.Frames[0].Data, f) || tr.Frames[1].Length != 342 || len(tr.Frames[1].Data) != 56 || tr.Stats.LostTransfers != 1 {
		t.Fatalf("%+v", tr.Stats)
	}
	// The endpoints are configuration 2's, from its descriptors.
	if tr.Config == nil || tr.Config.Value != 2 || tr.In.Address != 0x81 || tr.In.MaxPacketSize != 64 || tr.Out.Address != 0x02 || tr.Status.Address != 0x83 {
		t.Errorf("configuration %v, endpoints %v %v %v", tr.Config, tr.In, tr.Out, tr.Status)
	}
	for _, c := range tr.Controls {
		if strings.Contains(c.Name, "ETHERNET") {
			t.Errorf("request named as cdc_ether's: %s", c.Name)
		}
	}
	// Malformed RNDIS is a framing error, not a frame.
	var b2 builder
	usbnetWithSecond(&b2, rndisConfig(2))
	b2.control(setConfig(2), nil, 0)
	bad := rndisPacket(f)
	binary.LittleEndian.PutUint32(bad, 2)
	b2.xfer(usbmon.XferBulk, 0x81, bad, len(bad), 0, false)
	short := rndisPacket(f)[:40]
	b2.xfer(usbmon.XferBulk, 0x02, short, len(short), 0, false)
	tr, err = decode.Decode(b2.recs, usbmon.LinkTypeMmapped, decode.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if tr.Stats.RxErrors != 1 || tr.Stats.TxErrors != 1 || tr.Stats.RxFrames != 0 || !errors.Is(tr.Errors[0], decode.ErrRNDIS) || !errors.Is(tr.Errors[1], decode.ErrTxShort) {
		t.Errorf("%+v %v", tr.Stats, tr.Errors)
	}
}

// TestNCMInItsConfiguration: once the host selects the NCM configuration,
// cdc_ncm decodes it: bulk data that is no NTB is a framing error, never
// read as another class's frames.
func TestNCMInItsConfiguration(t *testing.T) {
	var b builder
	usbnetWithSecond(&b, ncmConfig(2))
	b.control(setConfig(2), nil, 0)
	b.xfer(usbmon.XferBulk, 0x81, make([]byte, 200), 200, 0, false)
	b.xfer(usbmon.XferBulk, 0x02, make([]byte, 300), 300, 0, false)
	tr, err := decode.Decode(b.recs, usbmon.LinkTypeMmapped, decode.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if tr.Driver != "cdc_ncm" || tr.Stats.RxErrors != 1 || tr.Stats.TxErrors != 1 || len(tr.Frames) != 0 {
		t.Fatalf("driver %q, %+v", tr.Driver, tr.Stats)
	}
}

// TestDataInterfaceAltZero: after SET_INTERFACE(1, 0) the ECM data
// interface has no endpoints: records on them are counted, not decoded.
func TestDataInterfaceAltZero(t *testing.T) {
	var b builder
	b.ecmGadget(2, 0x0001, "020000000001")
	b.on(2, func() {
		b.xfer(usbmon.XferBulk, 0x81, make([]byte, 70), 70, 0, false)
		b.control(hw.Setup{RequestType: hw.DirOut | hw.TypeStandard | hw.RecipInterface, Request: hw.ReqSetInterface, Value: 0, Index: 1}, nil, 0)
		b.xfer(usbmon.XferBulk, 0x81, make([]byte, 80), 80, 0, false)
	})
	tr, err := decode.Decode(b.recs, usbmon.LinkTypeMmapped, decode.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if tr.Stats.RxFrames != 1 || tr.Stats.Unconfigured != 1 || tr.Frames[0].Length != 70 {
		t.Fatalf("%+v", tr.Stats)
	}
}

// TestPadRemovedAndCounted: usbnet's pad byte comes off a cdc_ether TX
// transfer whether the capture holds it or cut it, and is counted.
func TestPadRemovedAndCounted(t *testing.T) {
	var b builder
	b.ecmGadget(2, 0x0001, "020000000001")
	whole := append(frameOf(0x11, 512), 0)
	notPad := append(frameOf(0x22, 512), 0x33)
	b.on(2, func() {
		b.xfer(usbmon.XferBulk, 0x02, whole, 513, 0, false)
		b.xfer(usbmon.XferBulk, 0x02, whole[:256], 513, 0, false) // cut as QEMU cuts
		b.xfer(usbmon.XferBulk, 0x02, notPad, 513, 0, false)
		b.xfer(usbmon.XferBulk, 0x02, nil, 0, 0, false) // a ZLP says nothing about padding
	})
	tr, err := decode.Decode(b.recs, usbmon.LinkTypeMmapped, decode.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if tr.Stats.TxPads != 2 || len(tr.Frames) != 3 || tr.Frames[0].Length != 512 || !bytes.Equal(tr.Frames[0].Data, whole[:512]) ||
		tr.Frames[1].Length != 512 || len(tr.Frames[1].Data) != 256 || tr.Frames[2].Length != 513 {
		t.Fatalf("%+v", tr.Stats)
	}
}

// ipv4Frame is an Ethernet frame of n bytes carrying IPv4 (total length n-14).
func ipv4Frame(n int) []byte {
	f := frameOf(0x44, n)
	f[12], f[13], f[14] = 0x08, 0x00, 0x45
	binary.BigEndian.PutUint16(f[16:], uint16(n-14))
	return f
}

// TestPadDecidedByTheTrace: the IP length tells a real 513-byte frame from
// 512 bytes and the pad when the capture cut both; a host that ended
// transfers with ZLPs (dongle's cdc_ether) padded nothing.
func TestPadDecidedByTheTrace(t *testing.T) {
	real513, pad512 := ipv4Frame(513), append(ipv4Frame(512), 0)
	var b builder
	b.ecmGadget(2, 0x0001, "020000000001")
	b.on(2, func() {
		b.xfer(usbmon.XferBulk, 0x02, real513[:256], 513, 0, false)
		b.xfer(usbmon.XferBulk, 0x02, pad512[:256], 513, 0, false)
	})
	tr, err := decode.Decode(b.recs, usbmon.LinkTypeMmapped, decode.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if tr.Stats.TxPads != 1 || tr.Frames[0].Length != 513 || tr.Frames[1].Length != 512 {
		t.Errorf("IP lengths: pads %d, frames %d and %d bytes", tr.Stats.TxPads, tr.Frames[0].Length, tr.Frames[1].Length)
	}
	var z builder
	z.ecmGadget(2, 0x0001, "020000000001")
	z.on(2, func() {
		z.xfer(usbmon.XferBulk, 0x02, frameOf(1, 1024), 1024, 0, false)
		z.xfer(usbmon.XferBulk, 0x02, nil, 0, 0, false)
		z.xfer(usbmon.XferBulk, 0x02, append(frameOf(1, 512), 0), 513, 0, false)
	})
	tr, err = decode.Decode(z.recs, usbmon.LinkTypeMmapped, decode.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if tr.Stats.TxPads != 0 || tr.Frames[1].Length != 513 {
		t.Errorf("a host that sends ZLPs: pads %d, frame %d bytes", tr.Stats.TxPads, tr.Frames[1].Length)
	}
}
