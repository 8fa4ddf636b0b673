package netdev

import (
	"net"

	"dongle/skbuff"
)

// XmitResult is HardStartXmit's answer (netdev_tx_t).
type XmitResult int

const (
	// XmitOK (NETDEV_TX_OK, the article's "return 0"): the driver took the
	// buffer and now owns it. It must free it exactly once with
	// Free(skbuff.FreeWrite) when the hardware is done — or right away to
	// drop it under congestion (counting tx_dropped itself).
	XmitOK XmitResult = 0
	// XmitBusy (NETDEV_TX_BUSY, the article's "return 1" with tbusy set):
	// the driver cannot take the buffer now and did not touch it. The core
	// stops the queue (tbusy), puts the buffer back at the head of its band
	// and offers it again after WakeQueue.
	XmitBusy XmitResult = 1
)

func (r XmitResult) String() string {
	switch r {
	case XmitOK:
		return "XmitOK"
	case XmitBusy:
		return "XmitBusy"
	}
	return "XmitResult(?)"
}

// Ops are a driver's methods (struct net_device_ops). The core calls them
// on the control path with no core lock held, except HardStartXmit, which it
// calls from the transmit run loop, one buffer at a time (never
// concurrently with itself for one device).
type Ops interface {
	// Init runs once in Register (ndo_init) to check that the device is
	// present and set it up. An error makes Register fail: the device is not
	// created and its name is not taken.
	Init(d *Device) error
	// Open brings the hardware up (ndo_open); an error leaves the device
	// down.
	Open(d *Device) error
	// Stop brings it down (ndo_stop). The device is down afterwards even if
	// Stop fails.
	Stop(d *Device) error
	// HardStartXmit hands the driver one buffer holding a complete frame,
	// link header included (ndo_start_xmit). Its data is read-only; its
	// next/prev links are free for the driver's own skbuff.Queue. See
	// XmitOK and XmitBusy for the ownership rules. It must not block.
	HardStartXmit(b *skbuff.Buff, d *Device) XmitResult
	// SetMulticastList pushes the receive filter (d.Flags()'s Promisc and
	// AllMulti, d.MulticastList()) to the hardware (ndo_set_rx_mode). It is
	// called when the device is up and the filter changed, and on Open.
	SetMulticastList(d *Device)
	// GetStats returns the statistics to report (ndo_get_stats); most
	// drivers return d.Stats().
	GetStats(d *Device) *Stats
	// SetMACAddress programs a new hardware address (ndo_set_mac_address);
	// on success the core stores it.
	SetMACAddress(d *Device, addr net.HardwareAddr) error
	// ChangeMTU accepts or refuses a new MTU already checked against
	// MinMTU/MaxMTU (ndo_change_mtu); on success the core stores it.
	ChangeMTU(d *Device, mtu int) error
}

// BaseOps gives every method but HardStartXmit a do-nothing default, for
// drivers to embed: Init, Open, Stop, SetMACAddress and ChangeMTU succeed,
// SetMulticastList does nothing, GetStats returns d.Stats().
type BaseOps struct{}

func (BaseOps) Init(*Device) error                            { return nil }
func (BaseOps) Open(*Device) error                            { return nil }
func (BaseOps) Stop(*Device) error                            { return nil }
func (BaseOps) SetMulticastList(*Device)                      {}
func (BaseOps) GetStats(d *Device) *Stats                     { return d.Stats() }
func (BaseOps) SetMACAddress(*Device, net.HardwareAddr) error { return nil }
func (BaseOps) ChangeMTU(*Device, int) error                  { return nil }
