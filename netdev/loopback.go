package netdev

import "dongle/skbuff"

// Loopback returns a new, unregistered loopback device named "lo"
// (drivers/net/loopback.c): FlagLoopback (it is the only driver allowed
// it), a 64 KiB MTU, and a transmit path that turns every frame into a
// received one on the same device. Register it, Open it, and frames sent
// with Xmit arrive at its handlers.
func Loopback() *Device {
	d := New("lo", loopbackOps{})
	d.loopback = true
	d.mtu.Store(65536)
	d.MinMTU, d.MaxMTU = 0, 65536
	d.TxQueueLen = 1000
	d.HardHeaderLen = EthHeaderLen
	d.SetHardwareAddr(make([]byte, EthAddrLen))
	d.setFlags(FlagLoopback, 0)
	return d
}

type loopbackOps struct{ BaseOps }

var _ Ops = loopbackOps{}

// HardStartXmit is loopback_xmit: count the frame both ways, classify it
// with EthTypeTrans and hand it to Rx. Ownership passes to Rx, which frees
// it if it cannot queue it. A frame too short for an Ethernet header is
// freed and counted as rx_length_errors.
func (loopbackOps) HardStartXmit(b *skbuff.Buff, d *Device) XmitResult {
	n := uint64(b.Len())
	d.stats.TxBytes.Add(n)
	d.stats.TxPackets.Add(1)
	if _, err := EthTypeTrans(b, d); err != nil {
		d.stats.RxErrors.Add(1)
		d.stats.RxLengthErrors.Add(1)
		b.Free(skbuff.FreeWrite)
		return XmitOK
	}
	d.stats.RxBytes.Add(n)
	d.stats.RxPackets.Add(1)
	d.Rx(b)
	return XmitOK
}
