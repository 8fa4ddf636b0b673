package decode_test

import (
	"errors"
	"strings"
	"testing"

	"dongle/hw"

	"dongle/hw/usbmon"
	"dongle/usbnet"
	"dongle/usbnet/cdcecm"
	"dongle/usbnet/decode"
)

// TestURBCountsAndPending: URBs are counted by pairing (a completion whose
// submission the capture missed is an URB of its own, even under an id
// used before), and Pending counts the data URBs whose data the capture
// lacks: IN submitted and never completed, IN failed at submission ('E'),
// OUT completed without its submission.
func TestURBCountsAndPending(t *testing.T) {
	var b builder
	b.ecmGadget(2, 0x0001, "020000000001")
	ctl := len(b.recs) / 2
	b.on(2, func() {
		b.xfer(usbmon.XferBulk, 0x81, frameOf(1, 70), 70, 0, false) // id A: S, C
		id := b.recs[len(b.recs)-1].ID
		// A completion of id A again, without a submission.
		b.add(usbmon.Record{ID: id, Type: usbmon.Complete, XferType: usbmon.XferBulk, Endpoint: 0x81, Length: 60, Data: frameOf(2, 60), LenCap: 60, FlagSetup: '-'})
		b.xfer(usbmon.XferBulk, 0x81, nil, 0, 0, true) // submitted, never completed
		b.id++
		b.add(usbmon.Record{ID: b.id, Type: usbmon.Submit, XferType: usbmon.XferBulk, Endpoint: 0x81, Length: 2048, FlagData: '<'})
		b.add(usbmon.Record{ID: b.id, Type: usbmon.Error, XferType: usbmon.XferBulk, Endpoint: 0x81, Status: -usbmon.ENODEV, FlagSetup: '-', FlagData: '>'})
		b.id++
		b.add(usbmon.Record{ID: b.id, Type: usbmon.Complete, XferType: usbmon.XferBulk, Endpoint: 0x02, Length: 80, FlagSetup: '-', FlagData: '>'})
		b.id++
		b.add(usbmon.Record{ID: b.id, Type: usbmon.Complete, XferType: usbmon.XferInterrupt, Endpoint: 0x83, Length: 8, Data: make([]byte, 8), LenCap: 8, FlagSetup: '-'})
	})
	tr, err := decode.Decode(b.recs, usbmon.LinkTypeMmapped, decode.Options{})
	if err != nil {
		t.Fatal(err)
	}
	// URBs: the controls, A, A's orphan completion, the pending IN, the
	// failed IN, the orphan OUT completion, the orphan interrupt completion.
	if tr.Stats.URBs != ctl+6 || tr.Stats.Pending != 3 || tr.Stats.RxFrames != 2 {
		t.Errorf("URBs %d (want %d), pending %d (want 3), RX %d", tr.Stats.URBs, ctl+6, tr.Stats.Pending, tr.Stats.RxFrames)
	}
}

