package ax88179

import (
	"dongle/netdev"
	"dongle/usbnet"
)

// RxMode computes RX_CTL and, when the hash filter is used, the 8-byte
// MULFLTARY image for the netdev's flags and multicast list, as
// ax88179_set_multicast does: START|AB|IPE always; PRO for promiscuous;
// AMALL for all-multicast or more than 64 addresses; AM and the hash for a
// non-empty list; nothing more for an empty one.
func RxMode(flags netdev.Flags, mc [][]byte) (rxctl uint16, filter [8]byte, useHash bool) {
	rxctl = RxCtlStart | RxCtlBroadcast | RxCtlIPE
	switch {
	case flags&netdev.FlagPromisc != 0:
		rxctl |= RxCtlPromisc
	case flags&netdev.FlagAllMulti != 0 || len(mc) > maxMcast:
		rxctl |= RxCtlAllMulti
	case len(mc) == 0:
	default:
		filter = MulticastFilter(mc)
		rxctl |= RxCtlMulticast
		useHash = true
	}
	return rxctl, filter, useHash
}

// SetRxMode implements usbnet.Minidriver: the hash table first (when used),
// then RX_CTL.
func (dr *Driver) SetRxMode(d *usbnet.Dev) error {
	list := d.Net.MulticastList()
	mc := make([][]byte, len(list))
	for i, a := range list {
		mc[i] = a
	}
	rxctl, f, hash := RxMode(d.Net.Flags(), mc)
	if hash {
		if err := WriteMAC(d, RegMulticast, f[:]); err != nil {
			return err
		}
	}
	if err := WriteMAC16(d, RegRxCtl, rxctl); err != nil {
		return err
	}
	if p := privOf(d); p != nil {
		p.rxctl.Store(uint32(rxctl))
	}
	return nil
}
