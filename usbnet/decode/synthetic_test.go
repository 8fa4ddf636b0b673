package decode_test

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"testing"

	"dongle/hw"
	"dongle/hw/usbmon"
	"dongle/skbuff"
	"dongle/usbnet"
	"dongle/usbnet/decode"
)

// builder writes usbmon records the way the kernel logs them (one
// submission and one completion per URB, unique URB ids), or QEMU's way
// (qemu: every record flagged '=', one record per USB packet).
type builder struct {
	recs []usbmon.Record
	id   uint64
	qemu bool
}

func (b *builder) add(r usbmon.Record) int {
	r.Bus, r.Device = 1, 2
	if b.qemu {
		r.FlagData = usbmon.FlagDataQEMU
	}
	r.TsSec = int64(len(b.recs))
	b.recs = append(b.recs, r)
	return len(b.recs) - 1
}

// control logs one control request: its submission (setup, OUT data) and,
// unless pending, its completion (status, IN data).
func (b *builder) control(s hw.Setup, data []byte, status int32) int {
	b.id++
	var raw [8]byte
	raw[0], raw[1] = s.RequestType, s.Request
	binary.LittleEndian.PutUint16(raw[2:], s.Value)
	binary.LittleEndian.PutUint16(raw[4:], s.Index)
	binary.LittleEndian.PutUint16(raw[6:], s.Length)
	ep := uint8(0)
	if s.In() {
		ep = 0x80
	}
	sub := usbmon.Record{ID: b.id, Type: usbmon.Submit, XferType: usbmon.XferControl, Endpoint: ep, Setup: raw, Length: uint32(s.Length)}
	if !s.In() {
		sub.Data, sub.LenCap = data, uint32(len(data))
	} else {
		sub.FlagData = '<'
	}
	i := b.add(sub)
	c := usbmon.Record{ID: b.id, Type: usbmon.Complete, XferType: usbmon.XferControl, Endpoint: ep, Status: status, FlagSetup: '-'}
	if s.In() && status == 0 {
		c.Data, c.Length, c.LenCap = data, uint32(len(data)), uint32(len(data))
	} else {
		c.FlagData = '>'
	}
	b.add(c)
	return i
}

// xfer logs one bulk or interrupt URB on ep: data is what the capture
// holds, length what crossed the bus. pending: no completion.
func (b *builder) xfer(t usbmon.XferType, ep uint8, data []byte, length int, status int32, pending bool) int {
	b.id++
	in := ep&0x80 != 0
	sub := usbmon.Record{ID: b.id, Type: usbmon.Submit, XferType: t, Endpoint: ep, Length: uint32(length)}
	if in {
		sub.FlagData, sub.Length = '<', 2048
	} else {
		sub.Data, sub.LenCap = data, uint32(len(data))
	}
	i := b.add(sub)
	if pending {
		return i
	}
	c := usbmon.Record{ID: b.id, Type: usbmon.Complete, XferType: t, Endpoint: ep, Status: status, Length: uint32(length), FlagSetup: '-'}
	if in {
		c.Data, c.LenCap = data, uint32(len(data))
		i = len(b.recs)
	} else {
		c.FlagData, c.Length = '>', uint32(length)
	}
	b.add(c)
	return i
}

var (
	getDevice = hw.Setup{RequestType: hw.DirIn, Request: hw.ReqGetDescriptor, Value: uint16(hw.DescDevice) << 8, Length: 18}
	vendorIn  = uint8(hw.DirIn | hw.TypeVendor | hw.RecipDevice)
)

func getConfig(n uint16) hw.Setup {
	return hw.Setup{RequestType: hw.DirIn, Request: hw.ReqGetDescriptor, Value: uint16(hw.DescConfig)<<8 | 0, Length: n}
}

// scripted claims 1209:0042 and answers decode from a script: RX and TX
// transfers are one frame each, interrupt packets say what their first
// byte says.
type scripted struct{}

