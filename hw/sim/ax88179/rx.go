package ax88179

import (
	"encoding/binary"
	"hash/crc32"
	"math/bits"
	"time"
)

// aggregator collects received packets for one bulk IN transfer.
type aggregator struct {
	pkts []byte   // packets, each 8-byte padded
	hdrs []uint32 // one per packet (the dummies are added at build time)
	out  []byte   // the built transfer (reused)
}

func (a *aggregator) reset() { a.pkts, a.hdrs = a.pkts[:0], a.hdrs[:0] }

// size is the transfer length if it were sent now (plus extra packet bytes).
func (a *aggregator) size(extraPkt, extraHdrs int) int {
	n := len(a.hdrs) + extraHdrs
	if n == 0 {
		return 0
	}
	return len(a.pkts) + extraPkt + 8*n + 8
}

func (a *aggregator) add(frame []byte, pad int, hdr uint32) {
	start := len(a.pkts)
	l := pad + len(frame)
	padded := (l + 7) &^ 7
	a.pkts = append(a.pkts, make([]byte, padded)...)
	copy(a.pkts[start+pad:], frame)
	a.hdrs = append(a.hdrs, uint32(l)<<16|hdr)
}

// build lays out the transfer: packets, header+dummy pairs, pad2, trailer.
func (a *aggregator) build() []byte {
	o := append(a.out[:0], a.pkts...)
	for _, h := range a.hdrs {
		o = binary.LittleEndian.AppendUint32(o, h)
		o = binary.LittleEndian.AppendUint32(o, hdrDrop) // dummy: length 0, DROP_ERR
	}
	o = append(o, 0, 0, 0, 0) // pad2: the trailer ends 8-byte aligned
	o = binary.LittleEndian.AppendUint32(o, uint32(2*len(a.hdrs))|uint32(len(a.pkts))<<16)
	a.out = o
	return o
}

// Receive implements sim.Port: a frame arriving from the Ethernet side.
func (m *Model) Receive(frame []byte) {
	m.mu.Lock()
	defer m.mu.Unlock()
	rxctl := binary.LittleEndian.Uint16(m.mac[regRxCtl:])
	medium := binary.LittleEndian.Uint16(m.mac[regMedium:])
	switch {
	case m.detach:
		return
	case !m.phy.link:
		m.stats.RxNoLink++
		return
	case rxctl&rxSTART == 0 || medium&medRE == 0:
		m.stats.RxStopped++
		return
	case len(frame) < ethHeaderLen:
		m.stats.RxFiltered++
		return
	}
	limit := maxFrame
	if medium&medJumbo == medJumbo {
		limit = maxJumboFrame
	}
	if len(frame) > limit {
		m.stats.RxTooLong++
		return
	}
	if !m.acceptLocked(frame, rxctl) {
		m.stats.RxFiltered++
		return
	}
	var hdr uint32
	if m.crcNext > 0 {
		m.crcNext--
		if rxctl&rxDropCRC != 0 {
			m.stats.RxCRCDropped++
			return
		}
		hdr |= hdrCRCErr
	}
	hdr |= checksumBits(frame, m.mac[regRxCOE])
	pad := 0
	if rxctl&rxIPE != 0 {
		pad = 2
	}
	q := m.mac[regBulkIn : regBulkIn+5]
	sizeKiB := int(q[3])
	aggregate := q[0]&1 != 0 && sizeKiB > 0
	padded := (pad + len(frame) + 7) &^ 7
	if aggregate && len(m.agg.hdrs) > 0 && m.agg.size(padded, 1) > 1024*(sizeKiB+2) {
		m.flushLocked()
	}
	m.agg.add(frame, pad, hdr)
	m.stats.RxFrames++
	if !aggregate || m.agg.size(0, 0) >= 1024*sizeKiB {
		m.flushLocked()
		return
	}
	if len(m.agg.hdrs) == 1 && !m.cfg.ManualFlush {
		ticks := time.Duration(uint16(q[1]) | uint16(q[2])<<8)
		m.timer.Arm(ticks * m.cfg.TimerUnit)
	}
}

// Flush sends the RX transfer being collected now, if any (the timer's
// job, made deterministic for specs).
func (m *Model) Flush() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.flushLocked()
}

// Pending is the number of frames collected and not yet sent.
func (m *Model) Pending() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.agg.hdrs)
}

