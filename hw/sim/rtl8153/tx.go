package rtl8153

import "encoding/binary"

// Out implements sim.Model: bulk OUT transfers carry frames to send, each
// behind an 8-byte tx_desc, each descriptor 4-byte aligned from the start
// of the transfer:
//
//	| opts1: TX_FS | TX_LS | len | opts2: checksum offload, VLAN | frame | pad to 4 | tx_desc | frame ...
//
// The chip reads the descriptors out of the byte stream as it arrives;
// a transfer boundary means nothing to it. r8152 relies on that: it sends
// no ZLP after an aggregate whose length is a multiple of wMaxPacketSize.
// The engine (as a USB device controller would) hands the model such an
// aggregate joined to the host's next transfer, and since the first is a
// whole number of packets, the second still starts 4-byte aligned.
func (m *Model) Out(ep uint8, data []byte) {
	if ep != EPBulkOut {
		return
	}
	m.mu.Lock()
	if m.host.Configuration() != 1 {
		m.mu.Unlock()
		return
	}
	tx := m.tx
	send := m.phy.link && m.txEnabledLocked()
	m.frames = m.frames[:0]
	off := 0
	for off < len(data) {
		off = (off + txAlign - 1) &^ (txAlign - 1)
		if off >= len(data) {
			break
		}
		rest := data[off:]
		if len(rest) < txDescLen {
			if !allZero(rest) {
				m.stats.TxShortDesc++
			}
			break
		}
		o1, o2 := binary.LittleEndian.Uint32(rest), binary.LittleEndian.Uint32(rest[4:])
		l := int(o1 & txLenMax)
		if o1 == 0 && o2 == 0 && allZero(rest) {
			break // zero fill at the end of the transfer
		}
		if l == 0 || l > maxJumboFrame {
			m.stats.TxBadLength++
			break // no length to step over: the rest is unreadable
		}
		if txDescLen+l > len(rest) {
			m.stats.TxTruncated++
			break
		}
		frame := rest[txDescLen : txDescLen+l]
		off += txDescLen + l
		switch {
		case o1&(txFS|txLS) != txFS|txLS:
			m.stats.TxNotWhole++
			continue
		case o1&(txGTSendV4|txGTSendV6) != 0:
			m.stats.TxTSO++
			continue
		case l < ethHeaderLen:
			m.stats.TxRunts++
			continue
		}
		if o2&(txTCPCS|txUDPCS) != 0 {
			if !fillChecksum(frame, o2) {
				m.stats.TxCsumBad++
				continue
			}
			m.stats.TxCsum++
		}
		m.frames = append(m.frames, frame)
	}
	m.tally.txErrors = m.stats.TxErrors()
	n := len(m.frames)
	if send {
		m.stats.TxFrames += uint64(n)
		m.tally.txPackets += uint64(n)
	} else {
		m.stats.TxDropped += uint64(n)
	}
	frames := m.frames
	m.mu.Unlock()
	if !send || tx == nil {
		return
	}
	// The frames point into data, valid for the whole call; Out calls for
	// one endpoint are serialised, so frames is not reused meanwhile.
	for _, f := range frames {
		tx.Send(f)
	}
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// fillChecksum is the TX checksum engine: with TCP_CS or UDP_CS the L4
// header starts at the transport offset in opts2 (TCPHO), and the chip
// writes the L4 checksum over the pseudo-header of the IPv4 (IPV4_CS) or
// IPv6 (IPV6_CS) packet. It reports false when the offset does not fit.
func fillChecksum(f []byte, o2 uint32) bool {
	tho := int(o2>>txTCPHOShift) & txTCPHOMax
	if tho < ethHeaderLen+20 || tho > len(f) {
		return false
	}
	ip, l4 := f[ethHeaderLen:tho], f[tho:]
	var pseudo uint32
	var proto uint8
	switch {
	case o2&txIPv4CS != 0 && ip[0]>>4 == 4:
		tot := int(binary.BigEndian.Uint16(ip[2:]))
		if ethHeaderLen+tot > len(f) || ethHeaderLen+tot < tho {
			return false
		}
		l4 = f[tho : ethHeaderLen+tot]
		proto = ip[9]
		pseudo = sum(ip[12:20], 0)
	case o2&txIPv6CS != 0 && len(ip) >= 40 && ip[0]>>4 == 6:
		proto = ip[6]
		pseudo = sum(ip[8:40], 0)
	default:
		return false
	}
	at := 16 // TCP
	if o2&txUDPCS != 0 {
		at = 6
	}
	if len(l4) < at+2 || (o2&txUDPCS != 0) != (proto == 17) {
		return false
	}
	pseudo += uint32(proto) + uint32(len(l4))
	l4[at], l4[at+1] = 0, 0
	c := ^fold(sum(l4, pseudo))
	if c == 0 && proto == 17 {
		c = 0xffff
	}
	binary.BigEndian.PutUint16(l4[at:], c)
	return true
}
