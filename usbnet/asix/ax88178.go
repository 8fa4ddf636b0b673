package asix

import (
	"errors"
	"fmt"
	"time"

	"dongle/usbnet"
)

// AX88178 board setup. The AX88178 has no PHY of its own: the board wires
// an external gigabit PHY to its MII/GMII/RGMII port, powers it through one
// of the chip's GPIO pins and describes both in EEPROM word 0x17:
//
//	 15           8   7   6            0
//	[  LED mode    | P |   PHY mode     ]     P set: power pin GPIO1, else GPIO0
//	0xffff (unprogrammed): Marvell 88E1111 on GPIO0, LED mode 0
//
// Bind (ax88178_reset / axe_ax88178_init) then runs:
//
//	READ_GPIOS → WRITE_ENABLE, READ_EEPROM 0x17, WRITE_DISABLE → Board
//	→ the board's GPIO power-up sequence (Board.GPIOSequence)
//	→ PHYSID1/2 (only now does the PHY answer)
//	→ SW_PHY_SELECT 0 (external PHY) → SW_RESET 0, SW_RESET PRL|IPPD → RX_CTL 0
//	→ PHY-specific init: Marvell (RGMII delays, LED mode), RTL8211CL (page 5)
//	→ BMCR RESET|ANENABLE, ADVERTISE 10/100+pause, CTRL1000 1000FULL
//	→ medium mode AX88178 default → restart auto-negotiation → NODE_ID → RX_CTL
//
// Linux does this at open (ax88178_reset) and only a SW_RESET at bind;
// dongle does it at bind, once, because `dongle diag` and the specs want the
// PHY identified after Probe, and the power-up waits (≈0.4 s) then are not
// paid twice. Reset at open keeps ax88178_reset's tail: NODE_ID, RX_CTL,
// medium mode, then the link's medium mode.

// PHY modes: the low seven bits of EEPROM word 0x17 (FreeBSD if_axereg.h
// AXE_PHY_MODE_*, Linux PHY_MODE_*).
const (
	PHYModeMarvell      uint8 = 0x00
	PHYModeCicada       uint8 = 0x01
	PHYModeAgere        uint8 = 0x02
	PHYModeCicadaV2     uint8 = 0x05
	PHYModeAgereGMII    uint8 = 0x06
	PHYModeCicadaV2ASIX uint8 = 0x09
	PHYModeRTL8211CL    uint8 = 0x0c
	PHYModeRTL8211BN    uint8 = 0x0d
	PHYModeRTL8251CL    uint8 = 0x0e
	PHYModeAttansic     uint8 = 0x40
)

// EEPROMBoardWord is the AX88178 EEPROM word holding the board's PHY mode,
// power pin and LED mode.
const EEPROMBoardWord = 0x17

// Marvell 88E1111 vendor registers the AX88178 setup touches (asix.h).
const (
	MIIMarvellCtrl     = 0x14 // extended PHY specific control
	MIIMarvellLEDCtrl  = 0x18
	MIIMarvellLEDMan   = 0x19 // manual LED override
	MIIMarvellStatus   = 0x1b // extended PHY specific status
	MarvellCtrlTxDelay = 0x0002
	MarvellCtrlRxDelay = 0x0080
	// MIIPageSelect is the Realtek PHYs' page select register.
	MIIPageSelect = 0x1f
)

// Board is EEPROM word 0x17 decoded.
type Board struct {
	Word       uint16 // as read
	Programmed bool   // false: the word read 0xffff and the defaults apply
	PHYMode    uint8  // PHYModeMarvell, ...
	GPIO0      bool   // the PHY is powered through GPIO0 (else GPIO1)
	LEDMode    uint8
}

// DecodeBoard decodes EEPROM word 0x17 (ax88178_reset, axe_ax88178_init):
// 0xffff is an unprogrammed EEPROM: a Marvell PHY on GPIO0 with LED mode 0.
func DecodeBoard(w uint16) Board {
	if w == 0xffff {
		return Board{Word: w, PHYMode: PHYModeMarvell, GPIO0: true}
	}
	return Board{Word: w, Programmed: true, PHYMode: uint8(w & 0x7f), GPIO0: w&0x80 == 0, LEDMode: uint8(w >> 8)}
}

// PHYName names the PHY mode.
func (b Board) PHYName() string {
	switch b.PHYMode {
	case PHYModeMarvell:
		return "Marvell 88E1111"
	case PHYModeCicada, PHYModeCicadaV2, PHYModeCicadaV2ASIX:
		return "Cicada"
	case PHYModeAgere, PHYModeAgereGMII:
		return "Agere"
	case PHYModeRTL8211CL:
		return "Realtek RTL8211CL"
	case PHYModeRTL8211BN:
		return "Realtek RTL8211BN"
	case PHYModeRTL8251CL:
		return "Realtek RTL8251CL"
	case PHYModeAttansic:
		return "Attansic"
	}
	return fmt.Sprintf("unknown PHY mode %#02x", b.PHYMode)
}

