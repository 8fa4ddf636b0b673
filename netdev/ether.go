package netdev

import (
	"bytes"
	"encoding/binary"
	"net"

	"dongle/skbuff"
)

// Ethernet constants.
const (
	EthHeaderLen = 14     // ETH_HLEN
	EthAddrLen   = 6      // ETH_ALEN
	EthMinMTU    = 68     // ETH_MIN_MTU
	EthDataLen   = 1500   // ETH_DATA_LEN
	EthP8023     = 0x0001 // ETH_P_802_3: a length field, no LLC
	EthP8022     = 0x0004 // ETH_P_802_2: a length field with LLC
	ethP8023Min  = 0x0600 // ETH_P_802_3_MIN: smaller type fields are lengths
)

var ethBroadcast = net.HardwareAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}

// EtherSetup gives d Ethernet defaults (ether_setup): MTU 1500 (68..1500),
// TxQueueLen 100 (the article's "around 100 for Ethernet"), BROADCAST and
// MULTICAST, a 14-byte link header, a 6-byte hardware address (zero until
// the driver sets it) and the broadcast address ff:ff:ff:ff:ff:ff.
func EtherSetup(d *Device) {
	d.mtu.Store(EthDataLen)
	d.MinMTU, d.MaxMTU = EthMinMTU, EthDataLen
	d.TxQueueLen = 100
	d.HardHeaderLen = EthHeaderLen
	d.setFlags(FlagBroadcast|FlagMulticast, FlagPointToPoint)
	if d.addr.Load() == nil {
		d.SetHardwareAddr(make(net.HardwareAddr, EthAddrLen))
	}
	d.SetBroadcastAddr(ethBroadcast)
}

// PointToPointSetup gives d serial-link defaults (as slip/ppp setup do):
// TxQueueLen 10 (the article's "10 for serial lines"), POINTOPOINT, NOARP
// and MULTICAST, no broadcast address and no link header. The remote end's
// address is set with SetDestAddr.
func PointToPointSetup(d *Device) {
	d.mtu.Store(EthDataLen)
	d.MinMTU, d.MaxMTU = EthMinMTU, 65535
	d.TxQueueLen = 10
	d.HardHeaderLen = 0
	d.bcast.Store(nil)
	d.setFlags(FlagPointToPoint|FlagNoARP|FlagMulticast, FlagBroadcast)
}

// EthTypeTrans marks b's Ethernet header, pulls it, and sets b.Protocol
// and b.PktType from it (eth_type_trans), returning the protocol. A type
// field below 0x600 is an 802.3 length: Protocol becomes EthP8022 if an LLC
// header follows (else EthP8023). A frame shorter than the header is
// reported as ErrShortFrame (wrapped, naming d) and b is left unchanged.
func EthTypeTrans(b *skbuff.Buff, d *Device) (uint16, error) {
	if b.Len() < EthHeaderLen {
		return 0, d.errShort
	}
	b.ResetMACHeader()
	eth := b.Pull(EthHeaderLen)
	dst := eth[0:6]
	switch {
	case dst[0]&1 != 0 && bytes.Equal(dst, ethBroadcast):
		b.PktType = skbuff.PacketBroadcast
	case dst[0]&1 != 0:
		b.PktType = skbuff.PacketMulticast
	default:
		b.PktType = skbuff.PacketHost
		if p := d.addr.Load(); p != nil && !bytes.Equal(dst, *p) {
			b.PktType = skbuff.PacketOtherHost
		}
	}
	proto := binary.BigEndian.Uint16(eth[12:14])
	if proto < ethP8023Min {
		proto = EthP8022
		if data := b.Data(); len(data) >= 2 && data[0] == 0xff && data[1] == 0xff {
			proto = EthP8023 // raw 802.3 (Novell)
		}
	}
	b.Protocol = proto
	b.SetNetworkHeader(0)
	return proto, nil
}
