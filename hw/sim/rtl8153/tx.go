package rtl8153

import "encoding/binary"

// Out implements sim.Model for a whole device-side transfer. The engine
// calls StreamOut instead (the model is a sim.OutStreamer); Out is what a
// caller with whole transfers uses.
func (m *Model) Out(ep uint8, data []byte) { m.StreamOut(ep, data, true) }

// StreamOut implements sim.OutStreamer: bulk OUT transfers carry frames to
// send, each behind an 8-byte tx_desc, each descriptor 4-byte aligned from
// the start of the transfer:
//
//	| opts1: TX_FS | TX_LS | len | opts2: checksum offload, VLAN | frame | pad to 4 | tx_desc | frame ...
//
// The chip reads the descriptors out of the byte stream as its packets
// arrive and sends a frame once all of it is in; a transfer boundary means
// nothing to it. r8152 relies on that: it sends no ZLP after an aggregate
// whose length is a multiple of wMaxPacketSize, and expects the frames of
// that aggregate on the wire at once, not when its next transfer ends the
// device-side one. A model that waited for the short packet would hold a
// burst's last aggregate until the host sent again.
//
// So the model takes every descriptor whose frame is whole, and returns the
// offset of the first it cannot decide on yet: a descriptor or frame cut
// by the end of the data, zero fill, or a length it cannot step over
// (whose rest of the transfer is unreadable). The engine holds those bytes
// and hands them back, followed by the host's next packets, until the
// device-side transfer ends (end: a short packet or ZLP); then what is
// still undecided is counted (TxShortDesc, TxBadLength, TxTruncated) and
// dropped. The held bytes start 4-aligned: a transfer that does not end
// is a whole number of packets.
func (m *Model) StreamOut(ep uint8, data []byte, end bool) int {
	if ep != EPBulkOut {
		return len(data)
	}
	m.mu.Lock()
	if m.host.Configuration() != 1 {
		m.mu.Unlock()
		return len(data)
	}
	tx := m.tx
	send := m.phy.link && m.txEnabledLocked()
	m.frames = m.frames[:0]
	off, took := 0, len(data)
parse:
	for off < len(data) {
		off = (off + txAlign - 1) &^ (txAlign - 1)
		if off >= len(data) {
			break
		}
		rest := data[off:]
		if !end && (len(rest) < txDescLen || allZero(rest[:txDescLen])) {
			took = off // the descriptor is not all in, or is zero fill so far
			break
		}
		if len(rest) < txDescLen {
			if !allZero(rest) {
				m.stats.TxShortDesc++
			}
			break
		}
		o1, o2 := binary.LittleEndian.Uint32(rest), binary.LittleEndian.Uint32(rest[4:])
		l := int(o1 & txLenMax)
		if o1|o2 == 0 && allZero(rest) {
			break // zero fill at the end of the transfer
		}
		switch {
		case l == 0 || l > maxJumboFrame:
			if !end {
				took = off
				break parse
			}
			m.stats.TxBadLength++
			break parse // no length to step over: the rest is unreadable
		case txDescLen+l > len(rest):
			if !end {
				took = off
				break parse
			}
			m.stats.TxTruncated++
			break parse
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
		return took
	}
	// The frames point into data, valid for the whole call; StreamOut
	// calls for one endpoint are serialised, so frames is not reused
	// meanwhile.
	for _, f := range frames {
		tx.Send(f)
	}
	return took
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
