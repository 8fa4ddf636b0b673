package usbnet

import (
	"errors"
	"fmt"

	"dongle/netdev"
)

// MTUChanger is implemented by minidrivers whose chip must be reprogrammed
// for a new MTU (the AX88178: RX buffer size and jumbo enable). Linux's
// driver_info has no such hook; asix and ax88179_178a install their own
// net_device_ops.ndo_change_mtu (ax88178_change_mtu) instead of
// usbnet_change_mtu. Additive extension of Minidriver, like MACSetter: a
// driver without it gets the framework's bounds check only.
//
// ChangeMTU runs on the control path (netdev's control lock held, the
// interface down, so no transfer is in flight and no goroutine of the
// device runs). It may perform control transfers and update d.RxURBSize
// and its own RX/TX framing limits; the next Open allocates RX buffers of
// the new d.RxURBSize. mtu has passed the framework's checks; the netdev
// still holds the old MTU and stores mtu only if ChangeMTU returns nil, so
// on error the driver must leave its state for the old one.
type MTUChanger interface {
	ChangeMTU(d *Dev, mtu int) error
}

// ErrBusy is wrapped by ChangeMTU when a minidriver that reprograms the
// chip for a new MTU is asked to do it while the interface is up (Linux's
// EBUSY).
var ErrBusy = errors.New("device busy: set the interface down first")

// ChangeMTU is ndo_change_mtu (usbnet_change_mtu): the MTU may not exceed
// what the device takes (HardMTU less the link header). Linux also refuses
// an MTU whose frames are an exact multiple of wMaxPacketSize (EDOM),
// because the ZLP after such a frame would arrive as a second, empty
// read; dongle's RX path recognises that empty read (Counters.RxZLPs) and
// needs no such rule.
//
// Then a minidriver implementing MTUChanger reprograms the chip. It is
// only asked while the interface is down; while it is up ChangeMTU fails
// with ErrBusy and nothing changes. Linux instead unlinks the RX URBs
// (usbnet_unlink_rx_urbs) and lets rx_submit resubmit them at the new
// rx_urb_size. Here that is not safe without a second RX restart machine:
//
//	open ──► RX slots: skb of RxURBSize each ──► in flight
//	bottom half: rxFrame reads d.RxURBSize for the slot's next buffer,
//	             RxFixup reads the driver's deframer limits (no lock:
//	             the per-packet path takes none of the control path's)
//
// A live change would have to cancel every RX transfer, wait for
// rxInFlight to reach 0 (as the halt recovery does), drop any partial
// frame the deframer carries, swap the sizes under d.mu and resubmit;
// and the TX limits TxFixup reads would have to become atomic. Down, the
// device's goroutines have exited (Stop waited for them) and Open starts
// new ones after the change, so plain fields are safe. Drivers without the
// hook (cdc_ether, ax88179_178a, which applies the MTU at its next link
// reset) keep changing the MTU while up.
//
// When the driver changed RxURBSize and RxURBs still holds the length
// open chose for the old size (RxQueueLen), RxURBs follows the new size,
// as usbnet_change_mtu calls usbnet_update_max_qlen; an RxURBs the user
// set is kept.
func (d *Dev) ChangeMTU(nd *netdev.Device, mtu int) error {
	switch {
	case mtu < 68 && d.Driver.Flags()&FlagEthernet != 0:
		return fmt.Errorf("usbnet: %s: MTU %d below the Ethernet minimum 68", d.Name(), mtu)
	case mtu+EthHeaderLen > d.HardMTU:
		return fmt.Errorf("usbnet: %s: MTU %d above the device's %d", d.Name(), mtu, d.HardMTU-EthHeaderLen)
	}
	mc, ok := d.Driver.(MTUChanger)
	if !ok {
		return nil
	}
	d.mu.Lock()
	down := d.state == stateDown
	d.mu.Unlock()
	if !down {
		return fmt.Errorf("usbnet: %s: MTU %d: %w", d.Name(), mtu, ErrBusy)
	}
	oldSize := d.RxURBSize
	d.ctl.Lock()
	err := mc.ChangeMTU(d, mtu)
	d.ctl.Unlock()
	if err != nil {
		return fmt.Errorf("usbnet: %s: MTU %d: %w", d.Name(), mtu, err)
	}
	// usbnet_update_max_qlen: open fixes RxURBs at RxQueueLen(RxURBSize)
	// the first time and keeps it, so a new RX buffer size needs a new
	// queue length here (AX88178 at MTU 9000: 16 x 16 KiB, not 128). A
	// length the user chose (anything but the old default) is kept.
	if d.RxURBSize != oldSize && d.RxURBs == RxQueueLen(oldSize) {
		d.RxURBs = RxQueueLen(d.RxURBSize)
	}
	return nil
}
