package asix

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"dongle/hw"
	"dongle/usbnet"
)

// PHY access. The MDIO bus is shared between the MAC (which polls the PHY
// by itself) and the host; the host asks for it with SET_SW_MII and may
// use it once STATMNGSTS shows HostEn, then hands it back with SET_HW_MII:
//
//	SET_SW_MII ─► STATMNGSTS & HostEn? ─no (≤30 tries)─┐
//	     ▲                                              │
//	     └──────────────────────────────────────────────┘
//	     yes ─► READ_MII_REG / WRITE_MII_REG ─► SET_HW_MII
//
// All of it happens under the device's MII lock (Linux's phy_mutex).

// hostEnTries is how many times the arbiter is asked (asix_mdio_read).
const hostEnTries = 30

// ErrMIIBusy: the chip never set HostEn.
var ErrMIIBusy = errors.New("MII arbiter never granted the bus to the host (HostEn clear)")

// PHYAddrError is a PHY address the chip reported that cannot be on an
// MDIO bus (CVE-2025-71094: Linux used it as an index).
type PHYAddrError struct {
	Device string
	Addr   uint8
}

func (e *PHYAddrError) Error() string {
	return fmt.Sprintf("asix: %s: READ_PHY_ID reports PHY address %d (must be below %d)", e.Device, e.Addr, MaxPHYAddr)
}

// Unwrap makes a bad PHY address an hw.ErrInvalid.
func (e *PHYAddrError) Unwrap() error { return hw.ErrInvalid }

// ReadPHYAddr reads READ_PHY_ID and returns the primary PHY's address
// (asix_read_phy_addr with internal set: byte 1), rejecting any ≥ 32.
func ReadPHYAddr(d *usbnet.Dev) (uint8, error) {
	var b [2]byte
	if err := d.VendorIn(CmdReadPHYID, 0, 0, b[:]); err != nil {
		return 0, fmt.Errorf("asix: read PHY address: %w", err)
	}
	if b[1] >= MaxPHYAddr {
		return 0, &PHYAddrError{Device: d.Name(), Addr: b[1]}
	}
	return b[1], nil
}

func (p *priv) sleep(dt time.Duration) {
	if p.drv != nil && p.drv.Sleep != nil {
		p.drv.Sleep(dt)
		return
	}
	time.Sleep(dt)
}

// acquireMII takes the MDIO bus for the host.
func (p *priv) acquireMII(d *usbnet.Dev) error {
	var st [1]byte
	var last error
	for i := 0; i < hostEnTries; i++ {
		if err := d.VendorOut(CmdSetSWMII, 0, 0, nil); err != nil {
			return fmt.Errorf("asix: MII: %w", err)
		}
		p.sleep(time.Millisecond)
		err := d.VendorIn(CmdStatMngSts, 0, 0, st[:])
		switch s := hw.StatusOf(err); {
		case err == nil && st[0]&HostEn != 0:
			return nil
		case s == hw.ErrNoDevice || s == hw.ErrTimeout:
			return fmt.Errorf("asix: MII: %w", err)
		case err != nil:
			last = err // Linux retries other failures
		}
	}
	if last != nil {
		return fmt.Errorf("asix: MII: %w (last error: %w)", ErrMIIBusy, last)
	}
	return fmt.Errorf("asix: MII: %w", ErrMIIBusy)
}

// mdioRead is asix_mdio_read.
func (p *priv) mdioRead(d *usbnet.Dev, reg int) (uint16, error) {
	p.mii.Lock()
	defer p.mii.Unlock()
	if err := p.acquireMII(d); err != nil {
		return 0, err
	}
	var b [2]byte
	err := d.VendorIn(CmdReadMII, uint16(p.phyAddr), uint16(reg), b[:])
	herr := d.VendorOut(CmdSetHWMII, 0, 0, nil)
	if err != nil {
		return 0, fmt.Errorf("asix: read PHY %d register %d: %w", p.phyAddr, reg, err)
	}
	if herr != nil {
		return 0, fmt.Errorf("asix: MII release: %w", herr)
	}
	return binary.LittleEndian.Uint16(b[:]), nil
}

// mdioWrite is asix_mdio_write.
func (p *priv) mdioWrite(d *usbnet.Dev, reg int, v uint16) error {
	p.mii.Lock()
	defer p.mii.Unlock()
	if err := p.acquireMII(d); err != nil {
		return err
	}
	var b [2]byte
	binary.LittleEndian.PutUint16(b[:], v)
	err := d.VendorOut(CmdWriteMII, uint16(p.phyAddr), uint16(reg), b[:])
	herr := d.VendorOut(CmdSetHWMII, 0, 0, nil)
	if err != nil {
		return fmt.Errorf("asix: write PHY %d register %d: %w", p.phyAddr, reg, err)
	}
	if herr != nil {
		return fmt.Errorf("asix: MII release: %w", herr)
	}
	return nil
}