func (scripted) Name() string { return "scripted" }
func (scripted) IDs() []usbnet.ID {
	return []usbnet.ID{{Vendor: 0x1209, Product: 0x0042, Class: -1, SubClass: -1, Protocol: -1, Name: "scripted chip"}}
}
func (scripted) Flags() usbnet.Flags                                    { return 0 }
func (scripted) Bind(*usbnet.Dev) error                                 { return nil }
func (scripted) Unbind(*usbnet.Dev)                                     {}
func (scripted) Reset(*usbnet.Dev) error                                { return nil }
func (scripted) LinkReset(*usbnet.Dev) error                            { return nil }
func (scripted) SetRxMode(*usbnet.Dev) error                            { return nil }
func (scripted) Status(*usbnet.Dev, []byte) error                       { return nil }
func (scripted) RxFixup(*usbnet.Dev, *skbuff.Buff, *skbuff.Queue) error { return nil }
func (scripted) TxFixup(*usbnet.Dev, *skbuff.Buff) error                { return nil }

type wholeRx struct{}

// Rx: a transfer is one frame, except that 77 bytes are a framing error
// and a cut 999-byte transfer has lost its frames.
func (wholeRx) Rx(p []byte, n int, emit usbnet.EmitFunc) (bool, error) {
	switch {
	case n == 77:
		return false, errors.New("seventy-seven")
	case n == 999 && len(p) < n:
		return true, nil
	}
	emit(p, n)
	return false, nil
}

func (wholeRx) Close() {}

func (scripted) RxUnframer(*usbnet.Capture) usbnet.RxUnframer { return wholeRx{} }

// UnframeTx: a transfer is one frame, except that 13 bytes are a framing
// error and 100 bytes hold a 20-byte frame followed by what the script
// cannot read (as a header the capture cut would be).
func (scripted) UnframeTx(_ *usbnet.Capture, p []byte, n int, emit usbnet.EmitFunc) error {
	switch n {
	case 13:
		return errors.New("thirteen")
	case 100:
		emit(p[:min(20, len(p))], 20)
		return nil
	}
	emit(p, n)
	return nil
}

var errScripted = errors.New("scripted status error")

func (scripted) DescribeStatus(p []byte) (usbnet.LinkEvent, error) {
	switch p[0] {
	case 1:
		return usbnet.LinkEvent{HasLink: true, Up: true}, nil
	case 2:
		return usbnet.LinkEvent{HasLink: true}, nil
	case 3:
		return usbnet.LinkEvent{Mbps: int(p[1])}, nil
	case 4:
		return usbnet.LinkEvent{}, errScripted
	}
	return usbnet.LinkEvent{}, nil
}

func (scripted) TraceMAC(c *usbnet.Capture) (net.HardwareAddr, error) {
	if c.ID.Name != "scripted chip" || c.Config == nil || c.In.Address != 0x82 {
		return nil, fmt.Errorf("capture: ID %q, endpoint %v", c.ID.Name, c.In)
	}
	return net.HardwareAddr{2, 0, 0, 0, 0, 9}, nil
}

// deviceDescriptors are a 1209:0042 device: interface 0 (vendor class)
// with interrupt IN 0x81, bulk IN 0x82 and bulk OUT 0x03 of mp bytes;
// interface 1 with a bulk IN of an illegal 100 bytes and interrupt INs of
// 1024 (legal) and 0 bytes.
func deviceDescriptors(mp uint16) (dd, cfg []byte) {
	dd = []byte{18, hw.DescDevice, 0x00, 0x02, 0xff, 0, 0, 64, 0x09, 0x12, 0x42, 0x00, 0x00, 0x01, 0, 0, 0, 1}
	cfg = []byte{9, hw.DescConfig, 0, 0, 2, 1, 0, 0x80, 50,
		9, hw.DescInterface, 0, 0, 3, 0xff, 0xff, 0, 0,
		7, hw.DescEndpoint, 0x81, hw.XferInterrupt, 8, 0, 1,
		7, hw.DescEndpoint, 0x82, hw.XferBulk, byte(mp), byte(mp >> 8), 0,
		7, hw.DescEndpoint, 0x03, hw.XferBulk, byte(mp), byte(mp >> 8), 0,
		9, hw.DescInterface, 1, 0, 3, 0xff, 0, 0, 0,
		7, hw.DescEndpoint, 0x84, hw.XferBulk, 100, 0, 0,
		7, hw.DescEndpoint, 0x85, hw.XferInterrupt, 0x00, 0x04, 1, // 1024: the largest legal
		7, hw.DescEndpoint, 0x86, hw.XferInterrupt, 0, 0, 1,
	}
	binary.LittleEndian.PutUint16(cfg[2:], uint16(len(cfg)))
	return dd, cfg
}

