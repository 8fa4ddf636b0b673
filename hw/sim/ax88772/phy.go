package ax88772

// phy is the PHY behind the MDIO bus: the AX88772B's embedded 10/100 PHY, or
// the AX88178's external gigabit PHY (gig). Clause 22 registers and an
// auto-negotiation against a link partner that completes at once:
//
//	power-up       → every register to its default
//	BMCR.RESET     → BMCR/ANAR/CTRL1000 to defaults, renegotiate (self-clearing);
//	                 vendor registers and pages keep their values (the
//	                 Marvell's RGMII delays take effect at this reset)
//	BMCR.ANRESTART → renegotiate with the current ANAR/CTRL1000 (self-clearing)
//	BMCR.PDOWN, not powered, no cable → link down
//	link = highest common mode: 1000F > 1000H (CTRL1000 & partner's STAT1000,
//	gigabit PHY only) > 100F > 100H > 10F > 10H (ANAR & partner's ANLPAR)
//
// The gigabit PHY also has vendor registers (16..31) that keep what is
// written, and a page select at register 31 (Realtek): while it is not 0,
// every other register reads and writes a page of its own.
type phy struct {
	gig        bool
	id         uint32
	bmcr, anar uint16
	ctrl1000   uint16
	regs       [32]uint16 // vendor registers (16..31) and anything else written
	paged      map[[2]uint16]uint16
	partner    Link
	cable      bool
	powered    bool // embedded: SW_RESET IPPD clear; external: GPIO power pin driven
	up         bool
	res        Link
}

func (p *phy) init(o Options, cable bool) {
	p.gig = o.Chip == AX88178
	p.id = o.PHYID
	p.partner, p.cable = o.Partner, cable
	// The embedded PHY is powered at reset; the external one waits for the
	// host to drive its GPIO power pin.
	p.powered = !p.gig
	p.defaults()
}

// defaults is the power-on state.
func (p *phy) defaults() {
	p.regs = [32]uint16{}
	p.paged = nil
	if p.gig {
		p.regs[marvellCtrl] = marvellCtrlDefault
		p.regs[marvellLEDCtrl] = marvellLEDCtrlDefault
		p.regs[marvellStatus] = marvellStatusDefault
	}
	p.softReset()
}

// softReset is BMCR.RESET: the IEEE control registers only.
func (p *phy) softReset() {
	p.anar = adv10Half | adv10Full | adv100Half | adv100Full | advPause | advCSMA
	if p.gig {
		p.bmcr = bmcrANEnable | bmcrSpeed1000 | bmcrFullDplx
		p.ctrl1000 = adv1000Full | adv1000Half
	} else {
		p.bmcr = bmcrANEnable | bmcrSpeed100 | bmcrFullDplx
		p.ctrl1000 = 0
	}
	p.negotiate()
}

// partnerAdv is the partner's ANLPAR (without ACK).
func (p *phy) partnerAdv() uint16 {
	a := uint16(advCSMA)
	switch {
	case p.partner.Mbps == 1000:
		a |= adv10Half | adv10Full | adv100Half | adv100Full
	case p.partner.Mbps == 100 && p.partner.FullDuplex:
		a |= adv100Full
	case p.partner.Mbps == 100:
		a |= adv100Half
	case p.partner.FullDuplex:
		a |= adv10Full
	default:
		a |= adv10Half
	}
	if p.partner.Pause {
		a |= advPause
	}
	return a
}

// partner1000 is the partner's gigabit offer as STAT1000 reports it.
func (p *phy) partner1000() uint16 {
	switch {
	case p.partner.Mbps != 1000:
		return 0
	case p.partner.FullDuplex:
		return lpa1000Full
	}
	return lpa1000Half
}

