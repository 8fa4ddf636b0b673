package ax88772

import (
	"encoding/binary"

	"dongle/hw"
)

// Control implements sim.Model: the vendor requests, answered from the
// register file. A read returns at most the register's size (a longer
// wLength gets a short answer, as from the chip); a request the chip does
// not know, or one in the wrong direction, stalls. Every request is logged.
func (m *Model) Control(s hw.Setup, data []byte) (int, error) {
	m.mu.Lock()
	n, ok := m.controlLocked(s, data)
	if k, cut := m.short[s.Request]; cut && ok && s.In() {
		delete(m.short, s.Request)
		n = min(n, k)
	}
	if !ok {
		m.Log(s, nil, 0, hw.ErrStall) // a stalled request's data stays out of the log
	} else {
		m.Log(s, data, n, nil)
	}
	m.mu.Unlock()
	m.pump() // a reset or PHY write may have changed the link
	if !ok {
		return 0, hw.ErrStall
	}
	return n, nil
}

func (m *Model) controlLocked(s hw.Setup, data []byte) (int, bool) {
	if s.RequestType == vendorIn {
		return m.readLocked(s, data)
	}
	if s.RequestType == vendorOut {
		return 0, m.writeLocked(s, data)
	}
	return 0, false
}

func (m *Model) readLocked(s hw.Setup, data []byte) (int, bool) {
	switch s.Request {
	case reqStatMngSts:
		v := byte(chipCode772B)
		if m.opts.Chip == AX88178 {
			v = chipCode178
		}
		if m.swMII {
			if m.hostEnWait > 0 {
				m.hostEnWait--
			} else if m.hostEnWait == 0 {
				v |= hostEn
			}
		}
		return copy(data, []byte{v}), true
	case reqReadMII:
		if !m.swMII {
			return 0, false // the MAC owns the bus: the chip refuses
		}
		v := uint16(0xffff) // nobody answers at other addresses
		if m.phyAnswersLocked(s.Value) {
			v = m.phy.read(int(s.Index))
		}
		return le16(data, v), true
	case reqReadEEPROM:
		if int(s.Index) != 0 || int(s.Value) >= len(m.eeprom) {
			return 0, false
		}
		return le16(data, m.eeprom[s.Value]), true
	case reqReadRxCtl:
		return le16(data, m.rxCtl), true
	case reqReadIPG:
		return copy(data, m.ipg[:]), true
	case reqReadNodeID:
		return copy(data, m.nodeID[:]), true
	case reqReadPHYID:
		return copy(data, []byte{secondaryPHYType, m.opts.PHYAddr}), true
	case reqReadMedium:
		return le16(data, m.medium), true
	case reqReadMonitor:
		return copy(data, []byte{m.monitor}), true
	case reqReadGPIO:
		return copy(data, []byte{m.gpio}), true
	case reqSWPHYStatus:
		return copy(data, []byte{byte(m.phySel)}), true
	}
	return 0, false
}

func (m *Model) writeLocked(s hw.Setup, data []byte) bool {
	switch s.Request {
	case reqSetSWMII:
		if !m.swMII {
			m.hostEnWait = m.opts.HostEnDelay
		}
		m.swMII = true
	case reqSetHWMII:
		m.swMII = false
	case reqWriteMII:
		if !m.swMII || len(data) < 2 {
			return false
		}
		if m.phyAnswersLocked(s.Value) {
			if m.phy.write(int(s.Index), binary.LittleEndian.Uint16(data)) {
				// The link went down and came back: report it, even to
				// a host that saw it up before (a driver bound anew).
				m.linkSent = false
			}
			m.linkChangedLocked()
		}
	case reqWriteEnable:
		m.eepromWE = true
	case reqWriteDisable:
		m.eepromWE = false
	case reqWriteEEPROM:
		if !m.eepromWE || int(s.Value) >= len(m.eeprom) {
			return false
		}
		m.eeprom[s.Value] = s.Index
	case reqWriteRxCtl:
		m.rxCtl = s.Value
	case reqWriteIPG:
		m.ipg = [3]byte{byte(s.Value), byte(s.Value >> 8), byte(s.Index)}
	case reqWriteNodeID:
		if len(data) != 6 {
			return false
		}
		copy(m.nodeID[:], data)
	case reqWriteMcast:
		if len(data) != 8 {
			return false
		}
		copy(m.mcast[:], data)
	case reqWriteMedium:
		m.medium = s.Value
	case reqWriteMonitor:
		m.monitor = byte(s.Value)
	case reqWriteGPIO:
		m.gpioLocked(byte(s.Value))
	case reqSWReset:
		m.swReset = s.Value
		if m.opts.Chip == AX88178 {
			break // no internal PHY: IPRL/IPPD change nothing
		}
		// The internal PHY runs only with its reset released (IPRL) and
		// not powered down (IPPD); a new reset restores its defaults.
		was := m.phy.powered
		m.phy.powered = s.Value&swResetIPRL != 0 && s.Value&swResetIPPD == 0
		if m.phy.powered && !was {
			m.phy.defaults()
		}
		m.phy.negotiate()
		m.linkChangedLocked()
	case reqSWPHYSelect:
		m.phySel = s.Value
	case reqQCTCtrl:
		// bulk-in queue timing: accepted, no visible effect
	default:
		return false
	}
	return true
}