func hasAnomaly(t *testing.T, tr *decode.Trace, want string) {
	t.Helper()
	if !slices.Contains(tr.Anomalies, want) {
		t.Errorf("no anomaly %q in\n  %s", want, strings.Join(tr.Anomalies, "\n  "))
	}
}

// TestSyntheticKernelTrace decodes a trace built record by record, so that
// every count and every anomaly has a known answer.
func TestSyntheticKernelTrace(t *testing.T) {
	dd, cfg := deviceDescriptors(512)
	var b builder
	b.control(getDevice, dd, 0)
	b.control(getConfig(9), cfg[:9], 0) // the header first, as the kernel reads it
	b.control(getConfig(uint16(len(cfg))), cfg, 0)
	b.control(hw.Setup{RequestType: hw.DirIn, Request: hw.ReqGetDescriptor, Value: uint16(hw.DescString) << 8, Length: 255}, []byte{4, 3, 9, 4}, 0)
	b.control(hw.Setup{RequestType: hw.DirIn, Request: hw.ReqGetDescriptor, Value: uint16(hw.DescDeviceQualifier) << 8, Length: 10}, nil, -32)
	b.control(hw.Setup{Request: hw.ReqSetConfiguration, Value: 1}, nil, 0)
	s1 := b.control(hw.Setup{RequestType: vendorIn, Request: 0x10, Length: 2}, nil, -32)
	s2 := b.control(hw.Setup{RequestType: vendorIn, Request: 0x10, Length: 2}, nil, -32)
	failed := b.control(hw.Setup{RequestType: vendorIn, Request: 0x11, Length: 2}, nil, -71)
	b.control(hw.Setup{RequestType: hw.RecipEndpoint, Request: hw.ReqClearFeature, Index: 0x82}, nil, 0)

	rx1 := b.xfer(usbmon.XferBulk, 0x82, make([]byte, 100), 100, 0, false)
	b.xfer(usbmon.XferBulk, 0x82, nil, 0, 0, false) // a ZLP
	rx2 := b.xfer(usbmon.XferBulk, 0x82, make([]byte, 512), 512, 0, false)
	b.xfer(usbmon.XferBulk, 0x82, nil, 0, -2, false) // killed at unbind: no failure
	bad := b.xfer(usbmon.XferBulk, 0x82, nil, 0, -71, false)
	b.xfer(usbmon.XferBulk, 0x03, make([]byte, 60), 60, 0, false)
	tx13 := b.xfer(usbmon.XferBulk, 0x03, make([]byte, 13), 13, 0, false) // the script's framing error
	b.xfer(usbmon.XferBulk, 0x82, nil, 0, 0, true)                        // still queued at the end
	i1 := b.xfer(usbmon.XferInterrupt, 0x81, []byte{1, 0, 0, 0, 0, 0, 0, 0}, 8, 0, false)
	b.xfer(usbmon.XferInterrupt, 0x81, []byte{1, 0, 0, 0, 0, 0, 0, 0}, 8, 0, false) // no change
	i3 := b.xfer(usbmon.XferInterrupt, 0x81, []byte{3, 100, 0, 0, 0, 0, 0, 0}, 8, 0, false)
	ierr := b.xfer(usbmon.XferInterrupt, 0x81, []byte{4, 0, 0, 0, 0, 0, 0, 0}, 8, 0, false)
	b.xfer(usbmon.XferInterrupt, 0x81, []byte{5, 0, 0, 0, 0, 0, 0, 0}, 8, 0, false) // nothing to say
	b.xfer(usbmon.XferInterrupt, 0x81, []byte{3, 100, 0, 0, 0, 0, 0, 0}, 8, 0, false)
	i6 := b.xfer(usbmon.XferInterrupt, 0x81, []byte{2, 0, 0, 0, 0, 0, 0, 0}, 8, 0, false)
	b.xfer(usbmon.XferInterrupt, 0x81, nil, 0, -2, false) // killed: not a notification

	tr, err := decode.Decode(b.recs, usbmon.LinkTypeMmapped, decode.Options{Drivers: []usbnet.Minidriver{scripted{}}})
	if err != nil {
		t.Fatal(err)
	}
	if tr.QEMU || tr.Driver != "scripted" || tr.ID.Name != "scripted chip" || len(tr.Configs) != 1 || tr.Config != tr.Configs[0] {
		t.Fatalf("qemu %v driver %s id %q configs %d", tr.QEMU, tr.Driver, tr.ID.Name, len(tr.Configs))
	}
	if tr.In.Address != 0x82 || tr.Out.Address != 0x03 || tr.Status.Address != 0x81 || tr.Speed != hw.SpeedHigh {
		t.Errorf("endpoints %v %v %v speed %v", tr.In, tr.Out, tr.Status, tr.Speed)
	}
	if tr.MAC.String() != "02:00:00:00:00:09" {
		t.Errorf("MAC %v", tr.MAC)
	}
	want := decode.Stats{Records: len(b.recs), URBs: 26, Controls: 10, Stalls: 3, RxTransfers: 2, TxTransfers: 2,
		RxFrames: 2, TxFrames: 1, RxBytes: 612, TxBytes: 60, TxErrors: 1, ZLPs: 1, Pending: 1, Failed: 1, Notifications: 7}
	if tr.Stats != want {
		t.Errorf("stats\n got %+v\nwant %+v", tr.Stats, want)
	}
	if len(tr.Frames) != 3 || tr.Frames[0].Record != rx1 || tr.Frames[1].Record != rx2 || tr.Frames[0].Dir != decode.RX || tr.Frames[2].Dir != decode.TX {
		t.Errorf("frames %+v", tr.Frames)
	}
	if len(tr.Errors) != 1 || tr.Errors[0].Dir != decode.TX || tr.Errors[0].Record != tx13+1 {
		t.Errorf("framing errors %v, want one TX at record %d", tr.Errors, tx13+1)
	}
	wantLinks := []decode.Link{{Record: i1, Up: true}, {Record: i3, Up: true, Mbps: 100}, {Record: i6, Up: false, Mbps: 100}}
	if len(tr.Links) != len(wantLinks) {
		t.Fatalf("links %+v", tr.Links)
	}
	for i, l := range tr.Links {
		w := wantLinks[i]
		if l.Record != w.Record || l.Up != w.Up || l.Mbps != w.Mbps || !l.Time.Equal(b.recs[w.Record].Time()) {
			t.Errorf("link %d: %+v, want %+v", i, l, w)
		}
	}
	hasAnomaly(t, tr, fmt.Sprintf("control request vendor IN request 0x10 (wValue 0x0000 wIndex 0x0000 wLength 2) stalled 2 time(s), record(s) %d, %d", s1+1, s2+1))
	hasAnomaly(t, tr, "control request GET_DESCRIPTOR(device qualifier) stalled 1 time(s), record(s) 9 (normal for a full-speed-only device)")
	hasAnomaly(t, tr, fmt.Sprintf("control request vendor IN request 0x11 (wValue 0x0000 wIndex 0x0000 wLength 2) failed with status -71 (record %d)", failed+1))
	hasAnomaly(t, tr, "bulk IN 0x84: wMaxPacketSize 100 is not a legal bulk size (8/16/32/64 full, 512 high, 1024 super speed)")
	hasAnomaly(t, tr, fmt.Sprintf("endpoint 0x82: transfer at record %d completed with status -71 (%v)", bad+1, hw.ErrIO))
	hasAnomaly(t, tr, fmt.Sprintf("interrupt transfer at record %d: %v", ierr+1, errScripted))
	hasAnomaly(t, tr, "interrupt IN 0x86: wMaxPacketSize 0")
	if len(tr.Anomalies) != 7 {
		t.Errorf("%d anomalies, want the 7 above:\n  %s", len(tr.Anomalies), strings.Join(tr.Anomalies, "\n  "))
	}
	names := map[string]bool{}
	for _, c := range tr.Controls {
		names[c.Name] = true
	}
	for _, n := range []string{"GET_DESCRIPTOR(device)", "GET_DESCRIPTOR(configuration 0)", "GET_DESCRIPTOR(string 0: languages)",
		"SET_CONFIGURATION(1)", "CLEAR_FEATURE(ENDPOINT_HALT 0x82)"} {
		if !names[n] {
			t.Errorf("no request named %q in %v", n, names)
		}
	}
}

