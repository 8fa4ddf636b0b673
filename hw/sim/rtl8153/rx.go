package rtl8153

import (
	"encoding/binary"
	"hash/crc32"
	"math/bits"
	"time"
)

// aggregator collects received frames for one bulk IN transfer:
//
//	| rx_desc (24) | frame | FCS (4) | pad to 8 | rx_desc | frame | FCS | ...
//
// opts1 holds the length with the FCS; each descriptor starts 8-byte
// aligned from the start of the transfer.
type aggregator struct {
	buf   []byte // the transfer being built (reused)
	descs []int  // offset of each descriptor in buf
}

// zeros is padding and reserved descriptor words.
var zeros [rxDescLen]byte

func (a *aggregator) reset() { a.buf, a.descs = a.buf[:0], a.descs[:0] }

// size is the transfer's length with one more frame of n bytes.
func (a *aggregator) sizeWith(n int) int {
	return (len(a.buf)+rxAlign-1)&^(rxAlign-1) + rxDescLen + n + ethFCSLen
}

func (a *aggregator) add(frame []byte, opts2, opts3 uint32) {
	start := (len(a.buf) + rxAlign - 1) &^ (rxAlign - 1)
	a.buf = append(a.buf, zeros[:start-len(a.buf)]...)
	a.descs = append(a.descs, start)
	a.buf = binary.LittleEndian.AppendUint32(a.buf, uint32(len(frame)+ethFCSLen)&rxLenMask)
	a.buf = binary.LittleEndian.AppendUint32(a.buf, opts2)
	a.buf = binary.LittleEndian.AppendUint32(a.buf, opts3)
	a.buf = append(a.buf, zeros[:rxDescLen-12]...)
	a.buf = append(a.buf, frame...)
	a.buf = binary.LittleEndian.AppendUint32(a.buf, crc32.ChecksumIEEE(frame))
}

// Receive implements sim.Port: a frame arriving from the Ethernet side.
func (m *Model) Receive(frame []byte) {
	m.mu.Lock()
	defer m.mu.Unlock()
	switch {
	case m.detach:
		return
	case !m.phy.link:
		m.stats.RxNoLink++
		return
	case m.host.Configuration() != 1 || !m.rxEnabledLocked():
		m.stats.RxStopped++
		return
	case len(frame) < ethHeaderLen:
		m.stats.RxFiltered++
		return
	}
	var opts2 uint32
	if binary.LittleEndian.Uint16(m.pla[plaCPCR:])&cpcrRxVLAN != 0 && len(frame) >= ethHeaderLen+4 &&
		frame[12] == 0x81 && frame[13] == 0x00 {
		// VLAN stripping: the tag goes to opts2, byte-swapped as r8152's
		// rtl_rx_vlan_tag expects (swab16 of the low half).
		opts2 = rxVLANTag | uint32(frame[14]) | uint32(frame[15])<<8
		m.stripped = append(m.stripped[:0], frame[:12]...)
		m.stripped = append(m.stripped, frame[16:]...)
		frame = m.stripped
	}
	if len(frame)+ethFCSLen > m.rmsLocked() {
		m.stats.RxTooLong++
		m.tally.rxErrors++
		return
	}
	class, ok := m.acceptLocked(frame)
	if !ok {
		m.stats.RxFiltered++
		return
	}
	c2, opts3 := checksumBits(frame)
	opts2 |= c2
	limit := 16 * 1024
	if es := int(binary.LittleEndian.Uint16(m.usb[usbRxEarlySize:])) * 8; es > 0 {
		limit = es
	}
	aggregate := m.usbCtrlLocked()&rxAggDisable == 0
	if len(m.agg.descs) > 0 && m.agg.sizeWith(len(frame)) > limit {
		m.flushLocked()
	}
	m.agg.add(frame, opts2, opts3)
	m.stats.RxFrames++
	switch class {
	case 0:
		m.tally.rxUnicast++
	case 1:
		m.tally.rxBroadcast++
	default:
		m.tally.rxMulticast++
	}
	if !aggregate || len(m.agg.buf) >= limit {
		m.flushLocked()
		return
	}
	if len(m.agg.descs) == 1 && !m.cfg.ManualFlush {
		// USB_RX_EXTRA_AGGR_TMR, in 8 ns units (r8153_set_rx_early_timeout
		// writes coalesce/8); 15 us when the driver wrote nothing.
		d := time.Duration(binary.LittleEndian.Uint16(m.usb[usbRxExtraTimer:])) * 8 * time.Nanosecond
		if d == 0 {
			d = 15 * time.Microsecond
		}
		m.timer.Arm(d)
	}
}

// Flush sends the RX transfer being collected now, if any.
func (m *Model) Flush() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.flushLocked()
}

// Pending is the number of frames collected and not yet sent.
func (m *Model) Pending() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.agg.descs)
}