// flushLocked sends the collected transfer on bulk IN. The engine's
// SendIn copies and never blocks, so the lock can be held.
func (m *Model) flushLocked() {
	m.timer.Disarm()
	if len(m.agg.hdrs) == 0 {
		return
	}
	out := m.agg.build()
	if len(m.corrupt) > 0 {
		c := m.corrupt[0]
		m.corrupt = m.corrupt[1:]
		out = c.apply(out, len(m.agg.pkts), len(m.agg.hdrs))
		m.agg.out = out[:0]
	}
	n := len(m.agg.hdrs)
	m.agg.reset()
	var err error
	if len(out)%m.host.MaxPacket(bulkInEP) == 0 {
		err = m.host.SendInZLP(bulkInEP, out)
	} else {
		err = m.host.SendIn(bulkInEP, out)
	}
	if err != nil {
		m.stats.RxLost += uint64(n)
		return
	}
	m.stats.RxTransfers++
}

// InjectCRCErrors marks the next n received frames as failing the CRC check.
func (m *Model) InjectCRCErrors(n int) {
	m.mu.Lock()
	m.crcNext += n
	m.mu.Unlock()
}

// acceptLocked is the RX_CTL address filter.
func (m *Model) acceptLocked(f []byte, rxctl uint16) bool {
	dst := f[:6]
	switch {
	case rxctl&rxPRO != 0:
		return true
	case dst[0]&1 == 0:
		return string(dst) == string(m.mac[regNodeID:regNodeID+6])
	case string(dst) == "\xff\xff\xff\xff\xff\xff":
		return rxctl&rxAB != 0
	case rxctl&rxAMALL != 0:
		return true
	case rxctl&rxAM != 0:
		i := bits.Reverse32(^crc32.ChecksumIEEE(dst)) >> 26
		return m.mac[regMcast+int(i>>3)]&(1<<(i&7)) != 0
	}
	return false
}

// checksumBits is the RX checksum engine: the L4 type of an IPv4/IPv6
// TCP or UDP packet, and the L3/L4 error bits, for the protocols RXCOE
// enables.
func checksumBits(f []byte, coe uint8) uint32 {
	if len(f) < ethHeaderLen {
		return 0
	}
	et := binary.BigEndian.Uint16(f[12:])
	p := f[ethHeaderLen:]
	var h uint32
	switch et {
	case 0x0800:
		if len(p) < 20 || p[0]>>4 != 4 {
			return 0
		}
		ihl := int(p[0]&0xf) * 4
		tot := int(binary.BigEndian.Uint16(p[2:]))
		if ihl < 20 || len(p) < ihl || tot < ihl || tot > len(p) {
			return hdrL3Err
		}
		if coe&coeIP != 0 && fold(sum(p[:ihl], 0)) != 0xffff {
			h |= hdrL3Err
		}
		if p[6]&0x3f != 0 || p[7] != 0 { // fragment: no L4 check
			return h
		}
		proto, l4 := p[9], p[ihl:tot]
		pseudo := sum(p[12:20], 0) + uint32(proto) + uint32(len(l4))
		return h | l4Bits(proto, l4, pseudo, coe&coeTCP != 0, coe&coeUDP != 0)
	case 0x86dd:
		if len(p) < 40 {
			return 0
		}
		pl := int(binary.BigEndian.Uint16(p[4:]))
		if 40+pl > len(p) {
			return hdrL3Err
		}
		proto, l4 := p[6], p[40:40+pl]
		pseudo := sum(p[8:40], 0) + uint32(proto) + uint32(len(l4))
		return l4Bits(proto, l4, pseudo, coe&coeTCPv6 != 0, coe&coeUDPv6 != 0)
	}
	return 0
}

func l4Bits(proto uint8, l4 []byte, pseudo uint32, tcp, udp bool) uint32 {
	switch proto {
	case 6:
		h := uint32(hdrTCP)
		if tcp && (len(l4) < 20 || fold(sum(l4, pseudo)) != 0xffff) {
			h |= hdrL4Err
		}
		return h
	case 17:
		h := uint32(hdrUDP)
		if udp && (len(l4) < 8 || (binary.BigEndian.Uint16(l4[6:]) != 0 && fold(sum(l4, pseudo)) != 0xffff)) {
			h |= hdrL4Err
		}
		return h
	}
	return 0
}

func sum(b []byte, s uint32) uint32 {
	for len(b) >= 2 {
		s += uint32(b[0])<<8 | uint32(b[1])
		b = b[2:]
	}
	if len(b) == 1 {
		s += uint32(b[0]) << 8
	}
	return s
}

func fold(s uint32) uint16 {
	for s > 0xffff {
		s = s&0xffff + s>>16
	}
	return uint16(s)
}
