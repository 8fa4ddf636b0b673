package rtl8153

import (
	"encoding/binary"
	"fmt"

	"dongle/hw"
)

// Control implements sim.Model: the register requests.
func (m *Model) Control(s hw.Setup, data []byte) (int, error) {
	m.mu.Lock()
	n, ev, err := m.controlLocked(s, data)
	m.Log(s, data, n, err)
	if err != nil {
		m.stats.Malformed++
	}
	m.mu.Unlock()
	if ev != nil {
		ev()
	}
	return n, err
}

// ctlErr is a stalled request's reason.
func ctlErr(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{hw.ErrStall}, args...)...)
}

// controlLocked answers one request. ev, when non-nil, runs after the
// lock is released (a link change raises an interrupt).
//
// The chip answers GET_REGS/SET_REGS (bRequest 0x05) with wValue the
// address (dword aligned), wIndex the block in the high byte and the byte
// enables in the low byte; lengths are whole dwords, at most 64 bytes a
// read and 512 a write (generic_ocp_read/write's limits). Byte enables
// apply to writes: bits 3:0 to the first dword, bits 7:4 to the last,
// every dword between is written whole. Reads return whole dwords.
func (m *Model) controlLocked(s hw.Setup, data []byte) (n int, ev func(), err error) {
	if s.Request != reqRegs || (s.RequestType != typeRead && s.RequestType != typeWrite) {
		return 0, nil, ctlErr("request %#02x type %#02x is not GET_REGS/SET_REGS", s.Request, s.RequestType)
	}
	var b Block
	switch s.Index & 0xff00 {
	case mcuPLA:
		b = PLA
	case mcuUSB:
		b = USB
	default:
		return 0, nil, ctlErr("wIndex %#04x names no register block", s.Index)
	}
	addr, l := int(s.Value), len(data)
	switch {
	case addr&3 != 0:
		return 0, nil, ctlErr("%s %#04x: address not dword aligned", b, addr)
	case l == 0 || l&3 != 0:
		return 0, nil, ctlErr("%s %#04x: %d bytes, not whole dwords", b, addr, l)
	case addr+l > 1<<16:
		return 0, nil, ctlErr("%s %#04x+%d: past the block", b, addr, l)
	}
	if s.In() {
		if l > maxRead {
			return 0, nil, ctlErr("%s %#04x: read of %d bytes (at most %d)", b, addr, l, maxRead)
		}
		// Reads return whole dwords; the byte enables say which bytes
		// the driver takes (ocp_read_word: one word), which is what the
		// unmodelled list notes.
		be := uint8(s.Index)
		for i := 0; i < l; i += 4 {
			mask := uint8(0xf)
			if l == 4 && be&0xf != 0 {
				mask = be & 0xf
			}
			m.noteLocked(b, addr+i, false, mask)
			for j := 0; j < 4; j++ {
				data[i+j] = m.readByteLocked(b, addr+i+j)
			}
		}
		return l, nil, nil
	}
	if l > maxWrite {
		return 0, nil, ctlErr("%s %#04x: write of %d bytes (at most %d)", b, addr, l, maxWrite)
	}
	be := s.Index & 0xff
	if be == 0 {
		return 0, nil, ctlErr("%s %#04x: write with no byte enabled", b, addr)
	}
	before := m.phy.link
	for i := 0; i < l; i += 4 {
		mask := uint8(0xf)
		if i == 0 {
			mask = uint8(be & 0xf)
		}
		if i == l-4 {
			mask &= uint8(be >> 4)
			if l == 4 {
				mask = uint8(be&0xf) & uint8(be>>4)
			}
		}
		m.noteLocked(b, addr+i, true, mask)
		m.writeDwordLocked(b, addr+i, data[i:i+4], mask)
	}
	return 0, m.linkEventLocked(before), nil
}