// TestSyntheticQEMUTrace: in QEMU's captures a transfer ends at the first
// record that is not a whole number of packets (a ZLP included); records
// come one per packet run, so a 512-byte record followed by a 100-byte one
// is one 612-byte transfer.
func TestSyntheticQEMUTrace(t *testing.T) {
	dd, cfg := deviceDescriptors(512)
	b := builder{qemu: true}
	b.control(getDevice, dd, 0)
	b.control(getConfig(uint16(len(cfg))), cfg, 0)
	b.xfer(usbmon.XferBulk, 0x82, make([]byte, 512), 512, 0, false)
	end := b.xfer(usbmon.XferBulk, 0x82, make([]byte, 100), 100, 0, false)
	b.xfer(usbmon.XferBulk, 0x82, make([]byte, 512), 512, 0, false)
	zlp := b.xfer(usbmon.XferBulk, 0x82, nil, 0, 0, false)
	b.xfer(usbmon.XferBulk, 0x82, make([]byte, 256), 1024, 0, false)
	last := b.xfer(usbmon.XferBulk, 0x82, make([]byte, 60), 60, 0, false)
	tr, err := decode.Decode(b.recs, usbmon.LinkTypeMmapped, decode.Options{Drivers: []usbnet.Minidriver{scripted{}}})
	if err != nil {
		t.Fatal(err)
	}
	if !tr.QEMU {
		t.Fatal("QEMU's records not recognised")
	}
	var got [][2]int
	for _, f := range tr.Frames {
		got = append(got, [2]int{f.Record, f.Length})
	}
	// The cut 1024-byte record is a packet multiple: the transfer goes on
	// into the 60-byte record, and stays cut.
	want := [][2]int{{end, 612}, {zlp, 512}, {last, 1084}}
	if !slices.Equal(got, want) {
		t.Errorf("frames (record, length) %v, want %v", got, want)
	}
	if f := tr.Frames[2]; !f.Truncated() || len(f.Data) != 256 {
		t.Errorf("the cut transfer: %d of %d bytes", len(f.Data), f.Length)
	}
	if tr.Stats.ZLPs != 1 || tr.Stats.RxTruncated != 1 || tr.Stats.RxTransfers != 3 {
		t.Errorf("stats %+v", tr.Stats)
	}
}