// GPIOStep is one GPIO register write and the wait after it.
type GPIOStep struct {
	Value uint16
	Wait  time.Duration
}

// GPIOSequence is the board's PHY power-up: FreeBSD's per-PHY table
// (axe_ax88178_init), with Linux's sequence (ax88178_reset) for a Marvell
// PHY on GPIO1 and for PHY modes neither driver knows. The GPIO register is
// {RSE, -, GPO2, GPO2EN, GPO1, GPO1EN, GPO0, GPO0EN}; GPIO2 is the PHY's
// reset line on these boards (pulsed low for 250-300 ms).
func (b Board) GPIOSequence() []GPIOStep {
	const (
		short = 32 * time.Millisecond  // hz/32
		long  = 250 * time.Millisecond // hz/4
	)
	pin := GPIOGPO1 | GPIOGPO1EN
	if b.GPIO0 {
		pin = GPIOGPO0 | GPIOGPO0EN
	}
	g2 := GPIOGPO2 | GPIOGPO2EN
	// Linux: power on GPIO1, then pulse GPIO2 (or, LED mode 1, toggle GPIO1).
	linux := []GPIOStep{{GPIORSE | GPIOGPO1 | GPIOGPO1EN, 40 * time.Millisecond}}
	if b.LEDMode == 1 {
		linux = append(linux, GPIOStep{GPIOGPO1EN, 30 * time.Millisecond}, GPIOStep{GPIOGPO1EN | GPIOGPO1, 30 * time.Millisecond})
	} else {
		p := GPIOGPO1 | GPIOGPO1EN
		linux = append(linux, GPIOStep{p | g2, 30 * time.Millisecond}, GPIOStep{p | GPIOGPO2EN, 300 * time.Millisecond}, GPIOStep{p | g2, 30 * time.Millisecond})
	}
	switch b.PHYMode {
	case PHYModeMarvell:
		if !b.GPIO0 {
			return linux
		}
		return []GPIOStep{{GPIORSE | GPIOGPO0EN, short}, {GPIOGPO0EN | g2, short}, {GPIOGPO0EN | GPIOGPO2EN, long}, {GPIOGPO0EN | g2, short}}
	case PHYModeCicada, PHYModeCicadaV2, PHYModeCicadaV2ASIX:
		return []GPIOStep{{GPIORSE | pin, short}}
	case PHYModeAgere:
		p := GPIOGPO1 | GPIOGPO1EN
		return []GPIOStep{{GPIORSE | p, short}, {p | g2, short}, {p | GPIOGPO2EN, long}, {p | g2, short}}
	case PHYModeRTL8211CL, PHYModeRTL8211BN, PHYModeRTL8251CL:
		return []GPIOStep{{pin, short}, {pin | g2, short}, {pin | GPIOGPO2EN, long}, {pin | g2, short}}
	}
	return linux
}

// ErrNoPHY: nothing answers on MDIO at the PHY address the chip reported.
var ErrNoPHY = errors.New("no PHY answers")

// BoardOf returns the AX88178 board configuration Bind read (ok false if d
// is not an AX88178 bound by this driver).
func BoardOf(d *usbnet.Dev) (b Board, ok bool) {
	p, err := privOf(d)
	if err != nil || p.variant != AX88178 {
		return Board{}, false
	}
	return p.board, true
}

// PHYIDOf returns the PHY identifier (PHYSID1<<16 | PHYSID2) Bind read.
func PHYIDOf(d *usbnet.Dev) (uint32, bool) {
	p, err := privOf(d)
	if err != nil {
		return 0, false
	}
	return p.phyID, true
}

