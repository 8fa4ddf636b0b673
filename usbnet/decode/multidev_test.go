package decode_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"slices"
	"strings"
	"testing"

	"dongle/hw"
	"dongle/hw/usbmon"
	"dongle/usbnet"
	"dongle/usbnet/decode"
)

// ecmDescriptors are a CDC ECM gadget's (as Linux's f_ecm on dummy_hcd
// offers them): interface 0 CDC Ethernet with interrupt IN 0x83, interface
// 1 data with no endpoints at alt 0 and bulk IN 0x81 / OUT 0x02 (512) at
// alt 1; iMACAddress is string 3. With rndis, configuration 2 is an RNDIS
// function on the same endpoints.
func ecmDescriptors(product uint16) (dd, cfg []byte) {
	dd = []byte{18, hw.DescDevice, 0x00, 0x02, 0, 0, 0, 64, 0x09, 0x12, byte(product), byte(product >> 8), 0x00, 0x01, 0, 0, 0, 1}
	cfg = []byte{9, hw.DescConfig, 0, 0, 2, 1, 0, 0x80, 50,
		9, hw.DescInterface, 0, 0, 1, 0x02, 0x06, 0, 0,
		5, 0x24, 0x00, 0x10, 0x01,
		5, 0x24, 0x06, 0, 1,
		13, 0x24, 0x0f, 3, 0, 0, 0, 0, 0xea, 0x05, 0, 0, 0,
		7, hw.DescEndpoint, 0x83, hw.XferInterrupt, 16, 0, 9,
		9, hw.DescInterface, 1, 0, 0, 0x0a, 0, 0, 0,
		9, hw.DescInterface, 1, 1, 2, 0x0a, 0, 0, 0,
		7, hw.DescEndpoint, 0x81, hw.XferBulk, 0x00, 0x02, 0,
		7, hw.DescEndpoint, 0x02, hw.XferBulk, 0x00, 0x02, 0,
	}
	binary.LittleEndian.PutUint16(cfg[2:], uint16(len(cfg)))
	return dd, cfg
}

func macString(mac string) []byte {
	b := []byte{byte(2 + 2*len(mac)), hw.DescString}
	for _, c := range mac {
		b = append(b, byte(c), 0)
	}
	return b
}

var (
	setConfig1 = hw.Setup{RequestType: hw.DirOut | hw.TypeStandard | hw.RecipDevice, Request: hw.ReqSetConfiguration, Value: 1}
	setAlt1    = hw.Setup{RequestType: hw.DirOut | hw.TypeStandard | hw.RecipInterface, Request: hw.ReqSetInterface, Value: 1, Index: 1}
	getMAC     = hw.Setup{RequestType: hw.DirIn, Request: hw.ReqGetDescriptor, Value: uint16(hw.DescString)<<8 | 3, Index: 0x409, Length: 255}
	hubDevice  = []byte{18, hw.DescDevice, 0x00, 0x02, 9, 0, 1, 64, 0x6b, 0x1d, 0x02, 0x00, 0x00, 0x01, 3, 2, 1, 1}
	// hubGetStatus is the hub class GET_STATUS (bRequest 0), which CDC's
	// request table would call SEND_ENCAPSULATED_COMMAND.
	hubGetStatus = hw.Setup{RequestType: hw.DirIn | hw.TypeClass | hw.RecipDevice, Request: 0, Length: 4}
)

// on runs f and moves the records it logged to device addr.
func (b *builder) on(addr uint8, f func()) {
	start := len(b.recs)
	f()
	for i := start; i < len(b.recs); i++ {
		b.recs[i].Device = addr
	}
}

// ecmGadget logs an ECM gadget's bring-up at addr, and frames.
func (b *builder) ecmGadget(addr uint8, product uint16, mac string) {
	dd, cfg := ecmDescriptors(product)
	b.on(addr, func() {
		b.control(getDevice, dd, 0)
		b.control(getConfig(uint16(len(cfg))), cfg, 0)
		b.control(getMAC, macString(mac), 0)
		b.control(setConfig1, nil, 0)
		b.control(setAlt1, nil, 0)
	})
}

