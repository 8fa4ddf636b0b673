package netdev

import (
	"math/rand/v2"

	"dongle/skbuff"
)

// Dummy returns a new, unregistered dummy device named "dummy%d"
// (drivers/net/dummy.c): an Ethernet device with a random locally
// administered address and NOARP, whose transmit counts the frame and frees
// it — the article's device that "cannot transmit".
func Dummy() *Device {
	d := New("dummy%d", dummyOps{})
	EtherSetup(d)
	d.MaxMTU = 65535
	addr := make([]byte, EthAddrLen)
	v := rand.Uint64()
	for i := range addr {
		addr[i] = byte(v >> (8 * i))
	}
	addr[0] = addr[0]&^1 | 2 // unicast, locally administered
	d.SetHardwareAddr(addr)
	d.setFlags(FlagNoARP, FlagMulticast)
	return d
}

type dummyOps struct{ BaseOps }

var _ Ops = dummyOps{}

// HardStartXmit counts b and frees it: dev_kfree_skb(skb, FREE_WRITE)
// and "return 0".
func (dummyOps) HardStartXmit(b *skbuff.Buff, d *Device) XmitResult {
	d.stats.TxBytes.Add(uint64(b.Len()))
	d.stats.TxPackets.Add(1)
	b.Free(skbuff.FreeWrite)
	return XmitOK
}