// flushLocked sends the collected transfer on bulk IN.
//
// A transfer whose length is a multiple of wMaxPacketSize ends with a ZLP
// when USB_USB_CTRL has RX_ZERO_EN. r8152 clears RX_ZERO_EN (r8153b_init),
// and a transfer without an end would then sit in the host's URB until
// the next one arrived; the model ends it instead with 8 zero bytes, a
// short packet the host's parsers walk past (an rx_desc cannot start in
// the last 8 bytes, and r8152's rx_bottom stops when fewer than 24 bytes
// remain). What the silicon does here is not documented; this is the
// model's assumption.
func (m *Model) flushLocked() {
	m.timer.Disarm()
	if len(m.agg.descs) == 0 {
		return
	}
	out := m.agg.buf
	n := len(m.agg.descs)
	if len(m.corrupt) > 0 {
		c := m.corrupt[0]
		m.corrupt = m.corrupt[1:]
		out = c.apply(out, m.agg.descs)
	}
	mps := m.host.MaxPacket(EPBulkIn)
	var err error
	switch {
	case mps > 0 && len(out)%mps == 0 && m.usbCtrlLocked()&rxZeroEn != 0:
		err = m.host.SendInZLP(EPBulkIn, out)
	case mps > 0 && len(out)%mps == 0:
		out = append(out, zeros[:rxAlign]...)
		err = m.host.SendIn(EPBulkIn, out)
	default:
		err = m.host.SendIn(EPBulkIn, out)
	}
	m.agg.buf = out[:0]
	m.agg.descs = m.agg.descs[:0]
	if err != nil {
		m.stats.RxLost += uint64(n)
		m.tally.rxMissed += uint16(n)
		return
	}
	m.stats.RxTransfers++
	m.tally.rxPackets += uint64(n)
}

// acceptLocked is the PLA_RCR filter with the PLA_MAR hash. class is 0
// for unicast, 1 broadcast, 2 multicast.
func (m *Model) acceptLocked(f []byte) (class int, ok bool) {
	rcr := m.rcrLocked()
	dst := f[:6]
	switch {
	case dst[0]&1 == 0:
		return 0, rcr&rcrAAP != 0 || (rcr&rcrAPM != 0 && string(dst) == string(m.pla[plaIDR:plaIDR+6]))
	case string(dst) == "\xff\xff\xff\xff\xff\xff":
		return 1, rcr&rcrAB != 0 || rcr&rcrAAP != 0
	}
	if rcr&rcrAAP != 0 {
		return 2, true
	}
	if rcr&rcrAM == 0 {
		return 2, false
	}
	// The hash is the top 6 bits of the big-endian CRC-32 (ether_crc);
	// bit h is bit h&7 of byte 7-h/8 of PLA_MAR, the layout r8152's
	// _rtl8152_set_rx_mode writes (two swab32'd dwords, high half first).
	h := bits.Reverse32(^crc32.ChecksumIEEE(dst)) >> 26
	return 2, m.pla[plaMAR+7-int(h>>3)]&(1<<(h&7)) != 0
}

// checksumBits is the RX checksum engine: opts2 says which protocol was
// checked (RD_IPV4_CS/RD_IPV6_CS, RD_TCP_CS/RD_UDP_CS), opts3 which check
// failed (IPF, TCPF, UDPF).
func checksumBits(f []byte) (opts2, opts3 uint32) {
	et := binary.BigEndian.Uint16(f[12:])
	p := f[ethHeaderLen:]
	switch et {
	case 0x0800:
		if len(p) < 20 || p[0]>>4 != 4 {
			return 0, 0
		}
		opts2 = rdIPv4CS
		ihl := int(p[0]&0xf) * 4
		tot := int(binary.BigEndian.Uint16(p[2:]))
		if ihl < 20 || len(p) < ihl || tot < ihl || tot > len(p) {
			return opts2, rdIPF
		}
		if fold(sum(p[:ihl], 0)) != 0xffff {
			opts3 |= rdIPF
		}
		if p[6]&0x3f != 0 || p[7] != 0 { // a fragment: no L4 check
			return opts2, opts3
		}
		proto, l4 := p[9], p[ihl:tot]
		pseudo := sum(p[12:20], 0) + uint32(proto) + uint32(len(l4))
		o2, o3 := l4Bits(proto, l4, pseudo)
		return opts2 | o2, opts3 | o3
	case 0x86dd:
		if len(p) < 40 {
			return 0, 0
		}
		opts2 = rdIPv6CS
		pl := int(binary.BigEndian.Uint16(p[4:]))
		if 40+pl > len(p) {
			return opts2, 0
		}
		proto, l4 := p[6], p[40:40+pl]
		pseudo := sum(p[8:40], 0) + uint32(proto) + uint32(len(l4))
		o2, o3 := l4Bits(proto, l4, pseudo)
		return opts2 | o2, o3
	}
	return 0, 0
}

func l4Bits(proto uint8, l4 []byte, pseudo uint32) (opts2, opts3 uint32) {
	switch proto {
	case 6:
		if len(l4) < 20 || fold(sum(l4, pseudo)) != 0xffff {
			return rdTCPCS, rdTCPF
		}
		return rdTCPCS, 0
	case 17:
		if len(l4) < 8 || (binary.BigEndian.Uint16(l4[6:]) != 0 && fold(sum(l4, pseudo)) != 0xffff) {
			return rdUDPCS, rdUDPF
		}
		return rdUDPCS, 0
	}
	return 0, 0
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
