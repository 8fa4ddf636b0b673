package ax88772

// AX88178 specifics: the external PHY's power pin, the board word in the
// EEPROM, and the medium mode check.
//
//	EEPROM word 0x17:  15      8 7 6     0
//	                  [LED mode|P| PHY mode]   P: power pin GPIO1 (else GPIO0)
//
//	GPIO write with GPO0EN or GPO1EN ─► external PHY powered ─► answers MDIO
//	medium mode ─► must agree with the PHY's link, or frames stop:
//
//	link      GM  ENCK  PS   FD
//	1000      1   1     -    =duplex
//	100       0   -     1    =duplex
//	10        0   -     0    =duplex
//
// The power rule is deliberately loose (either pin's output enable): which
// pin and which level a board uses differ between boards, and the model
// only has to tell "never powered" from "powered".

// defaultPHYID is the PHY identifier a model gets when Options.PHYID is 0.
func defaultPHYID(o Options) uint32 {
	switch {
	case o.Chip != AX88178:
		return asixEmbeddedID
	case o.Word17 != 0xffff && o.Word17&boardModeMask == boardModeRTL:
		return rtl8211clID
	}
	return marvell88E1111ID
}

// gpioLocked is a GPIO write: recorded, and on the AX88178 it powers the
// external PHY once a power pin is driven.
func (m *Model) gpioLocked(v byte) {
	m.gpio = v
	m.gpioLog = append(m.gpioLog, v)
	if m.opts.Chip != AX88178 || m.phy.powered || v&(gpio0En|gpio1En) == 0 {
		return
	}
	m.phy.powered = true
	m.phy.defaults()
	m.linkChangedLocked()
}

// phyAnswersLocked reports whether MDIO address addr reaches the PHY.
func (m *Model) phyAnswersLocked(addr uint16) bool {
	if m.opts.PHYAddr >= 32 || addr&0x1f != uint16(m.opts.PHYAddr&0x1f) {
		return false
	}
	if m.opts.Chip == AX88178 {
		return m.phy.powered && !m.opts.PHYSilent
	}
	return true
}

// mediumOKLocked reports whether the medium mode agrees with the link (always
// true on the AX88772B, whose model does not check it, and with no link).
func (m *Model) mediumOKLocked() bool {
	l, up := m.phy.resolved()
	if m.opts.Chip != AX88178 || !up {
		return true
	}
	md := m.medium
	if (md&MediumFD != 0) != l.FullDuplex {
		return false
	}
	gm := md&MediumGM != 0
	switch l.Mbps {
	case 1000:
		return gm && md&MediumENCK != 0
	case 100:
		return !gm && md&MediumPS != 0
	}
	return !gm && md&MediumPS == 0
}

// GPIOWrites returns every value the host wrote to the GPIO register since
// the last port reset, oldest first.
func (m *Model) GPIOWrites() []byte {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]byte(nil), m.gpioLog...)
}

// PHYPowered reports whether the PHY is powered (the AX88178's external PHY
// after a GPIO power-up; the AX88772B's embedded PHY while SW_RESET lets it
// run).
func (m *Model) PHYPowered() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.phy.powered
}

// PHYPage returns register r of the gigabit PHY's page pg (Realtek page
// select, register 31), as written by the host.
func (m *Model) PHYPage(pg, r int) uint16 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.phy.paged[[2]uint16{uint16(pg), uint16(r & 31)}]
}