// TestNoConfigurationInTrace: endpoints come from the traffic, with the
// packet size assumed (512; 64 for QEMU's full-speed usb-net), and the
// trace says so.
func TestNoConfigurationInTrace(t *testing.T) {
	for _, qemu := range []bool{false, true} {
		dd, _ := deviceDescriptors(512)
		b := builder{qemu: qemu}
		b.control(getDevice, dd, 0)
		b.xfer(usbmon.XferInterrupt, 0x81, []byte{1, 0, 0, 0, 0, 0, 0, 0}, 8, 0, false)
		b.xfer(usbmon.XferBulk, 0x82, make([]byte, 70), 70, 0, false)
		b.xfer(usbmon.XferBulk, 0x03, make([]byte, 60), 60, 0, false)
		tr, err := decode.Decode(b.recs, usbmon.LinkTypeMmapped, decode.Options{Driver: "scripted", Drivers: []usbnet.Minidriver{scripted{}}})
		if err != nil {
			t.Fatal(err)
		}
		mp, speed := uint16(512), hw.SpeedHigh
		if qemu {
			mp, speed = 64, hw.SpeedFull
		}
		if tr.DriverFrom != "option" || tr.Config != nil || tr.In.Address != 0x82 || tr.Out.Address != 0x03 || tr.Status.Address != 0x81 ||
			tr.In.MaxPacketSize != mp || tr.Speed != speed || tr.In.Type() != hw.XferBulk || tr.Status.Type() != hw.XferInterrupt {
			t.Errorf("qemu %v: from %s config %v endpoints %v %v %v speed %v", qemu, tr.DriverFrom, tr.Config, tr.In, tr.Out, tr.Status, tr.Speed)
		}
		hasAnomaly(t, tr, fmt.Sprintf("no configuration descriptor in the trace: endpoints taken from the traffic, wMaxPacketSize assumed %d", mp))
		if tr.Stats.RxFrames != 1 || tr.Stats.TxFrames != 1 || len(tr.Links) != 1 {
			t.Errorf("qemu %v: %+v links %v", qemu, tr.Stats, tr.Links)
		}
	}
	// Without a device descriptor nothing picks the driver.
	var b builder
	b.xfer(usbmon.XferBulk, 0x82, make([]byte, 70), 70, 0, false)
	if _, err := decode.Decode(b.recs, usbmon.LinkTypeMmapped, decode.Options{}); !errors.Is(err, decode.ErrNoDescriptors) {
		t.Errorf("no device descriptor: %v", err)
	}
}

