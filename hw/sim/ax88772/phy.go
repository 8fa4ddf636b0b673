package ax88772

// phy is the embedded 10/100 PHY: clause 22 registers and an
// auto-negotiation against a link partner that completes at once.
//
//	BMCR.RESET     → registers to defaults, renegotiate (self-clearing)
//	BMCR.ANRESTART → renegotiate with the current ANAR (self-clearing)
//	BMCR.PDOWN, SW_RESET IPPD, no cable → link down
//	link = highest common mode of ANAR & partner: 100F > 100H > 10F > 10H
type phy struct {
	bmcr, anar uint16
	regs       [32]uint16 // vendor registers (16..31) and anything else written
	partner    Link
	cable      bool
	powered    bool // SW_RESET IPPD clear (internal PHY powered)
	up         bool
	res        Link
}

func (p *phy) init(partner Link, cable bool) {
	p.partner, p.cable = partner, cable
	p.powered = true
	p.defaults()
}

func (p *phy) defaults() {
	p.bmcr = bmcrANEnable | bmcrSpeed100 | bmcrFullDplx
	p.anar = adv10Half | adv10Full | adv100Half | adv100Full | advPause | advCSMA
	p.regs = [32]uint16{}
	p.negotiate()
}

// partnerAdv is the partner's ANLPAR (without ACK).
func (p *phy) partnerAdv() uint16 {
	a := uint16(advCSMA)
	switch {
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

func (p *phy) negotiate() {
	p.up = false
	if !p.cable || !p.powered || p.bmcr&bmcrPowerDown != 0 {
		return
	}
	if p.bmcr&bmcrANEnable == 0 {
		// Forced mode: the partner must offer exactly this.
		l := Link{Mbps: 10, FullDuplex: p.bmcr&bmcrFullDplx != 0, Pause: false}
		if p.bmcr&bmcrSpeed100 != 0 {
			l.Mbps = 100
		}
		if l.Mbps == p.partner.Mbps && l.FullDuplex == p.partner.FullDuplex {
			p.up, p.res = true, l
		}
		return
	}
	common := p.anar & p.partnerAdv()
	switch {
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

func (p *phy) read(r int) uint16 {
	switch r & 31 {
	case phyBMCR:
		return p.bmcr
	case phyBMSR:
		v := uint16(bmsrBase | bmsrANegCap)
		if p.up {
			v |= bmsrLink
			if p.bmcr&bmcrANEnable != 0 {
				v |= bmsrANegDone
			}
		}
		return v
	case phyID1:
		return phyIDHigh
	case phyID2:
		return phyIDLow
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
	return p.regs[r&31]
}

func (p *phy) write(r int, v uint16) {
	switch r & 31 {
	case phyBMCR:
		if v&bmcrReset != 0 {
			p.defaults()
			return
		}
		p.bmcr = v &^ bmcrANRestart
		p.negotiate()
	case phyANAR:
		p.anar = v
	case phyBMSR, phyID1, phyID2, phyANLPAR, phyANER:
		// read-only
	default:
		p.regs[r&31] = v
	}
}
