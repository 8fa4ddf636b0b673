package ax88179

import "encoding/binary"

// Out implements sim.Model: bulk OUT transfers carry frames to send.
func (m *Model) Out(ep uint8, data []byte) {
	if ep != bulkOutEP {
		return
	}
	mps := m.host.MaxPacket(bulkOutEP)
	m.mu.Lock()
	tx := m.tx
	var frames [][]byte
	for len(data) > 0 {
		if len(data) < 8 {
			m.stats.TxBadHeader++
			break
		}
		w0, w1 := binary.LittleEndian.Uint32(data), binary.LittleEndian.Uint32(data[4:])
		l := int(w0 & txLenMask)
		if l == 0 || l > maxJumboFrame {
			m.stats.TxBadHeader++
			break
		}
		if 8+l > len(data) {
			m.stats.TxTruncated++
			break
		}
		frame := data[8 : 8+l]
		data = data[8+l:]
		need := mps > 0 && (8+l)%mps == 0
		pad := w1&txPadding == txPadding
		switch {
		case need && !pad:
			m.stats.TxMissingPad++
		case pad && !need:
			m.stats.TxSpuriousPad++
		}
		if l < ethHeaderLen {
			m.stats.TxRunts++
		} else {
			frames = append(frames, frame)
		}
		if pad {
			// The padding flag says the rest of the transfer is filler.
			if len(data) == 0 {
				m.stats.TxNoPadBytes++
			}
			data = nil
		}
	}
	up := m.phy.link
	if up {
		m.stats.TxFrames += uint64(len(frames))
	}
	m.mu.Unlock()
	if !up || tx == nil {
		return
	}
	for _, f := range frames {
		tx.Send(f)
	}
}
