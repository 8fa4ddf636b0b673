package r8152

import (
	"errors"
	"time"

	"dongle/hw"
	"dongle/usbnet"
)

// Poll bounds: how often Linux polls each self-clearing or ready bit, and
// how long it sleeps between polls. A poll that runs out is not an error:
// Linux goes on too.
const (
	autoloadPolls  = 500 // r8153b_init: 500 x 20 ms
	autoloadSleep  = 20 * time.Millisecond
	phyStatusPolls = 500 // r8153_phy_status: 500 x 20 ms
	phyStatusSleep = 20 * time.Millisecond
	nicResetPolls  = 1000 // rtl8152_nic_reset: 1000 x 100 us
	nicResetSleep  = 100 * time.Microsecond
	llReadyPolls   = 1000 // wait_oob_link_list_ready: 1000 x 1 ms
	llReadySleep   = time.Millisecond
	bmcrResetPolls = 50 // rtl8152_set_speed: 50 x 20 ms
	bmcrResetSleep = 20 * time.Millisecond
)

// ErrPoll: a bit the chip should have set or cleared did not change in the
// time Linux waits for it.
var ErrPoll = errors.New("r8152: chip did not become ready")

// poll reads until done reports true, at most n times, sleeping between.
func (dr *Driver) poll(n int, every time.Duration, read func() (bool, error)) error {
	for i := 0; i < n; i++ {
		ok, err := read()
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
		dr.sleep(every)
	}
	return ErrPoll
}

// init is rtl_ops.init at probe: r8153b_init for the RTL8153B, the same
// steps r8153_init and r8152b_init share for the others (see the package
// doc for what is left out).
func (dr *Driver) init(d *usbnet.Dev, p *priv) error {
	chip := p.ver.Chip()
	if chip != RTL8152 {
		// USB link power management off while the chip is set up
		// (r8153b_u1u2en / r8153_u1u2en false).
		if err := Modify16(d, USB, USBLPMConfig, LPMU1U2Enable, 0); err != nil {
			return err
		}
		err := dr.poll(autoloadPolls, autoloadSleep, func() (bool, error) {
			v, err := Read16(d, PLA, PLABootCtrl)
			return v&BootAutoloadOK != 0, err
		})
		if err != nil && !errors.Is(err, ErrPoll) {
			return err
		}
		if err := dr.phyPowerUp(d, p); err != nil {
			return err
		}
		// r8153_u2p3en(false): no U2 power state 3.
		if err := Modify16(d, USB, USBU2P3Ctrl, U2P3Enable, 0); err != nil {
			return err
		}
		// MSC timer = 0xfff * 8 ms.
		if err := Write16(d, USB, USBMSCTimer, 0x0fff); err != nil {
			return err
		}
		// Power cut off (r8153b_power_cut_en false).
		if err := Modify16(d, USB, USBPowerCut, PwrCutPwrEn, 0); err != nil {
			return err
		}
		if err := Modify16(d, USB, USBMisc0, Misc0PCutStatus, 0); err != nil {
			return err
		}
		// MCU speed-down off (PLA_MAC_PWR_CTRL3 &= ~PLA_MCU_SPDWN_EN).
		if err := Modify16(d, PLA, PLAMACPwr3, MACPwr3MCUSpdwn, 0); err != nil {
			return err
		}
	}
	// RX aggregation on: clear RX_AGG_DISABLE and RX_ZERO_EN.
	if err := Modify16(d, USB, USBUSBCtrl, USBCtrlRxAggDis|USBCtrlRxZeroEn, 0); err != nil {
		return err
	}
	return TallyResetNow(d)
}

// phyPowerUp is r8153b_init's PHY part: wait for the PHY to settle
// (r8153_phy_status(tp, 0)), take it out of power-down (BMCR), and wait
// until it is on the LAN (PHY_STAT_LAN_ON).
func (dr *Driver) phyPowerUp(d *usbnet.Dev, p *priv) error {
	status := func(want uint16) error {
		err := dr.poll(phyStatusPolls, phyStatusSleep, func() (bool, error) {
			v, err := p.phy.Read(OCPPhyStatus)
			s := v & phyStatMask
			if want == 0 {
				return s == PhyStatLANOn || s == 5, err // LAN_ON or PWRDN
			}
			return s == want, err
		})
		if errors.Is(err, ErrPoll) {
			return nil
		}
		return err
	}
	if err := status(0); err != nil {
		return err
	}
	bmcr, err := p.phy.MDIORead(MIIBMCR)
	if err != nil {
		return err
	}
	if bmcr&bmcrPowerDown != 0 {
		if err := p.phy.MDIOWrite(MIIBMCR, bmcr&^bmcrPowerDown); err != nil {
			return err
		}
	}
	return status(PhyStatLANOn)
}

