package cdcecm

import (
	"context"
	"encoding/hex"
	"fmt"
	"net"

	"dongle/hw"
	"dongle/skbuff"
	"dongle/usbnet"
)

// Driver is the CDC Ethernet (ECM) minidriver: Linux's cdc_ether with
// cdc_info. The zero value is ready to use; it keeps per-device state in
// Dev.Priv.
type Driver struct{}

var _ usbnet.Minidriver = Driver{}

// New returns the minidriver.
func New() Driver { return Driver{} }

// state is the per-device state (Linux's struct cdc_state plus the
// EVENT_STS_SPLIT bit).
type state struct {
	fn Function
	// split holds a CONNECTION_SPEED_CHANGE whose 8 bytes of rates did not
	// fit the interrupt transfer that carried its header: have bytes of
	// the rates are in rates, the rest comes with the next transfer.
	split bool
	have  int
	rates [8]byte
	// filter is the last SET_ETHERNET_PACKET_FILTER wValue sent.
	filter uint16
}

// Name implements usbnet.Minidriver.
func (Driver) Name() string { return "cdc_ether" }

// IDs implements usbnet.Minidriver: any communication interface of the
// Ethernet subclass with no protocol (USB_INTERFACE_INFO(COMM, ETHERNET,
// PROTO_NONE)).
func (Driver) IDs() []usbnet.ID {
	return []usbnet.ID{{Class: ClassComm, SubClass: SubClassEthernet, Protocol: ProtoNone, Name: "CDC Ethernet"}}
}

// Flags implements usbnet.Minidriver. FlagSendZLP: gousb cannot ask libusb
// for a terminating ZLP, and the virtual lab showed that an ECM device
// holds a frame whose length is a multiple of wMaxPacketSize until a ZLP
// ends it. FlagLinkIntr: the carrier follows NETWORK_CONNECTION.
func (Driver) Flags() usbnet.Flags {
	return usbnet.FlagEthernet | usbnet.FlagLinkIntr | usbnet.FlagSendZLP
}

// Bind implements usbnet.Minidriver (usbnet_cdc_bind): validate the
// descriptors (Parse), read the MAC from iMACAddress, size the MTU from
// wMaxSegmentSize and pick the endpoints.
//
// The MAC string must be exactly 12 hex digits naming a unicast address,
// or Bind fails with ErrBadMAC, as Linux's usbnet_get_ethernet_addr does.
// dongle does not make up an address (FreeBSD does): a test harness should
// report the device's fault, not hide it behind a random address.
func (Driver) Bind(d *usbnet.Dev) error {
	fn, err := Parse(d.Config, d.Intf.Number)
	if err != nil {
		return fmt.Errorf("bad CDC descriptors: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), d.ControlTimeout)
	defer cancel()
	if fn.MACIndex == 0 {
		return fmt.Errorf("iMACAddress is 0 (no string): %w", ErrBadMAC)
	}
	s, err := hw.ReadString(ctx, d.HW, fn.MACIndex)
	if err != nil {
		return fmt.Errorf("reading iMACAddress: %w", err)
	}
	mac, err := ParseMAC(s)
	if err != nil {
		return fmt.Errorf("string %d: %w", fn.MACIndex, err)
	}
	d.Net.SetHardwareAddr(mac)
	d.In, d.Out, d.Status = fn.In, fn.Out, fn.Status
	d.CtrlIface, d.DataIface, d.DataAlt = int(fn.Control), int(fn.Data), int(fn.DataAlt)
	d.HardMTU = int(fn.MaxSegmentSize)
	d.RxURBSize = d.HardMTU
	d.Priv = &state{fn: *fn}
	if fn.Status.Address == 0 {
		// No usable notification endpoint: nothing will ever report the
		// link, so assume it is up.
		d.SetLink(true, 0)
	}
	return nil
}

// ParseMAC decodes an iMACAddress string: exactly 12 hex digits (either
// case) naming a unicast, non-zero address.
func ParseMAC(s string) (net.HardwareAddr, error) {
	if len(s) != 12 {
		return nil, fmt.Errorf("iMACAddress %q has %d characters: %w", s, len(s), ErrBadMAC)
	}
	b, err := hex.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("iMACAddress %q: %w", s, ErrBadMAC)
	}
	if b[0]&1 != 0 {
		return nil, fmt.Errorf("iMACAddress %q is a multicast address: %w", s, ErrBadMAC)
	}
	if [6]byte(b) == [6]byte{} {
		return nil, fmt.Errorf("iMACAddress %q is all zeros: %w", s, ErrBadMAC)
	}
	return net.HardwareAddr(b), nil
}

func priv(d *usbnet.Dev) *state { return d.Priv.(*state) }

// Unbind implements usbnet.Minidriver.
func (Driver) Unbind(d *usbnet.Dev) { d.Priv = nil }

// Reset implements usbnet.Minidriver: ECM has no chip to reset; a split
// notification from before the device was last stopped is forgotten.
func (Driver) Reset(d *usbnet.Dev) error {
	s := priv(d)
	s.split, s.have = false, 0
	return nil
}

// LinkReset implements usbnet.Minidriver: nothing to reprogram on ECM.
func (Driver) LinkReset(*usbnet.Dev) error { return nil }

// RxFixup implements usbnet.Minidriver: an ECM transfer is exactly one
// Ethernet frame without CRC, so b goes up as it is (no copy). An empty
// transfer is freed.
func (Driver) RxFixup(d *usbnet.Dev, b *skbuff.Buff, out *skbuff.Queue) error {
	if b.Len() == 0 {
		b.Free(skbuff.FreeRead)
		return nil
	}
	out.QueueTail(b)
	return nil
}

// TxFixup implements usbnet.Minidriver: ECM adds no framing; the ZLP rule
// is the framework's (FlagSendZLP).
func (Driver) TxFixup(*usbnet.Dev, *skbuff.Buff) error { return nil }