// noteLocked records an access to the enabled bytes (mask) of the dword
// at addr when they hold no register the model gives meaning to (window
// accesses are noted per OCP register).
func (m *Model) noteLocked(b Block, addr int, write bool, mask uint8) {
	if mask == 0 {
		return
	}
	if b == PLA && addr >= plaOCPWindow && addr < plaOCPWindowEnd {
		base := m.ocpBaseLocked()
		for k := 0; k < 2; k++ {
			o := base | uint16(addr+2*k)&0x0fff
			if mask>>(2*k)&3 != 0 && !ocpModelled(o) {
				m.noteUnmodelledLocked(OCP, o, write)
			}
		}
		return
	}
	if !modelled(b, addr, mask) {
		m.noteUnmodelledLocked(b, uint16(addr), write)
	}
}

// modelled reports whether the enabled bytes (mask) of the dword at addr
// hold a register the model gives meaning to.
func modelled(b Block, addr int, mask uint8) bool {
	in := func(lo, hi int) bool {
		for j := 0; j < 4; j++ {
			if mask&(1<<j) != 0 && addr+j >= lo && addr+j < hi {
				return true
			}
		}
		return false
	}
	if b == USB {
		return in(usbUSBCtrl, usbUSBCtrl+2) || in(usbRxEarlySize, usbRxEarlySize+2) ||
			in(usbRxExtraTimer, usbRxExtraTimer+2) || in(usbMisc0, usbMisc0+2) || in(usbMisc1, usbMisc1+1) ||
			in(usbWDT1Ctrl, usbWDT1Ctrl+1)
	}
	return in(plaIDR, plaIDR+6) || in(plaRCR, plaRCR+4) || in(plaRMS, plaRMS+2) || in(plaMAR, plaMAR+8) ||
		in(plaBackup, plaBackup+6) || in(plaEfuseData, plaEfuseCmd+2) || in(plaPolGPIO, plaPolGPIO+2) ||
		in(plaALDPSStat, plaALDPSStat+2) || in(plaBootCtrl, plaBootCtrl+2) || in(plaTCR0, plaTCR1+2) ||
		in(plaRstTally, plaRstTally+2) || in(plaCR, plaCR+1) || in(plaCRWECR, plaCRWECR+1) ||
		in(plaOOBCtrl, plaOOBCtrl+1) || in(plaCPCR, plaCPCR+2) || in(plaMisc1, plaMisc1+2) ||
		in(plaGPHYBase, plaGPHYBase+2) || in(plaTallyCnt, plaTallyCnt+tallySize) || in(plaSFFSts7, plaSFFSts7+2) ||
		in(plaPHYStatus, plaPHYStatus+2)
}

func (m *Model) ocpBaseLocked() uint16 {
	return binary.LittleEndian.Uint16(m.pla[plaGPHYBase:]) & 0xf000
}

// readByteLocked is one byte of a block as the chip answers it: stored
// values, with the status bits the hardware drives itself.
func (m *Model) readByteLocked(b Block, a int) byte {
	if b == USB {
		return m.usb[a]
	}
	switch {
	case a >= plaOCPWindow && a < plaOCPWindowEnd:
		o := m.ocpBaseLocked() | uint16(a&^1)&0x0fff
		v := m.phy.read(o)
		return byte(v >> (8 * (a & 1)))
	case a >= plaTallyCnt && a < plaTallyCnt+tallySize:
		var t [tallySize]byte
		m.tally.put(t[:])
		return t[a-plaTallyCnt]
	}
	v := m.pla[a]
	switch a {
	case plaBootCtrl: // the autoload from EEPROM/efuse finished at power-on
		v |= autoloadDone
	case plaALDPSStat + 1: // bit 8: the PHY is out of ALDPS power saving
		if !m.phy.aldps() {
			v |= aldpsLeftBit >> 8
		}
	case plaTCR0 + 1: // the TX FIFO is always empty: frames leave as Out parses them
		v |= tcr0TxEmpty >> 8
	case plaTCR1, plaTCR1 + 1: // the version bits are the silicon's
		sh := 8 * uint(a-plaTCR1)
		ver, mask := byte(uint16(Version8153B)>>sh), byte(uint16(versionMask)>>sh)
		v = v&^mask | ver&mask
	case plaCR: // a reset completes at once
		v &^= crRST
	case plaOOBCtrl:
		v |= oobLinkList | oobTxFIFOEmpty
		if len(m.agg.descs) == 0 {
			v |= oobRxFIFOEmpty
		}
	case plaSFFSts7 + 1: // the link list re-initialises at once
		v &^= reInitLL >> 8
	case plaRstTally:
		v &^= tallyReset
	case plaEfuseData, plaEfuseData + 1: // a blank efuse reads all ones
		v = 0xff
	case plaEfuseCmd:
		v |= efuseDataBit
	case plaPolGPIO:
		v &^= polGPHYPatch
	case plaPHYStatus:
		v = m.phyStatusLocked()
	case plaPHYStatus + 1:
		v = 0
	}
	return v
}