// TestBusyBus is the capture: an ECM gadget (1.2) on dummy_hcd
// with its root hub (1.1) on the same bus. The root hub's 1-byte
// status-change completions on its interrupt endpoint 0x81 are not frames
// of the gadget's bulk IN 0x81, and the hub's class GET_STATUS is not the
// gadget's SEND_ENCAPSULATED_COMMAND.
func TestBusyBus(t *testing.T) {
	var b builder
	b.on(1, func() { b.control(getDevice, hubDevice, 0) })
	b.ecmGadget(2, 0x0001, "020000000001")
	var want [][]byte
	hubRecs := 2
	for i := 0; i < 5; i++ {
		frame := bytes.Repeat([]byte{byte(0x10 + i)}, 60+i)
		want = append(want, frame)
		b.on(2, func() { b.xfer(usbmon.XferBulk, 0x81, frame, len(frame), 0, false) })
		b.on(1, func() {
			b.xfer(usbmon.XferInterrupt, 0x81, []byte{0x02}, 1, 0, false)
			b.control(hubGetStatus, []byte{1, 1, 0, 0}, 0)
		})
		hubRecs += 4
	}
	tr, err := decode.Decode(b.recs, usbmon.LinkTypeMmapped, decode.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if tr.Bus != 1 || tr.Address != 2 || tr.Driver != "cdc_ether" || tr.In.Address != 0x81 || tr.MAC.String() != "02:00:00:00:00:01" {
		t.Fatalf("decoded %d.%d as %s, in %v, MAC %v", tr.Bus, tr.Address, tr.Driver, tr.In, tr.MAC)
	}
	if len(tr.Frames) != len(want) {
		t.Fatalf("%d frames, want the gadget's %d", len(tr.Frames), len(want))
	}
	for i, f := range tr.Frames {
		if !bytes.Equal(f.Data, want[i]) || f.Dir != decode.RX {
			t.Errorf("frame %d: % x", i, f.Data)
		}
	}
	for _, c := range tr.Controls {
		if strings.Contains(c.Name, "ENCAPSULATED") || c.Setup.RequestType&0x60 == hw.TypeClass {
			t.Errorf("a hub request decoded as the gadget's: %s at record %d", c.Name, c.Record+1)
		}
	}
	if tr.Stats.Ignored != hubRecs || tr.Stats.Records+tr.Stats.Ignored != len(b.recs) || tr.Stats.Notifications != 0 {
		t.Errorf("records %d ignored %d (want %d), notifications %d", tr.Stats.Records, tr.Stats.Ignored, hubRecs, tr.Stats.Notifications)
	}
	if len(tr.Devices) != 2 || tr.Devices[0].Function != "hub" || tr.Devices[0].Selected || !tr.Devices[1].Selected || tr.Devices[1].Function != "cdc_ether" || tr.Devices[0].Records != hubRecs {
		t.Errorf("devices %+v", tr.Devices)
	}
	// Picking the hub by hand: it is no network adapter.
	if _, err := decode.Decode(b.recs, usbmon.LinkTypeMmapped, decode.Options{Device: "1.1"}); !errors.Is(err, usbnet.ErrNoDriver) {
		t.Errorf("--device 1.1 (the hub): %v", err)
	}
}

func TestSeveralAdapters(t *testing.T) {
	var b builder
	b.ecmGadget(2, 0x0001, "020000000001")
	b.ecmGadget(3, 0x0002, "020000000002")
	b.on(3, func() { b.xfer(usbmon.XferBulk, 0x81, make([]byte, 70), 70, 0, false) })
	b.on(2, func() { b.xfer(usbmon.XferBulk, 0x02, make([]byte, 80), 80, 0, false) })
	_, err := decode.Decode(b.recs, usbmon.LinkTypeMmapped, decode.Options{})
	if !errors.Is(err, decode.ErrSeveralDevices) || !strings.Contains(err.Error(), "1.2 1209:0001 cdc_ether") || !strings.Contains(err.Error(), "1.3 1209:0002 cdc_ether") {
		t.Fatalf("two adapters: %v", err)
	}
	for _, c := range []struct {
		dev    string
		mac    string
		rx, tx int
	}{{"1.2", "02:00:00:00:00:01", 0, 1}, {"1.3", "02:00:00:00:00:02", 1, 0}} {
		tr, err := decode.Decode(b.recs, usbmon.LinkTypeMmapped, decode.Options{Device: c.dev})
		if err != nil {
			t.Fatal(err)
		}
		if tr.MAC.String() != c.mac || tr.Stats.RxFrames != c.rx || tr.Stats.TxFrames != c.tx {
			t.Errorf("%s: MAC %v, RX %d TX %d", c.dev, tr.MAC, tr.Stats.RxFrames, tr.Stats.TxFrames)
		}
	}
	for _, bad := range []string{"1.9", "x", "1.300", "1"} {
		_, err := decode.Decode(b.recs, usbmon.LinkTypeMmapped, decode.Options{Device: bad})
		if !errors.Is(err, decode.ErrNoSuchDevice) && !errors.Is(err, decode.ErrBadDevice) {
			t.Errorf("--device %s: %v", bad, err)
		}
	}
	if _, err := decode.Decode(b.recs, usbmon.LinkTypeMmapped, decode.Options{Device: "1.9"}); !errors.Is(err, decode.ErrNoSuchDevice) || !strings.Contains(err.Error(), "1.2 1209:0001") {
		t.Errorf("--device 1.9: %v", err)
	}
	if bus, addr, err := decode.ParseDevice("3.17"); err != nil || bus != 3 || addr != 17 {
		t.Errorf("ParseDevice: %d %d %v", bus, addr, err)
	}
}

// TestLinkPerLife: a re-enumerated adapter's first link report is listed
// (and streamed to the rules) even when it says what the last life's last
// one said: the new life knew no link until then
// (fixtures/failure-device-vanished.pcap: life 1 reports at records 67 and
// 79, life 2 at 1249 and 1291; 121, 123, 1293, 1296 repeat them).
func TestLinkPerLife(t *testing.T) {
	tr, err := decode.ReadFile("../../fixtures/failure-device-vanished.pcap", decode.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var got []int
	for _, l := range tr.Links {
		got = append(got, l.Record+1)
	}
	if want := []int{67, 79, 1249, 1291}; !slices.Equal(got, want) {
		t.Errorf("link events at records %v, want %v", got, want)
	}
	if n := len(tr.Timeline.Buckets); n == 0 || tr.Timeline.Buckets[n-1].Link != 2 {
		t.Errorf("the timeline does not end with the second life's link up")
	}
}
