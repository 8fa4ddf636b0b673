package usbnet

import (
	"fmt"
	"net"

	"dongle/netdev"
)

var _ netdev.Ops = (*Dev)(nil)

// Init is ndo_init: nothing to do, Probe has bound the device already.
func (d *Dev) Init(*netdev.Device) error { return nil }

// Open is ndo_open (usbnet_open).
func (d *Dev) Open(*netdev.Device) error { return d.open() }

// Stop is ndo_stop (usbnet_stop).
func (d *Dev) Stop(*netdev.Device) error { return d.stop() }

// SetMulticastList is ndo_set_rx_mode: it runs the minidriver's SetRxMode
// (control transfers) right here, on the caller's control path — netdev
// calls it with none of its data-path locks held — serialised with the
// kevent worker by d.ctl, which the data path never takes. So a filter
// change has reached the device when ChangeFlags, SetPromisc or
// AddMulticast returns. While the device is down or gone it does nothing:
// Open pushes the filter.
func (d *Dev) SetMulticastList(*netdev.Device) {
	d.mu.Lock()
	running := d.runningLocked()
	d.mu.Unlock()
	if !running {
		return
	}
	d.ctl.Lock()
	defer d.ctl.Unlock()
	if err := d.Driver.SetRxMode(d); err != nil {
		d.counters.RxModeErrors.Add(1)
	}
}

// GetStats is ndo_get_stats: the netdev's own counters, which usbnet
// updates in place.
func (d *Dev) GetStats(nd *netdev.Device) *netdev.Stats { return nd.Stats() }

// MACSetter is implemented by minidrivers whose chip holds its own station
// address (ASIX's WRITE_NODE_ID). Additive extension of Minidriver: a
// driver without it (cdc_ether) gets Linux's eth_mac_addr behaviour, the
// address changing in software only.
type MACSetter interface {
	SetMAC(d *Dev, addr net.HardwareAddr) error
}

// SetMACAddress is ndo_set_mac_address.
func (d *Dev) SetMACAddress(nd *netdev.Device, addr net.HardwareAddr) error {
	if len(addr) != 6 || addr[0]&1 != 0 || isZero(addr) {
		return fmt.Errorf("usbnet: %s: set MAC address %v: not a valid unicast Ethernet address", d.Name(), addr)
	}
	if ms, ok := d.Driver.(MACSetter); ok {
		if err := ms.SetMAC(d, addr); err != nil {
			return fmt.Errorf("usbnet: %s: set MAC address %v: %w", d.Name(), addr, err)
		}
	}
	nd.SetHardwareAddr(addr)
	return nil
}

func isZero(a net.HardwareAddr) bool {
	for _, b := range a {
		if b != 0 {
			return false
		}
	}
	return true
}

// SetLink is usbnet_link_change: carrier on or off and, when known
// (speedMbps > 0), the link speed. A transition to up schedules the
// minidriver's LinkReset on the kevent worker. Minidrivers call it from
// Status (or Reset, for PHYs polled on open). Safe from any goroutine; it
// takes no lock of the data path.
func (d *Dev) SetLink(up bool, speedMbps int) { d.LinkChange(up, speedMbps, false) }

// LinkChange is usbnet_link_change. With needReset (ASIX, AX88179: the chip
// must be reprogrammed for the new link's speed and duplex) the carrier comes
// on only once LinkReset has done that, so no frame is offered to, or
// expected from, a chip still set up for the old link; without it (CDC-ECM)
// the carrier comes on at once and LinkReset still runs.
func (d *Dev) LinkChange(up bool, speedMbps int, needReset bool) {
	d.linkMu.Lock()
	defer d.linkMu.Unlock()
	if !up {
		d.linkDowns++
		d.linkUpPending.Store(false)
		d.Net.CarrierOff()
		return
	}
	if d.gone.Load() {
		return
	}
	if speedMbps > 0 {
		d.Net.SetSpeed(speedMbps)
	}
	if d.Net.Carrier() {
		return
	}
	if !needReset {
		d.Net.CarrierOn()
		d.defer_(evLinkReset)
		return
	}
	if d.linkUpPending.CompareAndSwap(false, true) {
		d.defer_(evLinkReset)
	}
}

// RxMode is the receive filter the stack asks for, in the terms a
// minidriver's SetRxMode needs, so minidrivers need not import netdev.
// (Additive to the usbnet API: announced for the minidriver engineers.)
type RxMode struct {
	Promisc   bool               // IFF_PROMISC
	AllMulti  bool               // IFF_ALLMULTI
	Multicast []net.HardwareAddr // the multicast list (dev->mc), a copy
}

// RxMode reads the netdev's PROMISC/ALLMULTI flags and multicast list.
func (d *Dev) RxMode() RxMode {
	f := d.Net.Flags()
	return RxMode{
		Promisc:   f&netdev.FlagPromisc != 0,
		AllMulti:  f&netdev.FlagAllMulti != 0,
		Multicast: d.Net.MulticastList(),
	}
}
