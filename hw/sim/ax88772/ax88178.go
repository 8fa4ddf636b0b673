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

// Frame length limits (AX88178). Without JFE in the medium mode the MAC
// takes standard frames only: 1518 bytes on the wire, FCS included, so
// 1514 bytes as they reach the model (Inject's and the host's frames carry
// no FCS). With JFE it takes jumbo frames as long as one RX burst can
// hold the record (4-byte header + frame) in the RX_CTL MFB buffer
// (2048 << MFB); on TX, up to the largest burst's worth (16380 bytes).
// Longer frames are dropped and counted as TooLong in RxStats or TxStats.
//
//	medium JFE   RX_CTL MFB   longest frame (RX)   longest frame (TX)
//	0            any          1514                 1514
//	1            2048         2044                 16380
//	1            16384        16380                16380
const (
	maxStdFrame   = 1518 - 4 // FCS not included
	maxJumboFrame = 16384 - 4
)

// MaxFrame returns the longest frame the chip passes from the wire to the
// host with its current registers (AX88178; the AX88772B model takes what
// its 11-bit length field carries, 2047).
func (m *Model) MaxFrame() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.maxRxFrameLocked()
}

func (m *Model) maxRxFrameLocked() int {
	switch {
	case m.opts.Chip != AX88178:
		return 0x7ff
	case m.medium&MediumJFE == 0:
		return maxStdFrame
	}
	return m.bufSizeLocked() - 4
}

func (m *Model) maxTxFrameLocked() int {
	if m.medium&MediumJFE == 0 {
		return maxStdFrame
	}
	return maxJumboFrame
}

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