// up is rtl_ops.up at open: r8153_first_init (rtl8153_up, rtl8153b_up) or
// r8152b_exit_oob (rtl8152_up), then autonegotiation.
func (dr *Driver) up(d *usbnet.Dev, p *priv) error {
	steps := dr.firstInit
	if p.ver.Chip() == RTL8152 {
		steps = dr.exitOOB
	}
	if err := steps(d, p); err != nil {
		return err
	}
	if p.ver.Chip() == RTL8153B {
		if err := Write32(d, USB, USBRxBufTh, RxThrB); err != nil {
			return err
		}
	}
	return dr.setSpeed(d, p)
}

// firstInit is r8153_first_init.
func (dr *Driver) firstInit(d *usbnet.Dev, p *priv) error {
	mtu := d.Net.MTU()
	for _, step := range []func() error{
		func() error { return Modify16(d, PLA, PLAMisc1, 0, Misc1RxdyGated) }, // rxdy_gated_en(true)
		func() error { return teredoOff(d, p) },
		func() error { return Modify32(d, PLA, PLARCR, RCRAcptAll, 0) },
		func() error { return dr.nicReset(d) },
		func() error { return resetBMU(d) },
		func() error { return Modify8(d, PLA, PLAOOBCtrl, OOBNowIsOOB, 0) },
		func() error { return Modify16(d, PLA, PLASFFSts7, SFFMCUBorwEn, 0) },
		func() error { return dr.waitLinkList(d) },
		func() error { return Modify16(d, PLA, PLASFFSts7, 0, SFFReInitLL) },
		func() error { return dr.waitLinkList(d) },
		func() error { return Modify16(d, PLA, PLACPCR, CPCRRxVLAN, 0) }, // rtl_rx_vlan_en(false)
		func() error { return setRMS(d, p, mtu) },                        // rtl8153_change_mtu
		func() error { return Modify16(d, PLA, PLATCR0, 0, TCR0AutoFIFO) },
		func() error { return dr.nicReset(d) },
		func() error { return Write32(d, PLA, PLARxFIFOCtl0, RxFIFOThr1Normal) },
		func() error { return Write16(d, PLA, PLARxFIFOCtl1, RxFIFOThr2Normal) },
		func() error { return Write16(d, PLA, PLARxFIFOCtl2, RxFIFOThr3Normal) },
		func() error { return Write32(d, PLA, PLATxFIFOCtl, TxFIFOThrNormal2) },
	} {
		if err := step(); err != nil {
			return err
		}
	}
	return nil
}

// RTL8152 thresholds r8152b_exit_oob writes.
const (
	rxFIFOThr2Full   uint32 = 0x00000060
	rxFIFOThr2High   uint32 = 0x00000038
	rxFIFOThr3Full   uint32 = 0x00000078
	rxFIFOThr3High   uint32 = 0x00000048
	txFIFOThrNormal  uint32 = 0x00400008
	txAggMaxThresh   uint8  = 0x03
	rxThrHigh        uint32 = 0x7a120180
	txDMATestModeOff uint32 = 0x00000001 | 0x00000100 // TEST_MODE_DISABLE | TX_SIZE_ADJUST1
)

// exitOOB is r8152b_exit_oob (the RTL8152's rtl8152_up).
func (dr *Driver) exitOOB(d *usbnet.Dev, p *priv) error {
	thr2, thr3 := rxFIFOThr2High, rxFIFOThr3High
	if d.USBSpeed() <= hw.SpeedFull {
		thr2, thr3 = rxFIFOThr2Full, rxFIFOThr3Full
	}
	for _, step := range []func() error{
		func() error { return Modify32(d, PLA, PLARCR, RCRAcptAll, 0) },
		func() error { return Modify16(d, PLA, PLAMisc1, 0, Misc1RxdyGated) },
		func() error { return teredoOff(d, p) },
		func() error { return Write8(d, PLA, PLACRWECR, CRWECRNormal) },
		func() error { return Write8(d, PLA, PLACR, 0) },
		func() error { return Modify8(d, PLA, PLAOOBCtrl, OOBNowIsOOB, 0) },
		func() error { return Modify16(d, PLA, PLASFFSts7, SFFMCUBorwEn, 0) },
		func() error { return dr.waitLinkList(d) },
		func() error { return Modify16(d, PLA, PLASFFSts7, 0, SFFReInitLL) },
		func() error { return dr.waitLinkList(d) },
		func() error { return dr.nicReset(d) },
		func() error { return Write32(d, PLA, PLARxFIFOCtl0, RxFIFOThr1Normal) },
		func() error { return Write32(d, PLA, PLARxFIFOCtl1, thr2) },
		func() error { return Write32(d, PLA, PLARxFIFOCtl2, thr3) },
		func() error { return Write32(d, PLA, PLATxFIFOCtl, txFIFOThrNormal) },
		func() error { return Write8(d, USB, USBTxAgg, txAggMaxThresh) },
		func() error { return Write32(d, USB, USBRxBufTh, rxThrHigh) },
		func() error { return Write32(d, USB, USBTxDMA, txDMATestModeOff) },
		func() error { return Modify16(d, PLA, PLACPCR, CPCRRxVLAN, 0) },
		func() error { return Write16(d, PLA, PLARMS, RMS8152) },
		func() error { return Modify16(d, PLA, PLATCR0, 0, TCR0AutoFIFO) },
	} {
		if err := step(); err != nil {
			return err
		}
	}
	return nil
}