func TestDirNames(t *testing.T) {
	if decode.RX.String() != "RX" || decode.TX.String() != "TX" {
		t.Errorf("%s %s", decode.RX, decode.TX)
	}
}

// TestSyntheticEdges: framing errors and lost transfers on RX, a TX
// transfer the capture cut after a whole frame, a link that starts down,
// a configuration only ever read as its 9-byte header, a zero
// wMaxPacketSize in a QEMU capture.
func TestSyntheticEdges(t *testing.T) {
	dd, cfg := deviceDescriptors(512)
	var b builder
	b.control(getDevice, dd, 0)
	b.control(getConfig(uint16(len(cfg))), cfg, 0)
	rxErr := b.xfer(usbmon.XferBulk, 0x82, make([]byte, 77), 77, 0, false)
	lost := b.xfer(usbmon.XferBulk, 0x82, make([]byte, 40), 999, 0, false)
	b.xfer(usbmon.XferBulk, 0x03, make([]byte, 40), 100, 0, false) // 20-byte frame whole, the rest cut
	b.xfer(usbmon.XferBulk, 0x03, make([]byte, 30), 60, 0, false)  // its one frame cut
	down := b.xfer(usbmon.XferInterrupt, 0x81, []byte{2, 0, 0, 0, 0, 0, 0, 0}, 8, 0, false)
	tr, err := decode.Decode(b.recs, usbmon.LinkTypeMmapped, decode.Options{Drivers: []usbnet.Minidriver{scripted{}}})
	if err != nil {
		t.Fatal(err)
	}
	if tr.Stats.RxErrors != 1 || len(tr.Errors) != 1 || tr.Errors[0].Dir != decode.RX || tr.Errors[0].Record != rxErr+1 {
		t.Errorf("RX errors %d: %v", tr.Stats.RxErrors, tr.Errors)
	}
	if tr.Stats.LostTransfers != 1 {
		t.Errorf("lost transfers %d", tr.Stats.LostTransfers)
	}
	hasAnomaly(t, tr, fmt.Sprintf("bulk IN transfer at record %d cut by the capture (40 of 999 bytes): frames in it are lost", lost+1))
	// Two TX transfers cut: one frame cut in each, one seen (60 bytes),
	// one not (after the 20-byte frame).
	if tr.Stats.TxTruncated != 2 || tr.Stats.TxFrames != 2 {
		t.Errorf("TX truncated %d frames %d, want 2 and 2", tr.Stats.TxTruncated, tr.Stats.TxFrames)
	}
	if len(tr.Links) != 1 || tr.Links[0].Up || tr.Links[0].Record != down {
		t.Errorf("a link that starts down: %+v", tr.Links)
	}
	// Each alone: a transfer whose cut frame was emitted counts once.
	for _, c := range []struct{ captured, length int }{{30, 60}, {40, 100}} {
		b := builder{}
		b.control(getDevice, dd, 0)
		b.control(getConfig(uint16(len(cfg))), cfg, 0)
		b.xfer(usbmon.XferBulk, 0x03, make([]byte, c.captured), c.length, 0, false)
		tr, err := decode.Decode(b.recs, usbmon.LinkTypeMmapped, decode.Options{Drivers: []usbnet.Minidriver{scripted{}}})
		if err != nil || tr.Stats.TxTruncated != 1 {
			t.Errorf("TX %d of %d bytes: %d truncated (%v), want 1", c.captured, c.length, tr.Stats.TxTruncated, err)
		}
	}

	// The configuration read only as its header: no parse error, and
	// endpoints from the traffic.
	b = builder{}
	b.control(getDevice, dd, 0)
	b.control(getConfig(9), cfg[:9], 0)
	b.xfer(usbmon.XferBulk, 0x82, make([]byte, 70), 70, 0, false)
	b.xfer(usbmon.XferBulk, 0x03, make([]byte, 60), 60, 0, false)
	tr, err = decode.Decode(b.recs, usbmon.LinkTypeMmapped, decode.Options{Driver: "scripted", Drivers: []usbnet.Minidriver{scripted{}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(tr.Configs) != 0 {
		t.Errorf("header-only configuration: %d configurations", len(tr.Configs))
	}
	for _, a := range tr.Anomalies {
		if strings.HasPrefix(a, "configuration descriptor") {
			t.Errorf("a header read as a broken configuration: %q", a)
		}
	}
	hasAnomaly(t, tr, "no configuration descriptor in the trace: endpoints taken from the traffic, wMaxPacketSize assumed 512")

	// QEMU, bulk wMaxPacketSize 0: every record is its own transfer.
	dd0, cfg0 := deviceDescriptors(0)
	b = builder{qemu: true}
	b.control(getDevice, dd0, 0)
	b.control(getConfig(uint16(len(cfg0))), cfg0, 0)
	b.xfer(usbmon.XferBulk, 0x82, make([]byte, 64), 64, 0, false)
	b.xfer(usbmon.XferBulk, 0x82, make([]byte, 64), 64, 0, false)
	tr, err = decode.Decode(b.recs, usbmon.LinkTypeMmapped, decode.Options{Drivers: []usbnet.Minidriver{scripted{}}})
	if err != nil {
		t.Fatal(err)
	}
	if tr.Stats.RxTransfers != 2 || tr.Speed != hw.SpeedUnknown {
		t.Errorf("mp 0: %d transfers, speed %v", tr.Stats.RxTransfers, tr.Speed)
	}
}

// TestForcedDriverEdges: a forced driver with no device descriptor in the
// trace, or one the device does not match, still decodes with the first
// configuration; a driver whose endpoint rules reject the configuration
// says so and falls back to the first endpoints.
func TestForcedDriverEdges(t *testing.T) {
	dd, cfg := deviceDescriptors(512)
	var b builder
	b.control(getConfig(uint16(len(cfg))), cfg, 0)
	b.xfer(usbmon.XferBulk, 0x82, make([]byte, 70), 70, 0, false)
	tr, err := decode.Decode(b.recs, usbmon.LinkTypeMmapped, decode.Options{Driver: "scripted", Drivers: []usbnet.Minidriver{scripted{}}})
	if err != nil {
		t.Fatal(err)
	}
	if tr.Device != nil || tr.Config == nil || tr.Config.Value != 1 || tr.In.Address != 0x82 || tr.ID.Name != "" {
		t.Errorf("no device descriptor: device %v config %v in %v id %q", tr.Device, tr.Config, tr.In, tr.ID.Name)
	}

	other := append([]byte(nil), dd...)
	other[8], other[9] = 0x34, 0x12 // 1234:0042, which scripted does not claim
	b = builder{}
	b.control(getDevice, other, 0)
	b.control(getConfig(uint16(len(cfg))), cfg, 0)
	tr, err = decode.Decode(b.recs, usbmon.LinkTypeMmapped, decode.Options{Driver: "scripted", Drivers: []usbnet.Minidriver{scripted{}}})
	if err != nil {
		t.Fatal(err)
	}
	if tr.Config == nil || tr.ID.Name != "" || tr.Out.Address != 0x03 {
		t.Errorf("unmatched device: config %v id %q out %v", tr.Config, tr.ID.Name, tr.Out)
	}

	tr, err = decode.Decode(b.recs, usbmon.LinkTypeMmapped, decode.Options{Driver: "ecm"})
	if err != nil {
		t.Fatal(err)
	}
	if tr.Driver != "cdc_ether" || tr.In.Address != 0x82 || tr.Out.Address != 0x03 {
		t.Errorf("ecm forced on a vendor device: %s in %v out %v", tr.Driver, tr.In, tr.Out)
	}
	found := false
	for _, a := range tr.Anomalies {
		found = found || strings.HasPrefix(a, "cdc_ether endpoints: CDC Ethernet function: ")
	}
	if !found {
		t.Errorf("no anomaly for the rejected endpoints: %q", tr.Anomalies)
	}
}

// TestNothingToSayIsNotSaid: a driver without the optional interfaces on a
// trace with no bulk or interrupt traffic gets no anomaly about them.
func TestNothingToSayIsNotSaid(t *testing.T) {
	dd, cfg := deviceDescriptors(512)
	var b builder
	b.control(getDevice, dd, 0)
	b.control(getConfig(uint16(len(cfg))), cfg, 0)
	tr, err := decode.Decode(b.recs, usbmon.LinkTypeMmapped, decode.Options{Driver: "bare", Drivers: []usbnet.Minidriver{bare{}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range tr.Anomalies {
		if strings.Contains(a, "unframing") || strings.Contains(a, "status decoding") {
			t.Errorf("anomaly about traffic the trace does not have: %q", a)
		}
	}
}