func (p *phy) negotiate() {
	p.up = false
	if !p.cable || !p.powered || p.bmcr&bmcrPowerDown != 0 {
		return
	}
	if p.bmcr&bmcrANEnable == 0 {
		// Forced mode: the partner must offer exactly this.
		l := Link{Mbps: 10, FullDuplex: p.bmcr&bmcrFullDplx != 0, Pause: false}
		switch {
		case p.gig && p.bmcr&bmcrSpeed1000 != 0 && p.bmcr&bmcrSpeed100 == 0:
			l.Mbps = 1000
		case p.bmcr&bmcrSpeed100 != 0:
			l.Mbps = 100
		}
		if l.Mbps == p.partner.Mbps && l.FullDuplex == p.partner.FullDuplex {
			p.up, p.res = true, l
		}
		return
	}
	common := p.anar & p.partnerAdv()
	var g uint16
	if p.gig {
		g = p.ctrl1000 & (p.partner1000() >> 2) // LPA_1000FULL/HALF sit two bits above ADVERTISE_1000FULL/HALF
	}
	switch {
	case g&adv1000Full != 0:
		p.res = Link{Mbps: 1000, FullDuplex: true}
	case g&adv1000Half != 0:
		p.res = Link{Mbps: 1000}
	case common&adv100Full != 0:
		p.res = Link{Mbps: 100, FullDuplex: true}
	case common&adv100Half != 0:
		p.res = Link{Mbps: 100}
	case common&adv10Full != 0:
		p.res = Link{Mbps: 10, FullDuplex: true}
	case common&adv10Half != 0:
		p.res = Link{Mbps: 10}
	default:
		return
	}
	p.res.Pause = p.res.FullDuplex && common&advPause != 0
	p.up = true
}

func (p *phy) resolved() (Link, bool) { return p.res, p.up }

func (p *phy) page() uint16 {
	if !p.gig {
		return 0
	}
	return p.regs[phyPageSel]
}

func (p *phy) read(r int) uint16 {
	r &= 31
	if pg := p.page(); pg != 0 && r != phyPageSel {
		return p.paged[[2]uint16{pg, uint16(r)}]
	}
	switch r {
	case phyBMCR:
		return p.bmcr
	case phyBMSR:
		v := uint16(bmsrBase | bmsrANegCap)
		if p.gig {
			v |= bmsrEStatEn
		}
		if p.up {
			v |= bmsrLink
			if p.bmcr&bmcrANEnable != 0 {
				v |= bmsrANegDone
			}
		}
		return v
	case phyID1:
		return uint16(p.id >> 16)
	case phyID2:
		return uint16(p.id)
	case phyANAR:
		return p.anar
	case phyANLPAR:
		if !p.up || p.bmcr&bmcrANEnable == 0 {
			return 0
		}
		return p.partnerAdv() | lpaAck
	case phyANER:
		if p.up {
			return 0x0001 // partner is auto-negotiation able
		}
		return 0
	}
	if p.gig {
		switch r {
		case phyCtrl1000:
			return p.ctrl1000
		case phyStat1000:
			if !p.up || p.bmcr&bmcrANEnable == 0 {
				return 0
			}
			v := p.partner1000()
			if p.res.Mbps == 1000 {
				v |= stat1000LocalRxOK | stat1000RemoteRxOK
			}
			return v
		case phyEStatus:
			return estatus1000Full | estatus1000Half
		}
	}
	return p.regs[r]
}

// write writes register r. It reports whether the write restarted the
// link (BMCR.RESET or ANRESTART): the link goes down and negotiates again,
// which the chip reports on its interrupt endpoint even when it comes back
// as it was.
func (p *phy) write(r int, v uint16) (renegotiated bool) {
	r &= 31
	if pg := p.page(); pg != 0 && r != phyPageSel {
		if p.paged == nil {
			p.paged = map[[2]uint16]uint16{}
		}
		p.paged[[2]uint16{pg, uint16(r)}] = v
		return false
	}
	switch r {
	case phyBMCR:
		if v&bmcrReset != 0 {
			p.softReset()
			return true
		}
		p.bmcr = v &^ bmcrANRestart
		p.negotiate()
		return v&bmcrANRestart != 0
	case phyANAR:
		p.anar = v
	case phyBMSR, phyID1, phyID2, phyANLPAR, phyANER:
		// read-only
	case phyCtrl1000:
		if p.gig {
			p.ctrl1000 = v
		} else {
			p.regs[r] = v
		}
	case phyStat1000, phyEStatus:
		if !p.gig {
			p.regs[r] = v
		}
	default:
		p.regs[r] = v
	}
	return false
}
