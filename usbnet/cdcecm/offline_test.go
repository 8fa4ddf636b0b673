package cdcecm_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"

	"dongle/hw"
	"dongle/usbnet"
	"dongle/usbnet/cdcecm"
)

func TestOfflineUnframeTxPadByte(t *testing.T) {
	c := &usbnet.Capture{Out: hw.EndpointDesc{MaxPacketSize: 64}}
	type got struct {
		data []byte
		n    int
	}
	run := func(p []byte, length int) got {
		var g got
		if err := (cdcecm.Driver{}).UnframeTx(c, p, length, func(d []byte, n int) { g = got{append([]byte(nil), d...), n} }); err != nil {
			t.Fatal(err)
		}
		return g
	}
	// The transfer is the frame: usbnet's pad is the framework's, and
	// usbnet.Unpad removes it before UnframeTx (a second strip here would
	// eat a real byte).
	f := bytes.Repeat([]byte{0xab}, 128)
	if g := run(f, len(f)); g.n != 128 || !bytes.Equal(g.data, f) {
		t.Errorf("128 bytes: %d", g.n)
	}
	padded := append(append([]byte(nil), f...), 0)
	if g := run(padded, len(padded)); g.n != 129 || !bytes.Equal(g.data, padded) {
		t.Errorf("129 bytes ending in 0: %d", g.n)
	}
	if g := run(padded[:40], len(padded)); g.n != 129 || len(g.data) != 40 {
		t.Errorf("cut: %d/%d", len(g.data), g.n)
	}
	u := (cdcecm.Driver{}).RxUnframer(c)
	n := 0
	if lost, err := u.Rx(nil, 0, func([]byte, int) { n++ }); lost || err != nil || n != 0 {
		t.Errorf("empty transfer: %v %v %d", lost, err, n)
	}
	if lost, err := u.Rx(f[:10], 128, func(d []byte, l int) { n++; _ = d }); lost || err != nil || n != 1 {
		t.Errorf("cut frame: %v %v %d", lost, err, n)
	}
}

func TestOfflineDescribeStatus(t *testing.T) {
	conn := func(v uint16) []byte {
		return []byte{0xa1, cdcecm.NotifyNetworkConnection, byte(v), byte(v >> 8), 0, 0, 0, 0}
	}
	speed := binary.LittleEndian.AppendUint32(binary.LittleEndian.AppendUint32([]byte{0xa1, cdcecm.NotifySpeedChange, 0, 0, 0, 0, 8, 0}, 425984000), 425984000)
	for _, c := range []struct {
		name string
		p    []byte
		want usbnet.LinkEvent
	}{
		{"connected", conn(1), usbnet.LinkEvent{HasLink: true, Up: true}},
		{"disconnected", conn(0), usbnet.LinkEvent{HasLink: true}},
		{"speed", speed, usbnet.LinkEvent{Mbps: 425}},
		{"split speed header", speed[:8], usbnet.LinkEvent{}},
		{"response available", []byte{0xa1, cdcecm.NotifyResponseAvailable, 0, 0, 0, 0, 0, 0}, usbnet.LinkEvent{}},
	} {
		ev, err := (cdcecm.Driver{}).DescribeStatus(c.p)
		if err != nil || ev != c.want {
			t.Errorf("%s: %+v %v, want %+v", c.name, ev, err, c.want)
		}
	}
	for _, p := range [][]byte{{0xa1, 0, 1}, {0x21, 0, 1, 0, 0, 0, 0, 0}} {
		if _, err := (cdcecm.Driver{}).DescribeStatus(p); !errors.Is(err, cdcecm.ErrNotification) {
			t.Errorf("% x: %v", p, err)
		}
	}
}

func TestOfflineRequestNames(t *testing.T) {
	out := uint8(hw.DirOut | hw.TypeClass | hw.RecipInterface)
	for s, want := range map[hw.Setup]string{
		{RequestType: out, Request: cdcecm.ReqSetEthernetPacketFilter, Value: 0x0c}:  "SET_ETHERNET_PACKET_FILTER(DIRECTED|BROADCAST)",
		{RequestType: out, Request: cdcecm.ReqSetEthernetMulticastFilters, Value: 3}: "SET_ETHERNET_MULTICAST_FILTERS(3 addresses)",
		{RequestType: out | hw.DirIn, Request: 0x44}:                                 "GET_ETHERNET_STATISTIC",
	} {
		if got, ok := (cdcecm.Driver{}).RequestName(s); !ok || got != want {
			t.Errorf("%v: %q, want %q", s, got, want)
		}
	}
	if _, ok := (cdcecm.Driver{}).RequestName(hw.Setup{RequestType: hw.DirOut | hw.TypeVendor, Request: cdcecm.ReqSetEthernetPacketFilter}); ok {
		t.Error("vendor request named as a CDC class request")
	}
}

func TestDescribeDescriptor(t *testing.T) {
	str := func(i uint8) string {
		if i == 3 {
			return "525400123456"
		}
		return "nonsense"
	}
	eth := func(mac uint8, seg uint16) []byte {
		return []byte{13, hw.DescCSInterface, cdcecm.SubtypeEthernet, mac, 0, 0, 0, 0, byte(seg), byte(seg >> 8), 0, 0, 0}
	}
	for _, c := range []struct {
		name     string
		d        []byte
		text     string
		problems int
		ok       bool
	}{
		{"header", []byte{5, hw.DescCSInterface, cdcecm.SubtypeHeader, 0x10, 0x01}, "CDC Header: bcdCDC 1.10", 0, true},
		{"union", []byte{6, hw.DescCSInterface, cdcecm.SubtypeUnion, 0, 1, 2}, "CDC Union: master interface 0, slave interface(s) 1,2", 0, true},
		{"ethernet", eth(3, 1514), `CDC Ethernet: iMACAddress 3 "525400123456", bmEthernetStatistics 0x00000000, wMaxSegmentSize 1514, wNumberMCFilters 0x0000, bNumberPowerFilters 0`, 0, true},
		{"bad MAC, tiny segment", eth(4, 20), `CDC Ethernet: iMACAddress 4 "nonsense" (INVALID), bmEthernetStatistics 0x00000000, wMaxSegmentSize 20, wNumberMCFilters 0x0000, bNumberPowerFilters 0`, 2, true},
		{"short ethernet", eth(3, 1514)[:8], "CDC Ethernet functional descriptor, 8 bytes", 1, true},
		{"short call management", []byte{3, hw.DescCSInterface, 0x01}, "CDC subtype 0x01, 3 bytes", 0, true},
		{"NCM: cdc_ncm's to describe", []byte{6, hw.DescCSInterface, 0x1a, 0, 1, 0}, "", 0, false},
		{"not class-specific", []byte{7, hw.DescEndpoint, 0x81, 3, 8, 0, 1}, "", 0, false},
	} {
		text, problems, ok := (cdcecm.Driver{}).DescribeDescriptor(c.d, str)
		if text != c.text || len(problems) != c.problems || ok != c.ok {
			t.Errorf("%s: %q %q %v", c.name, text, problems, ok)
		}
	}
}