// phyStatusLocked is PLA_PHYSTATUS's low byte: the MAC's view of the link.
func (m *Model) phyStatusLocked() byte {
	if !m.phy.link {
		return 0
	}
	v := byte(physLink)
	if m.phy.full {
		v |= physFullDup
	}
	switch m.phy.mbps {
	case 1000:
		v |= phys1000
	case 100:
		v |= phys100
	default:
		v |= phys10
	}
	if m.phy.pause {
		v |= physRxFlow | physTxFlow
	}
	return v
}

// writeDwordLocked stores the enabled bytes of one dword and applies the
// side effects of the registers it touched.
func (m *Model) writeDwordLocked(b Block, addr int, d []byte, mask uint8) {
	if b == USB {
		for j := 0; j < 4; j++ {
			if mask&(1<<j) != 0 {
				m.usb[addr+j] = d[j]
			}
		}
		return
	}
	if addr >= plaOCPWindow && addr < plaOCPWindowEnd {
		base := m.ocpBaseLocked()
		for k := 0; k < 2; k++ {
			if mask>>(2*k)&3 != 3 {
				continue // the PHY takes whole words
			}
			o := base | uint16(addr+2*k)&0x0fff
			m.phy.write(o, binary.LittleEndian.Uint16(d[2*k:]), m.cfg)
		}
		return
	}
	if addr >= plaTallyCnt && addr < plaTallyCnt+tallySize {
		return // counters are read-only
	}
	touches := func(r int) bool { return r >= addr && r < addr+4 && mask&(1<<(r-addr)) != 0 }
	if (touches(plaIDR) || touches(plaIDR+4)) && m.pla[plaCRWECR] != crwecrConfig {
		m.stats.IDRLocked++
		return
	}
	for j := 0; j < 4; j++ {
		if mask&(1<<j) != 0 {
			m.pla[addr+j] = d[j]
		}
	}
	if touches(plaCR) && m.pla[plaCR]&crRST != 0 {
		// rtl8152_nic_reset: the MAC drops what it was collecting.
		m.pla[plaCR] &^= crRST | crRE | crTE
		m.agg.reset()
		m.timer.Disarm()
	}
	if touches(plaRstTally) && m.pla[plaRstTally]&tallyReset != 0 {
		m.tally = tally{}
		m.pla[plaRstTally] &^= tallyReset
	}
	if touches(plaSFFSts7 + 1) {
		m.pla[plaSFFSts7+1] &^= reInitLL >> 8
	}
	if touches(plaPolGPIO) {
		m.pla[plaPolGPIO] &^= polGPHYPatch
	}
	if touches(plaMisc1) && m.pla[plaMisc1]&rxdyGatedEn != 0 {
		m.agg.reset() // RX gated: nothing more reaches the host
		m.timer.Disarm()
	}
}

func (m *Model) rcrLocked() uint32  { return binary.LittleEndian.Uint32(m.pla[plaRCR:]) }
func (m *Model) rmsLocked() int     { return int(binary.LittleEndian.Uint16(m.pla[plaRMS:])) }
func (m *Model) usbCtrlLocked() int { return int(binary.LittleEndian.Uint16(m.usb[usbUSBCtrl:])) }

// rxEnabledLocked: CR_RE on and the RX path not gated (RXDY_GATED_EN).
func (m *Model) rxEnabledLocked() bool {
	return m.pla[plaCR]&crRE != 0 && binary.LittleEndian.Uint16(m.pla[plaMisc1:])&rxdyGatedEn == 0
}

func (m *Model) txEnabledLocked() bool { return m.pla[plaCR]&crTE != 0 }
