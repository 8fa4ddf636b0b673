package ax88179

// phy is the internal gigabit PHY at MDIO address 3: clause-22 registers
// on page 0, vendor pages behind register 0x1f (extension pages behind
// 0x1e on page 7), and clause-45 EEE registers behind the MMD window.
type phy struct {
	regs    [32]uint16
	pages   map[[3]uint16]uint16 // {page, ext page, reg} → value, pages other than 0
	mmd     map[uint32]uint16    // devad<<16 | reg
	mmdDev  uint16
	mmdAddr uint16
	link    bool
	mbps    int
	full    bool
}

func (p *phy) reset(c Config) {
	*p = phy{pages: map[[3]uint16]uint16{}, mmd: map[uint32]uint16{}}
	p.regs[miiBMCR] = bmcrANEnable
	p.regs[miiID1], p.regs[miiID2] = 0x001c, 0xc916
	p.regs[miiAdv] = advCSMA | adv10H | adv10F | adv100H | adv100F | advPause
	p.regs[miiCtrl1000] = ctl1000F
	// EEE: PCS says 100BASE-TX and 1000BASE-T EEE capable; we and the
	// partner advertise both until the driver changes ours.
	p.mmd[3<<16|20] = 0x0006
	p.mmd[7<<16|60] = 0x0006
	p.mmd[7<<16|61] = 0x0006
	// LED registers on extension page 0x2c.
	p.pages[[3]uint16{7, 0x2c, 0x1a}] = 0x0000
	p.pages[[3]uint16{7, 0x2c, 0x1c}] = 0x0000
}

func (p *phy) page() uint16 { return p.regs[miiPageSel] }

func (p *phy) key(reg uint16) [3]uint16 {
	ext := uint16(0)
	if p.page() == 7 {
		ext = p.regs[miiExtPage]
	}
	return [3]uint16{p.page(), ext, reg}
}

func (p *phy) read(reg uint16) uint16 {
	reg &= 0x1f
	if reg == miiPageSel {
		return p.page()
	}
	if p.page() != 0 && !(p.page() == 7 && reg == miiExtPage) {
		return p.pages[p.key(reg)]
	}
	switch reg {
	case miiBMSR:
		v := uint16(bmsrBase)
		if p.link {
			v |= bmsrLink | bmsrANDone
		}
		return v
	case miiPHYSR:
		if !p.link {
			return 0
		}
		v := uint16(physrLink)
		switch p.mbps {
		case 1000:
			v |= physrGiga
		case 100:
			v |= physr100
		}
		if p.full {
			v |= physrFull
		}
		return v
	case miiMMDData:
		return p.mmd[uint32(p.mmdDev)<<16|uint32(p.mmdAddr)]
	}
	return p.regs[reg]
}

func (p *phy) write(reg, v uint16, powered bool, c Config) {
	reg &= 0x1f
	if reg == miiPageSel {
		p.regs[miiPageSel] = v
		return
	}
	if p.page() != 0 && !(p.page() == 7 && reg == miiExtPage) {
		p.pages[p.key(reg)] = v
		return
	}
	switch reg {
	case miiBMCR:
		if v&bmcrReset != 0 {
			p.regs[miiBMCR] = bmcrANEnable
			p.negotiate(powered, c)
			return
		}
		restart := v&bmcrANRestart != 0
		p.regs[miiBMCR] = v &^ (bmcrANRestart | bmcrReset)
		if restart || v&bmcrPowerDown != 0 {
			p.negotiate(powered, c)
		}
		return
	case miiBMSR, miiPHYSR, miiID1, miiID2, miiLPA, miiStat1000:
		return // read-only
	case miiMMDCtrl:
		p.regs[reg] = v
		p.mmdDev = v & 0x1f
		return
	case miiMMDData:
		if p.regs[miiMMDCtrl]&0xc000 == 0 { // function "address"
			p.mmdAddr = v
		} else {
			p.mmd[uint32(p.mmdDev)<<16|uint32(p.mmdAddr)] = v
		}
		return
	}
	p.regs[reg] = v
}

func (p *phy) powerDown() {
	p.link, p.mbps, p.full = false, 0, false
	p.regs[miiLPA], p.regs[miiStat1000] = 0, 0
}

// negotiate resolves the link with the partner: the best speed both
// advertise, full duplex when both offer it at that speed.
func (p *phy) negotiate(powered bool, c Config) {
	p.powerDown()
	if !powered || c.NoCable || p.regs[miiBMCR]&bmcrPowerDown != 0 {
		return
	}
	full := !c.HalfDuplex
	var lpa, st1000 uint16 = lpaAck | advCSMA, 0
	if c.LinkMbps >= 10 {
		lpa |= adv10H
		if full {
			lpa |= adv10F
		}
	}
	if c.LinkMbps >= 100 {
		lpa |= adv100H
		if full {
			lpa |= adv100F
		}
	}
	if c.LinkMbps >= 1000 {
		st1000 = st1000H
		if full {
			st1000 |= st1000F
		}
	}
	if full {
		lpa |= advPause
	}
	adv, ctl := p.regs[miiAdv], p.regs[miiCtrl1000]
	switch {
	case st1000&st1000F != 0 && ctl&ctl1000F != 0:
		p.mbps, p.full = 1000, true
	case st1000&st1000H != 0 && ctl&ctl1000H != 0:
		p.mbps, p.full = 1000, false
	case lpa&adv&adv100F != 0:
		p.mbps, p.full = 100, true
	case lpa&adv&adv100H != 0:
		p.mbps, p.full = 100, false
	case lpa&adv&adv10F != 0:
		p.mbps, p.full = 10, true
	case lpa&adv&adv10H != 0:
		p.mbps, p.full = 10, false
	default:
		return // nothing in common
	}
	p.link = p.regs[miiBMCR]&bmcrANEnable != 0
	p.regs[miiLPA], p.regs[miiStat1000] = lpa, st1000
}