// nicReset is rtl8152_nic_reset: CR_RST, then wait for it to clear.
func (dr *Driver) nicReset(d *usbnet.Dev) error {
	if err := Write8(d, PLA, PLACR, CRRst); err != nil {
		return err
	}
	err := dr.poll(nicResetPolls, nicResetSleep, func() (bool, error) {
		v, err := Read8(d, PLA, PLACR)
		return v&CRRst == 0, err
	})
	if errors.Is(err, ErrPoll) {
		return nil
	}
	return err
}

// waitLinkList is wait_oob_link_list_ready.
func (dr *Driver) waitLinkList(d *usbnet.Dev) error {
	err := dr.poll(llReadyPolls, llReadySleep, func() (bool, error) {
		v, err := Read8(d, PLA, PLAOOBCtrl)
		return v&OOBLinkListRdy != 0, err
	})
	if errors.Is(err, ErrPoll) {
		return nil
	}
	return err
}

// resetBMU is rtl_reset_bmu: both endpoints' buffer managers through reset.
func resetBMU(d *usbnet.Dev) error {
	if err := Modify8(d, USB, USBBMUReset, BMUResetEPIn|BMUResetEPOut, 0); err != nil {
		return err
	}
	return Modify8(d, USB, USBBMUReset, 0, BMUResetEPIn|BMUResetEPOut)
}

// Advertisement bits rtl8152_set_speed writes (everything the chip can).
const (
	advAll10100 uint16 = 0x0020 | 0x0040 | 0x0080 | 0x0100 // 10H 10F 100H 100F
	adv1000Full uint16 = 0x0200
	adv1000Half uint16 = 0x0100
	bmcrReset   uint16 = 0x8000
)

// setSpeed is rtl8152_set_speed(AUTONEG_ENABLE, everything advertised)
// after a PHY reset: ADVERTISE, CTRL1000 on gigabit parts, then BMCR with
// ANENABLE|ANRESTART|RESET, waiting for the reset to clear.
func (dr *Driver) setSpeed(d *usbnet.Dev, p *priv) error {
	adv, err := p.phy.MDIORead(MIIAdv)
	if err != nil {
		return err
	}
	if n := adv | advAll10100; n != adv {
		if err := p.phy.MDIOWrite(MIIAdv, n); err != nil {
			return err
		}
	}
	if p.ver.Chip() != RTL8152 {
		g, err := p.phy.MDIORead(MIICtrl1000)
		if err != nil {
			return err
		}
		if n := g&^(adv1000Full|adv1000Half) | adv1000Full; n != g {
			if err := p.phy.MDIOWrite(MIICtrl1000, n); err != nil {
				return err
			}
		}
	}
	if err := p.phy.MDIOWrite(MIIBMCR, bmcrANEnable|bmcrANRestart|bmcrReset); err != nil {
		return err
	}
	err = dr.poll(bmcrResetPolls, bmcrResetSleep, func() (bool, error) {
		v, err := p.phy.MDIORead(MIIBMCR)
		return v&bmcrReset == 0, err
	})
	if errors.Is(err, ErrPoll) {
		return nil
	}
	return err
}

// TallyResetNow is rtl_tally_reset: PLA_RSTTALLY |= TALLY_RESET.
func TallyResetNow(c Ctrl) error { return Modify16(c, PLA, PLARstTally, 0, TallyReset) }

// teredoOff is r8153_teredo_off: the Teredo/wake offload off (it would
// take frames the host should see). The RTL8152 and RTL8153 clear its
// bits; from the RTL8153B on bits 0-7 are write-1-to-clear and Linux
// writes 0xff. Then the watchdog mode and both wake timers.
func teredoOff(d *usbnet.Dev, p *priv) error {
	var err error
	if c := p.ver.Chip(); c == RTL8152 || c == RTL8153 {
		err = Modify16(d, PLA, PLATeredoCfg, TeredoOff, 0)
	} else {
		err = Write8(d, PLA, PLATeredoCfg, 0xff)
	}
	if err != nil {
		return err
	}
	if err := Write16(d, PLA, PLAWDT6Ctrl, WDT6SetMode); err != nil {
		return err
	}
	if err := Write16(d, PLA, PLARealWoWTmr, 0); err != nil {
		return err
	}
	return Write32(d, PLA, PLATeredoTmr, 0)
}
