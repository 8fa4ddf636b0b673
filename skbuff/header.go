package skbuff

// Header offsets (skb->mac_header, network_header, transport_header) are
// kept relative to head, so they stay put while Push and Pull move data:
//
//	head       mac        network     transport            tail
//	 |          |-- eth --|--- ip ----|--- udp + payload ---|
//	                       ^ data after the link layer Pulled 14 bytes
//
// A header's slice runs from its offset to the next header that is set
// (mac → network → transport), or to tail for the last one; MACHeader stops
// at data when the link header has already been pulled and no network
// header is set yet.

// ResetMACHeader marks the current data position as the link header
// (skb_reset_mac_header).
func (b *Buff) ResetMACHeader() {
	b.live("ResetMACHeader")
	b.mac = b.data
}

// MACHeader is the link-layer header, or nil if none was marked
// (skb_mac_header).
func (b *Buff) MACHeader() []byte {
	b.live("MACHeader")
	if b.mac == noHeader {
		return nil
	}
	end := b.tail
	switch {
	case b.network != noHeader && b.network >= b.mac:
		end = b.network
	case b.data > b.mac:
		end = b.data
	}
	return b.c.mem[b.mac:end:end]
}

// SetNetworkHeader marks the network header at off bytes from the start of
// Data (skb_set_network_header). off may be negative (a pulled header) but
// must stay inside the buffer.
func (b *Buff) SetNetworkHeader(off int) {
	b.live("SetNetworkHeader")
	b.network = b.headerAt("SetNetworkHeader", off)
}

// NetworkHeader is the network header (and what follows, up to the
// transport header or tail), or nil if none was set.
func (b *Buff) NetworkHeader() []byte {
	b.live("NetworkHeader")
	if b.network == noHeader {
		return nil
	}
	end := b.tail
	if b.transpt != noHeader && b.transpt >= b.network {
		end = b.transpt
	}
	if end < b.network {
		end = b.network
	}
	return b.c.mem[b.network:end:end]
}

// SetTransportHeader marks the transport header at off bytes from the start
// of Data (skb_set_transport_header).
func (b *Buff) SetTransportHeader(off int) {
	b.live("SetTransportHeader")
	b.transpt = b.headerAt("SetTransportHeader", off)
}

// TransportHeader is the transport header and everything after it up to
// tail, or nil if none was set.
func (b *Buff) TransportHeader() []byte {
	b.live("TransportHeader")
	if b.transpt == noHeader {
		return nil
	}
	end := b.tail
	if end < b.transpt {
		end = b.transpt
	}
	return b.c.mem[b.transpt:end:end]
}

func (b *Buff) headerAt(op string, off int) int {
	at := b.data + off
	if at < 0 || at > b.tail {
		misuse(b, op, "header offset %d outside the buffer", off)
	}
	return at
}

// MACFrame is the frame from its link header to the end of the data
// (skb_mac_header up to tail): what a packet socket or a TAP is given. It
// is a view, read-only like the data of a clone: nothing is pushed, so a
// shared buffer can be read whole. Without a link header marked, or with
// one not before the data, it is Data.
func (b *Buff) MACFrame() []byte {
	b.live("MACFrame")
	if b.mac == noHeader || b.mac > b.data {
		return b.Data()
	}
	return b.c.mem[b.mac:b.tail:b.tail]
}
