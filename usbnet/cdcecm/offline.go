package cdcecm

import (
	"encoding/binary"
	"fmt"
	"net"
	"strings"

	"dongle/hw"
	"dongle/usbnet"
)

// What cdc_ether knows about its traffic without a bound device (see
// usbnet/offline.go): ECM frames are the transfers themselves.
var (
	_ usbnet.Unframer        = Driver{}
	_ usbnet.StatusDescriber = Driver{}
	_ usbnet.RequestNamer    = Driver{}
	_ usbnet.MACLocator      = Driver{}
	_ usbnet.EndpointLocator = Driver{}
	_ usbnet.Diagnoser       = Driver{}
)

type rxUnframer struct{}

// Rx: one transfer is one frame (an empty one is none); a frame the
// capture cut is still a frame, with its real length.
func (rxUnframer) Rx(p []byte, length int, emit usbnet.EmitFunc) (bool, error) {
	if length > 0 {
		emit(p, length)
	}
	return false, nil
}

// Close implements usbnet.RxUnframer: nothing is held between transfers.
func (rxUnframer) Close() {}

// RxUnframer implements usbnet.Unframer.
func (Driver) RxUnframer(*usbnet.Capture) usbnet.RxUnframer { return rxUnframer{} }

// UnframeTx implements usbnet.Unframer: the transfer is the frame (the
// 0x00 byte usbnet appends to a frame whose length is a multiple of
// wMaxPacketSize, cdc_ether having no FLAG_SEND_ZLP, is the framework's:
// usbnet.Unpad removes it before this is called).
func (Driver) UnframeTx(_ *usbnet.Capture, p []byte, length int, emit usbnet.EmitFunc) error {
	emit(p, length)
	return nil
}

// DescribeStatus implements usbnet.StatusDescriber: NETWORK_CONNECTION
// gives the link, CONNECTION_SPEED_CHANGE the speed (a speed change split
// across transfers tells nothing until its rates arrive, which a stateless
// reader cannot join: it is skipped).
func (Driver) DescribeStatus(p []byte) (usbnet.LinkEvent, error) {
	if len(p) < NotificationLen || p[0] != notifyRequestType {
		return usbnet.LinkEvent{}, fmt.Errorf("not a CDC notification (% x): %w", p, ErrNotification)
	}
	switch p[1] {
	case NotifyNetworkConnection:
		return usbnet.LinkEvent{HasLink: true, Up: binary.LittleEndian.Uint16(p[2:]) != 0}, nil
	case NotifySpeedChange:
		if len(p) < NotificationLen+8 {
			return usbnet.LinkEvent{}, nil
		}
		return usbnet.LinkEvent{Mbps: int(binary.LittleEndian.Uint32(p[8:]) / 1000000)}, nil
	}
	return usbnet.LinkEvent{}, nil
}

// Class requests of CDC (CDC 1.2 table 19, ECM 1.2 table 6); NCM's
// GET_NTB_PARAMETERS is named too, so that a trace of a device that also
// offers NCM reads well.
var classRequests = map[uint8]string{
	0x00: "SEND_ENCAPSULATED_COMMAND", 0x01: "GET_ENCAPSULATED_RESPONSE",
	ReqSetEthernetMulticastFilters: "SET_ETHERNET_MULTICAST_FILTERS",
	0x41:                           "SET_ETHERNET_POWER_MANAGEMENT_PATTERN_FILTER", 0x42: "GET_ETHERNET_POWER_MANAGEMENT_PATTERN_FILTER",
	ReqSetEthernetPacketFilter: "SET_ETHERNET_PACKET_FILTER", 0x44: "GET_ETHERNET_STATISTIC",
	0x80: "GET_NTB_PARAMETERS",
}

// RequestName implements usbnet.RequestNamer for CDC class requests:
// "SET_ETHERNET_PACKET_FILTER(DIRECTED|BROADCAST)".
func (Driver) RequestName(s hw.Setup) (string, bool) {
	if s.RequestType&0x60 != hw.TypeClass {
		return "", false
	}
	n, ok := classRequests[s.Request]
	if !ok {
		return "", false
	}
	switch s.Request {
	case ReqSetEthernetPacketFilter:
		return n + "(" + FilterBits(s.Value) + ")", true
	case ReqSetEthernetMulticastFilters:
		return fmt.Sprintf("%s(%d addresses)", n, s.Value), true
	}
	return n, true
}

// FilterBits names the bits of SET_ETHERNET_PACKET_FILTER's wValue:
// "DIRECTED|BROADCAST".
func FilterBits(v uint16) string {
	names := []string{"PROMISCUOUS", "ALL_MULTICAST", "DIRECTED", "BROADCAST", "MULTICAST"}
	var out []string
	for i, n := range names {
		if v&(1<<i) != 0 {
			out = append(out, n)
		}
	}
	if rest := v &^ 0x1f; rest != 0 {
		out = append(out, fmt.Sprintf("%#x", rest))
	}
	if len(out) == 0 {
		return "none"
	}
	return strings.Join(out, "|")
}

// TraceMAC implements usbnet.MACLocator: the iMACAddress string, as Bind
// reads it.
func (Driver) TraceMAC(c *usbnet.Capture) (net.HardwareAddr, error) {
	if c.Config == nil {
		return nil, nil
	}
	fn, err := Parse(c.Config, c.Intf)
	if err != nil {
		return nil, fmt.Errorf("CDC Ethernet function: %w", err)
	}
	s, ok := c.Strings[fn.MACIndex]
	if !ok {
		return nil, fmt.Errorf("iMACAddress (string %d) was not read: %w", fn.MACIndex, usbnet.ErrNotCaptured)
	}
	return ParseMAC(s)
}

// TraceEndpoints implements usbnet.EndpointLocator: the CDC function's
// own endpoints (Parse), not whatever bulk pair comes first.
func (Driver) TraceEndpoints(cfg *hw.Config, intf uint8) (usbnet.Endpoints, error) {
	fn, err := Parse(cfg, intf)
	if err != nil {
		return usbnet.Endpoints{}, fmt.Errorf("CDC Ethernet function: %w", err)
	}
	return usbnet.Endpoints{In: fn.In, Out: fn.Out, Status: fn.Status,
		CtrlIface: int(fn.Control), DataIface: int(fn.Data), DataAlt: int(fn.DataAlt)}, nil
}

// Diagnose implements usbnet.Diagnoser: ECM exposes no registers; the
// link is what the notifications said.
func (Driver) Diagnose(*usbnet.Dev) *usbnet.Diagnosis {
	return &usbnet.Diagnosis{PHY: []string{"CDC Ethernet exposes no PHY or MAC registers (link state comes from NETWORK_CONNECTION notifications)"}}
}