// bind178 is the AX88178 hardware setup (see the top of this file).
func (p *priv) bind178(d *usbnet.Dev) error {
	var b1 [1]byte
	if err := d.VendorIn(CmdReadGPIOs, 0, 0, b1[:]); err != nil {
		return fmt.Errorf("asix: read GPIO status: %w", err)
	}
	if err := p.write(d, "EEPROM write enable", CmdWriteEnable, 0, 0, nil); err != nil {
		return err
	}
	var w [2]byte
	if err := d.VendorIn(CmdReadEEPROM, EEPROMBoardWord, 0, w[:]); err != nil {
		return fmt.Errorf("asix: read EEPROM word %#02x (PHY mode): %w", EEPROMBoardWord, err)
	}
	if err := p.write(d, "EEPROM write disable", CmdWriteDisable, 0, 0, nil); err != nil {
		return err
	}
	p.board = DecodeBoard(uint16(w[0]) | uint16(w[1])<<8)

	for _, s := range p.board.GPIOSequence() {
		if err := p.write(d, fmt.Sprintf("GPIO %#02x (PHY power-up)", s.Value), CmdWriteGPIOs, s.Value, 0, nil); err != nil {
			return err
		}
		p.sleep(s.Wait)
	}
	var err error
	if p.phyID, err = p.readPHYID(d); err != nil {
		return err
	}
	if err := p.write(d, "PHY select (external)", CmdSWPHYSelect, 0, 0, nil); err != nil {
		return err
	}
	if err := p.swReset(d, SWResetClear); err != nil {
		return err
	}
	p.sleep(150 * time.Millisecond)
	if err := p.swReset(d, SWResetPRL|SWResetIPPD); err != nil {
		return err
	}
	p.sleep(150 * time.Millisecond)
	if err := p.write(d, "RX_CTL", CmdWriteRxCtl, 0, 0, nil); err != nil {
		return err
	}
	switch p.board.PHYMode {
	case PHYModeMarvell:
		if err := p.marvellInit(d); err != nil {
			return err
		}
		p.sleep(60 * time.Millisecond)
	case PHYModeRTL8211CL:
		if err := p.rtl8211clInit(d); err != nil {
			return err
		}
	}
	if err := p.resetPHY(d, BMCRReset|BMCRANEnable); err != nil {
		return err
	}
	if err := p.mdioWrite(d, MIIAdvertise, ADVAll|ADVCSMA|ADVPauseCap); err != nil {
		return err
	}
	if err := p.mdioWrite(d, MIICtrl1000, Adv1000Full); err != nil {
		return err
	}
	if err := p.write(d, "medium mode", CmdWriteMediumMode, Medium178Default, 0, nil); err != nil {
		return err
	}
	p.jfe = true // AX88178_MEDIUM_DEFAULT has JFE; ChangeMTU decides from then on
	if err := p.nwayRestart(d); err != nil {
		return err
	}
	if err := p.write(d, "NODE_ID", CmdWriteNodeID, 0, 0, d.Net.HardwareAddr()); err != nil {
		return err
	}
	return p.write(d, "RX_CTL", CmdWriteRxCtl, DefaultRxCtl, 0, nil)
}

// marvellInit is marvell_phy_init: RGMII receive and transmit clock delays
// on, and with a non-zero LED mode, LED control's bits 8..10 cleared and
// bits 0 and 8 set.
func (p *priv) marvellInit(d *usbnet.Dev) error {
	if _, err := p.mdioRead(d, MIIMarvellStatus); err != nil {
		return err
	}
	if err := p.mdioWrite(d, MIIMarvellCtrl, MarvellCtrlRxDelay|MarvellCtrlTxDelay); err != nil {
		return err
	}
	if p.board.LEDMode == 0 {
		return nil
	}
	v, err := p.mdioRead(d, MIIMarvellLEDCtrl)
	if err != nil {
		return err
	}
	return p.mdioWrite(d, MIIMarvellLEDCtrl, v&0xf8ff|0x0101)
}

// marvellLEDs is marvell_led_status: the manual LED override shows the
// link speed (LED mode boards only).
func (p *priv) marvellLEDs(d *usbnet.Dev, mbps int) error {
	v, err := p.mdioRead(d, MIIMarvellLEDMan)
	if err != nil {
		return err
	}
	v &= 0xfc0f
	switch mbps {
	case 1000:
		v |= 0x03e0
	case 100:
		v |= 0x03b0
	default:
		v |= 0x02f0
	}
	return p.mdioWrite(d, MIIMarvellLEDMan, v)
}

// rtl8211clInit is rtl8211cl_phy_init: on page 5, register 12 cleared and
// bit 7 of register 1 set; LED mode 12 boards also get 0x00cb in page 2's
// register 26. The page is always put back to 0.
func (p *priv) rtl8211clInit(d *usbnet.Dev) error {
	steps := []func() error{
		func() error { return p.mdioWrite(d, MIIPageSelect, 5) },
		func() error { return p.mdioWrite(d, 0x0c, 0) },
		func() error {
			v, err := p.mdioRead(d, 0x01)
			if err != nil {
				return err
			}
			return p.mdioWrite(d, 0x01, v|0x0080)
		},
		func() error { return p.mdioWrite(d, MIIPageSelect, 0) },
	}
	if p.board.LEDMode == 12 {
		steps = append(steps,
			func() error { return p.mdioWrite(d, MIIPageSelect, 2) },
			func() error { return p.mdioWrite(d, 0x1a, 0x00cb) },
			func() error { return p.mdioWrite(d, MIIPageSelect, 0) })
	}
	for _, s := range steps {
		if err := s(); err != nil {
			return err
		}
	}
	return nil
}

// nwayRestart is mii_nway_restart: with auto-negotiation enabled, restart
// it.
func (p *priv) nwayRestart(d *usbnet.Dev) error {
	v, err := p.mdioRead(d, MIIBMCR)
	if err != nil {
		return err
	}
	if v&BMCRANEnable == 0 {
		return nil
	}
	return p.mdioWrite(d, MIIBMCR, v|BMCRANRestart)
}