// TestAnomaliesOfUndecodedData: what cannot be decoded is said, with why:
// unconfigured, no endpoint at the active alternate setting, a
// configuration nothing matches.
func TestAnomaliesOfUndecodedData(t *testing.T) {
	var b builder
	vendor := rndisConfig(2)
	vendor[9+5], vendor[9+6], vendor[9+7] = 0xff, 0xff, 0xff // interface 0: vendor class
	usbnetWithSecond(&b, vendor)
	cfg1 := len(b.recs)
	b.control(setConfig(1), nil, 0)
	b.xfer(usbmon.XferBulk, 0x81, frameOf(1, 70), 70, 0, false) // alt 0: no endpoints
	cfg0 := len(b.recs)
	b.control(setConfig(0), nil, 0)
	b.xfer(usbmon.XferBulk, 0x02, frameOf(1, 70), 70, 0, false) // unconfigured
	b.xfer(usbmon.XferBulk, 0x81, nil, 0, 0, true)              // an IN submission carries nothing
	cfg2 := len(b.recs)
	b.control(setConfig(2), nil, 0)
	b.xfer(usbmon.XferBulk, 0x81, frameOf(1, 70), 70, 0, false)
	b.xfer(usbmon.XferBulk, 0x02, frameOf(1, 70), 70, 0, false)
	b.xfer(usbmon.XferBulk, 0x02, frameOf(1, 70), 70, 0, true)
	tr, err := decode.Decode(b.recs, usbmon.LinkTypeMmapped, decode.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if tr.Stats.Unconfigured != 2 || tr.Stats.Undecoded != 3 || len(tr.Frames) != 0 {
		t.Errorf("%+v", tr.Stats)
	}
	hasAnomaly(t, tr, "1 bulk/interrupt transfers from record "+itoa(cfg1+1)+" on: no endpoint of the active alternate settings carries them")
	hasAnomaly(t, tr, "1 bulk/interrupt transfers from record "+itoa(cfg0+1)+" on: the device was unconfigured")
	hasAnomaly(t, tr, "3 bulk transfers from record "+itoa(cfg2+1)+" on not decoded: nothing dongle knows matches configuration 2")
}

// TestEmitErrorAtTheEnd: a frame completed only when the trace ends (a
// QEMU transfer still open) reports its sink's error too.
func TestEmitErrorAtTheEnd(t *testing.T) {
	dd, cfg := deviceDescriptors(64)
	b := builder{qemu: true}
	b.control(getDevice, dd, 0)
	b.control(getConfig(uint16(len(cfg))), cfg, 0)
	b.xfer(usbmon.XferBulk, 0x82, make([]byte, 64), 64, 0, false) // a full packet: the transfer stays open
	full := errors.New("disk full")
	_, err := decode.Decode(b.recs, usbmon.LinkTypeMmapped, decode.Options{Drivers: scriptedOnly, Emit: func(*decode.Frame) error { return full }})
	if !errors.Is(err, full) {
		t.Errorf("emit error at the end: %v", err)
	}
}

var (
	scriptedOnly = []usbnet.Minidriver{scripted{}}
	cdcecmDriver = cdcecm.Driver{}
)

// TestListsAreBounded: past MaxListed the controls, framing errors, link
// events and anomalies are counted, not kept (a capture of hours must not
// become a report of gigabytes).
func TestListsAreBounded(t *testing.T) {
	dd, cfg := deviceDescriptors(512)
	var b builder
	b.control(getDevice, dd, 0)
	b.control(getConfig(uint16(len(cfg))), cfg, 0)
	n := decode.MaxListed + 5
	for i := 0; i < n; i++ {
		b.control(hw.Setup{RequestType: hw.DirIn | hw.TypeVendor | hw.RecipDevice, Request: 0x10, Length: 2}, []byte{1, 2}, -usbmon.EPIPE)
		b.xfer(usbmon.XferBulk, 0x82, make([]byte, 77), 77, 0, false)          // a framing error each
		b.xfer(usbmon.XferInterrupt, 0x81, []byte{byte(1 + i%2)}, 1, 0, false) // link up, down, up...
		b.xfer(usbmon.XferBulk, 0x03, make([]byte, 60), 60, -usbmon.EPROTO, false)
	}
	tr, err := decode.Decode(b.recs, usbmon.LinkTypeMmapped, decode.Options{Drivers: scriptedOnly})
	if err != nil {
		t.Fatal(err)
	}
	s := tr.Stats
	if len(tr.Controls) != decode.MaxListed || s.Controls != n+2 || s.Stalls != n {
		t.Errorf("controls: %d kept, %d counted, %d stalled", len(tr.Controls), s.Controls, s.Stalls)
	}
	if len(tr.Errors) != decode.MaxListed || s.RxErrors != n {
		t.Errorf("errors: %d kept, %d counted", len(tr.Errors), s.RxErrors)
	}
	if len(tr.Links) != decode.MaxListed || s.Notifications != n {
		t.Errorf("links: %d kept of %d", len(tr.Links), s.Notifications)
	}
	if len(tr.Anomalies) != decode.MaxListed || s.MoreAnomalies < n-decode.MaxListed || s.Failed != n {
		t.Errorf("anomalies: %d kept, %d more, %d failed", len(tr.Anomalies), s.MoreAnomalies, s.Failed)
	}
	if !tr.Controls[0].Stalled() && tr.Controls[0].Name != "GET_DESCRIPTOR(device)" || tr.Controls[0].Pending || len(tr.Controls[0].Data) != 18 {
		t.Errorf("first control %+v", tr.Controls[0])
	}
}

// TestSelectionsAreBounded: an interface toggled more than MaxListed times
// keeps MaxListed selections and counts the rest; the states recur, so
// they decode with one binding.
func TestSelectionsAreBounded(t *testing.T) {
	var b builder
	b.ecmGadget(2, 0x0001, "020000000001")
	b.on(2, func() {
		for i := 0; i < decode.MaxListed; i++ {
			b.control(hw.Setup{RequestType: hw.DirOut | hw.TypeStandard | hw.RecipInterface, Request: hw.ReqSetInterface, Value: uint16(i % 2), Index: 1}, nil, 0)
			b.xfer(usbmon.XferBulk, 0x81, frameOf(1, 70), 70, 0, false)
		}
	})
	tr, err := decode.Decode(b.recs, usbmon.LinkTypeMmapped, decode.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(tr.Selections) != decode.MaxListed || tr.Stats.MoreSelections != 3 || tr.Stats.RxFrames != decode.MaxListed/2 || tr.Stats.Unconfigured != decode.MaxListed/2 {
		t.Errorf("%d selections, %d more; %+v", len(tr.Selections), tr.Stats.MoreSelections, tr.Stats)
	}
}

// TestChoiceEdges: what decode says when it cannot pick a device.
func TestChoiceEdges(t *testing.T) {
	if _, err := decode.Decode(nil, usbmon.LinkTypeMmapped, decode.Options{}); !errors.Is(err, decode.ErrNoDescriptors) || !strings.Contains(err.Error(), "holds no records") {
		t.Errorf("empty trace: %v", err)
	}
	var b builder
	b.on(3, func() { b.xfer(usbmon.XferBulk, 0x82, make([]byte, 70), 70, 0, false) })
	b.on(4, func() { b.xfer(usbmon.XferBulk, 0x82, make([]byte, 70), 70, 0, false) })
	_, err := decode.Decode(b.recs, usbmon.LinkTypeMmapped, decode.Options{})
	if !errors.Is(err, decode.ErrNoDescriptors) || !strings.Contains(err.Error(), "1.3 (no device descriptor), 2 records") {
		t.Errorf("no descriptors: %v", err)
	}
	// A forced driver on a trace without descriptors: the device with
	// bulk traffic, if it is the only one.
	if _, err := decode.Decode(b.recs, usbmon.LinkTypeMmapped, decode.Options{Driver: "scripted", Drivers: scriptedOnly}); !errors.Is(err, decode.ErrSeveralDevices) {
		t.Errorf("two devices without descriptors, forced: %v", err)
	}
	tr, err := decode.Decode(b.recs[:2], usbmon.LinkTypeMmapped, decode.Options{Driver: "scripted", Drivers: scriptedOnly})
	if err != nil || tr.Address != 3 || tr.Stats.RxFrames != 1 {
		t.Errorf("one device without descriptors, forced: %v", err)
	}
	// A forced driver picks, among adapters, the one it claims.
	var c builder
	c.ecmGadget(2, 0x0001, "020000000001")
	dd, cfg := deviceDescriptors(512)
	c.on(3, func() {
		c.control(getDevice, dd, 0)
		c.control(getConfig(uint16(len(cfg))), cfg, 0)
	})
	tr, err = decode.Decode(c.recs, usbmon.LinkTypeMmapped, decode.Options{Driver: "scripted", Drivers: []usbnet.Minidriver{scripted{}, cdcecmDriver}})
	if err != nil || tr.Address != 3 || tr.Driver != "scripted" {
		t.Errorf("forced among two adapters: %v", err)
	}
	tr, err = decode.Decode(c.recs, usbmon.LinkTypeMmapped, decode.Options{Driver: "ecm", Drivers: []usbnet.Minidriver{scripted{}, cdcecmDriver}})
	if err != nil || tr.Address != 2 || tr.Driver != "cdc_ether" {
		t.Errorf("ecm forced among two adapters: %v", err)
	}
	if len(tr.Devices) != 2 || tr.Devices[1].String() != "1.3 1209:0042 scripted, 4 records" {
		t.Errorf("devices %v", tr.Devices)
	}
	hasAnomaly(t, tr, "4 records of 1 other device(s) on the bus ignored (decoding 1.2; see the device list)")
}