// LinkMode is a resolved link: what the medium mode must match.
type LinkMode struct {
	Up         bool
	Mbps       int // 10, 100, 1000
	FullDuplex bool
	RxPause    bool // honour pause frames (medium RFC)
	TxPause    bool // send pause frames (medium TFC)
}

func (l LinkMode) String() string {
	if !l.Up {
		return "down"
	}
	d := "half"
	if l.FullDuplex {
		d = "full"
	}
	s := fmt.Sprintf("%d/%s", l.Mbps, d)
	if l.RxPause || l.TxPause {
		s += " pause"
	}
	return s
}

// Resolve computes the link from clause 22 registers the way mii_nway_result
// and mii_resolve_flowctrl_fdx do: with auto-negotiation the best mode both
// ends advertise; without it, what BMCR forces. stat1000/ctrl1000 are the
// gigabit registers (0 for a 10/100 PHY).
func Resolve(bmcr, bmsr, adv, lpa, ctrl1000, stat1000 uint16) LinkMode {
	l := LinkMode{Up: bmsr&BMSRLStatus != 0}
	if !l.Up {
		return l
	}
	if bmcr&BMCRANEnable == 0 {
		l.FullDuplex = bmcr&BMCRFullDplx != 0
		switch {
		case bmcr&BMCRSpeed1000 != 0 && bmcr&BMCRSpeed100 == 0:
			l.Mbps = 1000
		case bmcr&BMCRSpeed100 != 0:
			l.Mbps = 100
		default:
			l.Mbps = 10
		}
		return l
	}
	common := adv & lpa
	switch {
	case ctrl1000&Adv1000Full != 0 && stat1000&LPA1000Full != 0:
		l.Mbps, l.FullDuplex = 1000, true
	case ctrl1000&Adv1000Half != 0 && stat1000&LPA1000Half != 0:
		l.Mbps = 1000
	case common&ADV100Full != 0:
		l.Mbps, l.FullDuplex = 100, true
	case common&ADV100Half != 0:
		l.Mbps = 100
	case common&ADV10Full != 0:
		l.Mbps, l.FullDuplex = 10, true
	default:
		l.Mbps = 10
	}
	if l.FullDuplex {
		switch {
		case adv&lpa&ADVPauseCap != 0:
			l.RxPause, l.TxPause = true, true
		case adv&lpa&ADVPauseAsym != 0 && lpa&ADVPauseCap != 0:
			l.RxPause = true
		case adv&lpa&ADVPauseAsym != 0 && adv&ADVPauseCap != 0:
			l.TxPause = true
		}
	}
	return l
}

// MediumMode is the medium mode register value for a link on a chip
// variant. AX88772/772B (ax88772_link_reset with negotiated pause): AC, RE,
// PS at 100, FD, RFC/TFC as negotiated. AX88178 (ax88178_link_reset): the
// AX88178 default (PS FD AC RFC TFC JFE RE) with GM at 1000 (PS kept, as
// Linux does), PS at 100, neither at 10, FD as negotiated, and ENCK always
// (FreeBSD's axe_miibus_statchg sets it too): the gigabit MAC clocks its
// GMII from the 125 MHz reference.
func MediumMode(v Variant, l LinkMode) uint16 {
	if v == AX88178 {
		m := Medium178Default
		switch l.Mbps {
		case 1000:
			m |= MediumGM
		case 100:
			m |= MediumPS
		default:
			m &^= MediumPS | MediumGM
		}
		m |= MediumENCK
		if l.FullDuplex {
			m |= MediumFD
		} else {
			m &^= MediumFD
		}
		return m
	}
	m := MediumAC | MediumRE
	if l.Mbps == 100 {
		m |= MediumPS
	}
	if l.FullDuplex {
		m |= MediumFD
	}
	if l.RxPause {
		m |= MediumRFC
	}
	if l.TxPause {
		m |= MediumTFC
	}
	return m
}

// readLink reads the PHY registers the link depends on and resolves them.
func (p *priv) readLink(d *usbnet.Dev) (LinkMode, error) {
	var r [6]uint16
	for _, reg := range []int{MIIBMCR, MIIBMSR, MIIAdvertise, MIILPA} {
		v, err := p.mdioRead(d, reg)
		if err != nil {
			return LinkMode{}, err
		}
		r[reg] = v
	}
	var c1000, s1000 uint16
	if p.variant == AX88178 {
		var err error
		if c1000, err = p.mdioRead(d, MIICtrl1000); err != nil {
			return LinkMode{}, err
		}
		if s1000, err = p.mdioRead(d, MIIStat1000); err != nil {
			return LinkMode{}, err
		}
	}
	return Resolve(r[MIIBMCR], r[MIIBMSR], r[MIIAdvertise], r[MIILPA], c1000, s1000), nil
}
