package cdcecm

import (
	"fmt"

	"dongle/hw"
	"dongle/usbnet"
)

// Class requests (CDC ECM 1.2 §6.2).
const (
	ReqSetEthernetMulticastFilters = 0x40 // SET_ETHERNET_MULTICAST_FILTERS
	ReqSetEthernetPacketFilter     = 0x43 // SET_ETHERNET_PACKET_FILTER
)

// Packet filter bits (wValue of SET_ETHERNET_PACKET_FILTER).
const (
	FilterPromiscuous  uint16 = 1 << 0
	FilterAllMulticast uint16 = 1 << 1
	FilterDirected     uint16 = 1 << 2
	FilterBroadcast    uint16 = 1 << 3
	FilterMulticast    uint16 = 1 << 4
)

// reqClassOut is bmRequestType 0x21: class, interface, host to device.
const reqClassOut = hw.DirOut | hw.TypeClass | hw.RecipInterface

// PacketFilter computes SET_ETHERNET_PACKET_FILTER's wValue the way Linux's
// usbnet_cdc_update_filter does: DIRECTED|BROADCAST always, PROMISCUOUS
// with IFF_PROMISC, ALL_MULTICAST with IFF_ALLMULTI or any multicast
// address — except that when the device has multicast filters
// (wNumberMCFilters > 0) and the whole list fits them (mcProgrammed), the
// list is programmed and MULTICAST is set instead of ALL_MULTICAST.
func PacketFilter(m usbnet.RxMode, mcProgrammed bool) uint16 {
	f := FilterDirected | FilterBroadcast
	if m.Promisc {
		f |= FilterPromiscuous
	}
	switch {
	case m.AllMulti:
		f |= FilterAllMulticast
	case len(m.Multicast) > 0 && mcProgrammed:
		f |= FilterMulticast
	case len(m.Multicast) > 0:
		f |= FilterAllMulticast
	}
	return f
}

// SetRxMode implements usbnet.Minidriver. With a multicast list that fits
// the device's wNumberMCFilters (and no ALLMULTI), it sends
// SET_ETHERNET_MULTICAST_FILTERS (N×6 bytes, wValue N) first; if the device
// refuses that, or the list does not fit, it falls back to ALL_MULTICAST.
// Then it sends SET_ETHERNET_PACKET_FILTER, wIndex the control interface.
func (Driver) SetRxMode(d *usbnet.Dev) error {
	s := priv(d)
	m := d.RxMode()
	programmed := false
	if !m.AllMulti && len(m.Multicast) > 0 && int(s.fn.NumMCFilters) >= len(m.Multicast) {
		buf := make([]byte, 0, 6*len(m.Multicast))
		for _, a := range m.Multicast {
			buf = append(buf, a...)
		}
		err := d.ControlOut(reqClassOut, ReqSetEthernetMulticastFilters, uint16(len(m.Multicast)), uint16(s.fn.Control), buf)
		programmed = err == nil
	}
	f := PacketFilter(m, programmed)
	if err := d.ControlOut(reqClassOut, ReqSetEthernetPacketFilter, f, uint16(s.fn.Control), nil); err != nil {
		return fmt.Errorf("SET_ETHERNET_PACKET_FILTER %#04x: %w", f, err)
	}
	s.filter = f
	return nil
}
