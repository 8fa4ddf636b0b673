package ax88772

import (
	"encoding/binary"
)

// Out implements sim.Model: one bulk OUT transfer from the host. The chip
// reads records [le32 (len^0xffff)<<16 | len][frame] back to back; a
// 00 00 ff ff filler is skipped. A record whose header fails the check
// ends the transfer's parsing (counted in TxStats.BadHeader). A transfer
// whose length is a multiple of wMaxPacketSize without a filler at its end
// is counted as MissingPad: on the chip it would not have ended there.
func (m *Model) Out(ep uint8, data []byte) {
	if ep != EPBulkOut {
		return
	}
	m.mu.Lock()
	m.tx.Transfers++
	var frames [][]byte
	padded := false
	for off := 0; off < len(data); {
		if len(data)-off < 4 {
			m.tx.Truncated++
			break
		}
		h := binary.LittleEndian.Uint32(data[off:])
		if h == 0xffff0000 {
			m.tx.Pads++
			padded = off+4 == len(data)
			off += 4
			continue
		}
		n := int(h & 0xffff)
		// The AX88772B's length field has 11 bits; the AX88178's 16.
		if h>>16 != uint32(^n&0xffff) || (n > 0x7ff && m.opts.Chip != AX88178) {
			m.tx.BadHeader++
			break
		}
		if off+4+n > len(data) {
			m.tx.Truncated++
			break
		}
		if m.opts.Chip == AX88178 && n > m.maxTxFrameLocked() {
			m.tx.TooLong++
		} else {
			frames = append(frames, data[off+4:off+4+n])
		}
		off += 4 + n
	}
	if len(data) > 0 && len(data)%m.mps == 0 && !padded {
		m.tx.MissingPad++
	}
	if padded && (len(data)-4)%m.mps != 0 {
		m.tx.NeedlessPad++
	}
	if len(frames) > 0 && !m.mediumOKLocked() {
		m.tx.MediumMismatch += len(frames)
		frames = nil
	}
	m.tx.Frames += len(frames)
	end := m.end
	m.mu.Unlock()
	if end != nil {
		for _, f := range frames {
			end.Send(f)
		}
	}
}

// Receive implements sim.Port: a frame from the wire.
//
// With no link (cable out, PHY powered down or not negotiated) nothing
// arrives from the wire: the frame is counted in RxStats.NoLink and dropped.
func (m *Model) Receive(frame []byte) {
	m.mu.Lock()
	up := m.phy.up
	if !up {
		m.rxs.Received++
		m.rxs.NoLink++
	}
	m.mu.Unlock()
	if up {
		m.Inject(frame)
	}
}

// Inject offers frames from the wire as if they arrived back to back: each
// goes through the RX_CTL filter, and those accepted are appended to the RX
// stream in one go, so that they are packed into as few bulk IN writes as
// the buffer size allows. The frames are copied.
func (m *Model) Inject(frames ...[]byte) {
	m.mu.Lock()
	for _, f := range frames {
		m.rxs.Received++
		switch {
		case m.rxCtl&RxCtlSO == 0 || m.medium&MediumRE == 0:
			m.rxs.Stopped++
			continue
		case !m.mediumOKLocked():
			m.rxs.MediumMismatch++
			continue
		case m.opts.Chip == AX88178 && len(f) > m.maxRxFrameLocked():
			m.rxs.TooLong++
			continue
		case len(f) < 14 || len(f) > m.maxRxFrameLocked() || !m.acceptLocked(f):
			m.rxs.Filtered++
			continue
		case len(m.rx)+len(f)+5 > fifoLimit:
			m.rxs.Overflow++
			continue
		}
		m.rxs.Accepted++
		n := len(f)
		h := uint32(n) | uint32(^n&0xffff)<<16
		if m.corrupt > 0 {
			m.corrupt--
			m.rxs.Corrupted++
			h ^= 0x00010000
		}
		m.rx = binary.LittleEndian.AppendUint32(m.rx, h)
		m.rx = append(m.rx, f...)
		if n&1 != 0 {
			m.rx = append(m.rx, 0)
		}
	}
	m.mu.Unlock()
	m.pump()
}

// InjectRaw queues raw bulk IN writes, bypassing framing and filters (for
// malformed streams). Each element is one device write.
func (m *Model) InjectRaw(writes ...[]byte) {
	m.mu.Lock()
	h := m.host
	m.mu.Unlock()
	for _, w := range writes {
		if h != nil {
			_ = h.SendIn(EPBulkIn, w)
		}
	}
}

// acceptLocked is the RX_CTL address filter.
func (m *Model) acceptLocked(f []byte) bool {
	dst := f[:6]
	if m.rxCtl&RxCtlPRO != 0 {
		return true
	}
	if dst[0]&1 == 0 {
		return [6]byte(dst) == m.nodeID
	}
	if [6]byte(dst) == [6]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff} {
		return m.rxCtl&RxCtlAB != 0
	}
	if m.rxCtl&RxCtlAMALL != 0 {
		return true
	}
	if m.rxCtl&RxCtlAM != 0 {
		i := HashBit(dst)
		return m.mcast[i>>3]&(1<<(i&7)) != 0
	}
	return false
}

// HashBit is the multicast hash table bit the chip looks up for a
// destination address: the top six bits of the Ethernet CRC-32 of the
// address, computed the way the MAC's shift register does it (bits in
// wire order, LSB of each byte first, register initialised to all ones,
// polynomial 0x04c11db7, no final inversion).
func HashBit(addr []byte) uint {
	crc := uint32(0xffffffff)
	for _, b := range addr {
		for i := 0; i < 8; i++ {
			in := uint32(b>>i) & 1
			top := crc >> 31
			crc <<= 1
			if top^in != 0 {
				crc ^= 0x04c11db7
			}
		}
	}
	return uint(crc >> 26)
}
