package rtl8153

// phy is the RTL8153B's internal gigabit PHY as its OCP registers show it:
// the MII registers at 0xa400 + 2*reg, the PHY state in OCP_PHY_STATUS,
// the patch handshake, the SRAM window, and a store for the rest.
//
// It powers up with BMCR_PDOWN set (OCP_PHY_STATUS PHY_STAT_PWRDN), the
// state r8153b_init and r8153b_hw_phy_cfg clear; out of power-down it is
// PHY_STAT_LAN_ON at once and autonegotiates against the link partner
// (Config.LinkMbps, HalfDuplex, NoCable) with what ADVERTISE and
// CTRL1000 offer. Negotiation completes as soon as it starts.
type phy struct {
	regs  map[uint16]uint16 // every OCP register by address, modelled or not
	sram  map[uint16]uint16 // PHY SRAM behind OCP_SRAM_ADDR/DATA
	link  bool
	mbps  int
	full  bool
	pause bool
	lpa   uint16 // partner's ADVERTISE word once negotiated
	lpa1k uint16 // partner's gigabit bits in STAT1000
}

func mii(r int) uint16 { return uint16(ocpBaseMII + 2*r) }

// ocpModelled reports whether OCP register o has meaning in the model.
func ocpModelled(o uint16) bool {
	switch o {
	case ocpPHYStatus, ocpPowerCfg, ocpSRAMAddr, ocpSRAMData, ocpPatchStat, ocpPatchCmd:
		return true
	}
	return o >= ocpBaseMII && o < ocpBaseMII+0x20
}

func (p *phy) reset() {
	p.regs = map[uint16]uint16{
		mii(miiBMCR):     bmcrANEnable | bmcrPDown | bmcrSpeed1000 | bmcrFullDplx,
		mii(miiPHYSID1):  phyID1,
		mii(miiPHYSID2):  phyID2,
		mii(miiADVERT):   0x01 | adv10Half | adv10Full | adv100Half | adv100Full | advPause | advAsym,
		mii(miiCTRL1000): adv1000Full,
		mii(miiESTATUS):  0x2000, // 1000BASE-T full duplex capable
		ocpPowerCfg:      powerCfgALDPS,
	}
	p.sram = map[uint16]uint16{}
	p.link, p.mbps, p.full, p.pause, p.lpa, p.lpa1k = false, 0, false, false, 0, 0
}

func (p *phy) powered() bool { return p.regs[mii(miiBMCR)]&bmcrPDown == 0 }

// aldps reports whether the PHY is in ALDPS power saving (EN_ALDPS set).
func (p *phy) aldps() bool { return p.regs[ocpPowerCfg]&powerCfgALDPS != 0 }

func (p *phy) read(o uint16) uint16 {
	switch o {
	case mii(miiBMSR):
		v := uint16(bmsrBasic)
		if p.link {
			v |= bmsrLStatus
		}
		if p.link && p.regs[mii(miiBMCR)]&bmcrANEnable != 0 {
			v |= bmsrANEGDone
		}
		return v
	case mii(miiLPA):
		return p.lpa
	case mii(miiEXPANSION):
		if p.lpa != 0 {
			return 0x0001 // the partner is autonegotiation capable
		}
		return 0
	case mii(miiSTAT1000):
		return p.lpa1k
	case ocpPHYStatus:
		if p.powered() {
			return phyStatLANOn
		}
		return phyStatPwrDn
	case ocpPatchStat: // the PHY grants a patch request at once
		if p.regs[ocpPatchCmd]&patchRequest != 0 {
			return patchReady
		}
		return 0
	case ocpSRAMData:
		return p.sram[p.regs[ocpSRAMAddr]]
	}
	return p.regs[o]
}

// write stores v in OCP register o and applies what the PHY does.
func (p *phy) write(o, v uint16, cfg Config) {
	switch o {
	case mii(miiBMSR), mii(miiLPA), mii(miiEXPANSION), mii(miiSTAT1000), mii(miiPHYSID1), mii(miiPHYSID2), ocpPHYStatus, ocpPatchStat:
		return // read-only
	case ocpSRAMData:
		p.sram[p.regs[ocpSRAMAddr]] = v
		return
	}
	p.regs[o] = v
	if o == mii(miiBMCR) {
		// BMCR_RESET and BMCR_ANRESTART complete at once; any BMCR write
		// (power, speed, duplex, autonegotiation) settles the link anew.
		p.regs[o] &^= bmcrReset | bmcrANRestart
		p.negotiate(cfg)
	}
}

// negotiate settles the link from BMCR, ADVERTISE/CTRL1000 and the
// partner.
func (p *phy) negotiate(cfg Config) {
	p.link, p.mbps, p.full, p.pause, p.lpa, p.lpa1k = false, 0, false, false, 0, 0
	if !p.powered() || cfg.NoCable {
		return
	}
	bmcr := p.regs[mii(miiBMCR)]
	// The partner advertises everything up to its best speed.
	var lpa, lpa1k uint16 = 0x01 | advPause | lpaLPACK, 0
	switch {
	case cfg.LinkMbps >= 1000:
		lpa |= adv10Half | adv100Half
		lpa1k = lpa1000Full
		if !cfg.HalfDuplex {
			lpa |= adv10Full | adv100Full
		}
	case cfg.LinkMbps >= 100:
		lpa |= adv10Half | adv100Half
		if !cfg.HalfDuplex {
			lpa |= adv10Full | adv100Full
		}
	default:
		lpa |= adv10Half
		if !cfg.HalfDuplex {
			lpa |= adv10Full
		}
	}
	if bmcr&bmcrANEnable == 0 {
		// Forced: the link comes up at the forced speed if the partner
		// can do it (parallel detection), duplex as forced.
		mbps := 10
		switch {
		case bmcr&bmcrSpeed1000 != 0 && bmcr&bmcrSpeed100 == 0:
			mbps = 1000
		case bmcr&bmcrSpeed100 != 0:
			mbps = 100
		}
		if mbps > cfg.LinkMbps || mbps == 1000 { // 1000BASE-T cannot be forced
			return
		}
		p.link, p.mbps, p.full = true, mbps, bmcr&bmcrFullDplx != 0
		return
	}
	adv, adv1k := p.regs[mii(miiADVERT)], p.regs[mii(miiCTRL1000)]
	p.lpa, p.lpa1k = lpa, lpa1k
	switch common := adv & lpa; {
	case adv1k&adv1000Full != 0 && lpa1k&lpa1000Full != 0:
		p.mbps, p.full = 1000, true
	case common&adv100Full != 0:
		p.mbps, p.full = 100, true
	case common&adv100Half != 0:
		p.mbps = 100
	case common&adv10Full != 0:
		p.mbps, p.full = 10, true
	case common&adv10Half != 0:
		p.mbps = 10
	default:
		return // nothing in common: no link
	}
	p.link = true
	p.pause = p.full && adv&advPause != 0 && lpa&advPause != 0
}
