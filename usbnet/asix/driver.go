package asix

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"sync"
	"time"

	"dongle/hw"
	"dongle/netdev"
	"dongle/skbuff"
	"dongle/usbnet"
)

// Driver is the ASIX minidriver. The zero value is ready; one Driver serves
// any number of devices (per-device state lives in usbnet.Dev.Priv).
type Driver struct {
	// Sleep waits between reset steps (nil: time.Sleep). The chip needs
	// the waits (PHY power-up, reset settling: about 0.4 s per bind); a
	// device model does not, and its specs pass a no-op.
	Sleep func(time.Duration)
}

var _ usbnet.Minidriver = (*Driver)(nil)

// New returns a Driver that sleeps as the chip needs.
func New() *Driver { return &Driver{} }

// priv is the per-device state (Linux's asix_common_private + asix_data).
type priv struct {
	drv     *Driver
	variant Variant
	chip    uint8 // STATMNGSTS chip code
	phyAddr uint8
	phyID   uint32
	rxCtl   uint16 // DefaultRxCtl | MFB: what filters start from
	board   Board  // AX88178: EEPROM word 0x17
	mii     sync.Mutex
	rx      Deframer
	txMax   int // longest frame TxFixup frames (MaxTxLen; AX88178: follows the MTU)
	// jfe is the AX88178 medium JFE bit Reset and LinkReset write: set
	// at bind (AX88178_MEDIUM_DEFAULT has it), then mtu > 1500 after each
	// MTU change. See mtu.go.
	jfe bool

	// counters already added to the netdev statistics
	seenBad, seenLen, seenSync uint64
}

func privOf(d *usbnet.Dev) (*priv, error) {
	p, ok := d.Priv.(*priv)
	if !ok || p == nil {
		return nil, fmt.Errorf("asix: %s: device not bound by the asix driver", d.Name())
	}
	return p, nil
}

// Name implements usbnet.Minidriver.
func (*Driver) Name() string { return "asix" }

// IDs implements usbnet.Minidriver.
func (*Driver) IDs() []usbnet.ID { return IDs() }

// Flags implements usbnet.Minidriver (FLAG_ETHER | FLAG_FRAMING_AX |
// FLAG_LINK_INTR | FLAG_MULTI_PACKET).
func (*Driver) Flags() usbnet.Flags {
	return usbnet.FlagEthernet | usbnet.FlagLinkIntr | usbnet.FlagMultiPacket | usbnet.FlagTxPadsItself
}

// endpoints picks the interrupt IN, bulk IN and bulk OUT endpoints of the
// matched interface (usbnet_get_endpoints).
func endpoints(d *usbnet.Dev) error {
	if d.Intf == nil || len(d.Intf.Alts) == 0 {
		return errors.New("no interface to bind")
	}
	a := &d.Intf.Alts[0]
	var in, out, st hw.EndpointDesc
	for _, e := range a.Endpoints {
		switch {
		case e.Type() == hw.XferBulk && e.In() && in.Address == 0:
			in = e
		case e.Type() == hw.XferBulk && !e.In() && out.Address == 0:
			out = e
		case e.Type() == hw.XferInterrupt && e.In() && st.Address == 0 && e.MaxPacketSize >= 8:
			st = e
		}
	}
	if in.Address == 0 || out.Address == 0 {
		return fmt.Errorf("interface %d has no bulk IN/OUT pair", a.Number)
	}
	d.In, d.Out, d.Status = in, out, st
	d.CtrlIface, d.DataIface, d.DataAlt = int(a.Number), int(a.Number), int(a.Alternate)
	return nil
}

// Bind implements usbnet.Minidriver, in ax88772_bind's order:
//
//	MAC (EEPROM words 4..6 on AX88772B, else NODE_ID) → READ_PHY_ID (reject ≥ 32)
//	→ STATMNGSTS chip code → hardware reset (AX88772 or AX88772A/B sequence)
//	→ PHYSID1/2 → PHY reset and advertisement → rx_urb_size 2048
//
// An AX88178 replaces the last three steps with its board setup (bind178 in
// ax88178.go: EEPROM PHY mode, GPIO power-up, external PHY init, gigabit
// advertisement).
func (drv *Driver) Bind(d *usbnet.Dev) (err error) {
	if err := endpoints(d); err != nil {
		return fmt.Errorf("asix: %s: %w", d.Name(), err)
	}
	v, _ := d.ID.Info.(Variant)
	p := &priv{drv: drv, variant: v}
	d.Priv = p
	defer func() {
		if err != nil {
			d.Priv = nil
		}
	}()

	mac, err := p.readMAC(d)
	if err != nil {
		return err
	}
	d.Net.SetHardwareAddr(mac)

	if p.phyAddr, err = ReadPHYAddr(d); err != nil {
		return err
	}
	var cc [1]byte
	if err := d.VendorIn(CmdStatMngSts, 0, 0, cc[:]); err != nil {
		return fmt.Errorf("asix: read chip code: %w", err)
	}
	p.chip = cc[0] & ChipCodeMask

	switch {
	case v == AX88178:
		err = p.bind178(d)
	case p.chip == ChipCode772:
		err = p.hwReset772(d)
	default:
		err = p.hwReset772A(d)
	}
	if err != nil {
		return err
	}
	if v != AX88178 {
		if p.phyID, err = p.readPHYID(d); err != nil {
			return err
		}
		if err := p.startPHY(d); err != nil {
			return err
		}
	}

	// The AX88772 family packs frames into 2 KiB bulk transfers and takes
	// no jumbo frames. The AX88178 does (ax88178_bind's max_mtu, MaxMTU178):
	// HardMTU is its largest frame, which bounds usbnet's ChangeMTU, and
	// ChangeMTU (mtu.go) resizes the RX buffer for the MTU chosen. At bind
	// the MTU is 1500: ax88178_set_mfb's 2048-byte case.
	d.HardMTU = 1500 + EthHLen
	d.RxURBSize = 2048
	mfb, _ := MFB(d.RxURBSize)
	if v == AX88178 {
		d.HardMTU = MaxMTU178 + EthHLen
		p.rx.LenMask = 0xffff
		// ax88178_set_mfb picks the buffer strictly larger than the hard MTU.
		mfb, d.RxURBSize = MFB(d.Net.MTU() + EthHLen + 1)
	}
	d.TxHeadroom, d.TxTailroom = 4, 4 // header; the 00 00 ff ff pad
	p.rxCtl = DefaultRxCtl | mfb
	p.setLimits(d.Net.MTU())
	return nil
}

// readMAC reads the permanent address: from the EEPROM on AX88772B
// (FLAG_EEPROM_MAC), else from NODE_ID. An address that is multicast or
// zero is replaced by a random locally administered one
// (asix_set_netdev_dev_addr).
func (p *priv) readMAC(d *usbnet.Dev) (net.HardwareAddr, error) {
	mac := make(net.HardwareAddr, 6)
	if p.variant == AX88772B {
		for i := 0; i < 3; i++ {
			if err := d.VendorIn(CmdReadEEPROM, uint16(EEPROMMACWord+i), 0, mac[2*i:2*i+2]); err != nil {
				return nil, fmt.Errorf("asix: read MAC from EEPROM: %w", err)
			}
		}
	} else if err := d.VendorIn(CmdReadNodeID, 0, 0, mac); err != nil {
		return nil, fmt.Errorf("asix: read MAC (NODE_ID): %w", err)
	}
	if mac[0]&1 != 0 || [6]byte(mac) == [6]byte{} {
		for i := range mac {
			mac[i] = byte(rand.Uint32())
		}
		mac[0] = mac[0]&^1 | 2
	}
	return mac, nil
}

func (p *priv) write(d *usbnet.Dev, what string, req uint8, value, index uint16, data []byte) error {
	if err := d.VendorOut(req, value, index, data); err != nil {
		return fmt.Errorf("asix: %s: %w", what, err)
	}
	return nil
}

func (p *priv) swReset(d *usbnet.Dev, bits uint16) error {
	return p.write(d, fmt.Sprintf("SW_RESET %#02x", bits), CmdSWReset, bits, 0, nil)
}

// hwReset772 is ax88772_hw_reset (chip code 0).
func (p *priv) hwReset772(d *usbnet.Dev) error {
	if err := p.write(d, "GPIO", CmdWriteGPIOs, GPIORSE|GPIOGPO2|GPIOGPO2EN, 0, nil); err != nil {
		return err
	}
	p.sleep(5 * time.Millisecond)
	embedded := p.phyAddr&0x1f == EmbeddedPHY
	sel := uint16(0)
	if embedded {
		sel = PHYSelPSel
	}
	if err := p.write(d, "PHY select", CmdSWPHYSelect, sel, 0, nil); err != nil {
		return err
	}
	if embedded {
		if err := p.swReset(d, SWResetIPPD); err != nil {
			return err
		}
		p.sleep(10 * time.Millisecond)
		if err := p.swReset(d, SWResetClear); err != nil {
			return err
		}
		p.sleep(60 * time.Millisecond)
		if err := p.swReset(d, SWResetIPRL|SWResetPRL); err != nil {
			return err
		}
	} else if err := p.swReset(d, SWResetIPPD|SWResetPRL); err != nil {
		return err
	}
	p.sleep(150 * time.Millisecond)
	return p.commonReset(d)
}

// hwReset772A is ax88772a_hw_reset (AX88772A and AX88772B).
func (p *priv) hwReset772A(d *usbnet.Dev) error {
	if err := p.write(d, "GPIO", CmdWriteGPIOs, GPIORSE, 0, nil); err != nil {
		return err
	}
	p.sleep(5 * time.Millisecond)
	sel := PHYSelSSEn
	if p.phyAddr&0x1f == EmbeddedPHY {
		sel |= PHYSelPSel
	}
	if err := p.write(d, "PHY select", CmdSWPHYSelect, sel, 0, nil); err != nil {
		return err
	}
	p.sleep(10 * time.Millisecond)
	for _, step := range []struct {
		bits uint16
		wait time.Duration
	}{
		{SWResetIPPD | SWResetIPRL, 10 * time.Millisecond},
		{SWResetIPRL, 160 * time.Millisecond},
		{SWResetClear, 0},
		{SWResetIPRL, 200 * time.Millisecond},
	} {
		if err := p.swReset(d, step.bits); err != nil {
			return err
		}
		if step.wait > 0 {
			p.sleep(step.wait)
		}
	}
	if p.chip == ChipCode772B {
		if err := p.write(d, "bulk-in queue control", CmdQCTCtrl, 0x8000, 0x8001, nil); err != nil {
			return err
		}
	}
	return p.commonReset(d)
}

// commonReset is the tail both AX88772 resets share: IPG, NODE_ID,
// RX_CTL, medium mode, then RX_CTL and medium status read back.
func (p *priv) commonReset(d *usbnet.Dev) error {
	if err := p.write(d, "IPG", CmdWriteIPG0, IPG0Default|IPG1Default<<8, IPG2Default, nil); err != nil {
		return err
	}
	if err := p.write(d, "NODE_ID", CmdWriteNodeID, 0, 0, d.Net.HardwareAddr()); err != nil {
		return err
	}
	if err := p.write(d, "RX_CTL", CmdWriteRxCtl, DefaultRxCtl, 0, nil); err != nil {
		return err
	}
	if err := p.write(d, "medium mode", CmdWriteMediumMode, Medium772Default, 0, nil); err != nil {
		return err
	}
	var b [2]byte
	if err := d.VendorIn(CmdReadRxCtl, 0, 0, b[:]); err != nil {
		return fmt.Errorf("asix: read RX_CTL: %w", err)
	}
	if err := d.VendorIn(CmdReadMediumStat, 0, 0, b[:]); err != nil {
		return fmt.Errorf("asix: read medium status: %w", err)
	}
	return nil
}

// readPHYID reads PHYSID1/PHYSID2 after the reset (asix_get_phyid), retrying
// while the PHY is not answering yet.
func (p *priv) readPHYID(d *usbnet.Dev) (uint32, error) {
	var hi uint16
	var err error
	for i := 0; i < 10; i++ {
		if hi, err = p.mdioRead(d, MIIPHYSID1); err != nil {
			return 0, err
		}
		if hi != 0 && hi != 0xffff {
			break
		}
		p.sleep(time.Millisecond)
	}
	if hi == 0 || hi == 0xffff {
		return 0, fmt.Errorf("asix: %s: %w at address %d (PHYSID1 reads %#04x)", d.Name(), ErrNoPHY, p.phyAddr, hi)
	}
	lo, err := p.mdioRead(d, MIIPHYSID2)
	if err != nil {
		return 0, err
	}
	return uint32(hi)<<16 | uint32(lo), nil
}

// startPHY resets the PHY, advertises every 10/100 mode with pause and
// restarts auto-negotiation (asix_phy_reset + mii_nway_restart).
func (p *priv) startPHY(d *usbnet.Dev) error {
	if err := p.resetPHY(d, BMCRReset); err != nil {
		return err
	}
	if err := p.mdioWrite(d, MIIAdvertise, ADVAll|ADVCSMA|ADVPauseCap); err != nil {
		return err
	}
	return p.mdioWrite(d, MIIBMCR, BMCRANEnable|BMCRANRestart)
}

// resetPHY is asix_phy_reset: write BMCR with the reset bit and wait until
// the PHY clears it.
func (p *priv) resetPHY(d *usbnet.Dev, bits uint16) error {
	if err := p.mdioWrite(d, MIIBMCR, bits); err != nil {
		return err
	}
	for i := 0; ; i++ {
		v, err := p.mdioRead(d, MIIBMCR)
		if err != nil {
			return err
		}
		if v&BMCRReset == 0 {
			break
		}
		if i == 50 {
			return fmt.Errorf("asix: %s: PHY %d stays in reset (BMCR %#04x)", d.Name(), p.phyAddr, v)
		}
		p.sleep(10 * time.Millisecond)
	}
	return nil
}

// Unbind implements usbnet.Minidriver: the partial RX frame is freed
// (asix_rx_fixup_common_free; leaked before 2017).
func (*Driver) Unbind(d *usbnet.Dev) {
	if p, ok := d.Priv.(*priv); ok && p != nil {
		p.rx.Reset()
	}
	d.Priv = nil
}

// Reset implements usbnet.Minidriver (ax88772_reset at open): NODE_ID,
// RX_CTL, default medium mode; then the PHY's current link is applied at
// once (phylink_start), so the medium mode matches the link before the
// first status interrupt.
func (*Driver) Reset(d *usbnet.Dev) error {
	p, err := privOf(d)
	if err != nil {
		return err
	}
	p.rx.Reset()
	if err := p.write(d, "NODE_ID", CmdWriteNodeID, 0, 0, d.Net.HardwareAddr()); err != nil {
		return err
	}
	if err := p.write(d, "RX_CTL", CmdWriteRxCtl, p.rxCtl, 0, nil); err != nil {
		return err
	}
	def := Medium772Default
	if p.variant == AX88178 {
		def = p.jumbo(Medium178Default)
	}
	if err := p.write(d, "medium mode", CmdWriteMediumMode, def, 0, nil); err != nil {
		return err
	}
	_, err = p.linkReset(d)
	return err
}

// LinkReset implements usbnet.Minidriver: read BMCR/BMSR/ANAR/ANLPAR over
// MII and write the matching medium mode (ax88772_link_reset).
func (*Driver) LinkReset(d *usbnet.Dev) error {
	p, err := privOf(d)
	if err != nil {
		return err
	}
	_, err = p.linkReset(d)
	return err
}

func (p *priv) linkReset(d *usbnet.Dev) (LinkMode, error) {
	l, err := p.readLink(d)
	if err != nil {
		return l, err
	}
	if !l.Up {
		return l, nil
	}
	if err := p.write(d, "medium mode", CmdWriteMediumMode, p.jumbo(MediumMode(p.variant, l)), 0, nil); err != nil {
		return l, err
	}
	if p.variant == AX88178 && p.board.PHYMode == PHYModeMarvell && p.board.LEDMode != 0 {
		if err := p.marvellLEDs(d, l.Mbps); err != nil {
			return l, err
		}
	}
	d.Net.SetSpeed(l.Mbps)
	return l, nil
}

// ErrStatus is wrapped by Status errors.
var ErrStatus = errors.New("malformed interrupt packet")

// Status implements usbnet.Minidriver: the 8-byte interrupt packet
// {le16 res; u8 link; le16 res; u8 status; le16 res}; link is bit 0 of
// byte 2 (asix_status).
func (*Driver) Status(d *usbnet.Dev, data []byte) error {
	if len(data) < 8 {
		return fmt.Errorf("asix: %s: %w: %d bytes, need 8", d.Name(), ErrStatus, len(data))
	}
	up := data[2]&1 != 0
	if up != d.Net.Carrier() {
		d.LinkChange(up, 0, true) // usbnet_link_change(dev, link, 1)
	}
	return nil
}

// SetRxMode implements usbnet.Minidriver (asix_set_multicast): the hash
// table first (when used), then RX_CTL.
func (*Driver) SetRxMode(d *usbnet.Dev) error {
	p, err := privOf(d)
	if err != nil {
		return err
	}
	fl := d.Net.Flags()
	f := BuildFilter(p.rxCtl, fl&netdev.FlagPromisc != 0, fl&netdev.FlagAllMulti != 0, d.Net.MulticastList())
	if f.RxCtl&RxCtlAM != 0 {
		if err := p.write(d, "multicast filter", CmdWriteMultiFilt, 0, 0, f.Hash[:]); err != nil {
			return err
		}
	}
	return p.write(d, "RX_CTL", CmdWriteRxCtl, f.RxCtl, 0, nil)
}

// RxFixup implements usbnet.Minidriver: the transfer is deframed by the
// device's Deframer (frames are copied out), then freed. Errors are counted
// in the netdev statistics: bad header and lost sync as rx_frame_errors,
// oversize and runt records as rx_length_errors, each also in rx_errors.
func (*Driver) RxFixup(d *usbnet.Dev, b *skbuff.Buff, out *skbuff.Queue) error {
	p, err := privOf(d)
	if err != nil {
		b.Free(skbuff.FreeRead)
		return err
	}
	err = p.rx.Feed(b.Data(), out)
	b.Free(skbuff.FreeRead)
	if err != nil {
		p.account(d)
	}
	return err
}

// account moves new error counts from the Deframer to the netdev.
func (p *priv) account(d *usbnet.Dev) {
	s := &p.rx.Stats
	bad := s.BadHeader.Load()
	ln := s.Oversize.Load() + s.Runt.Load()
	sync := s.SyncLost.Load()
	st := d.Net.Stats()
	if n := bad - p.seenBad; n > 0 {
		st.RxFrameErrors.Add(n)
		st.RxErrors.Add(n)
	}
	if n := sync - p.seenSync; n > 0 {
		st.RxFrameErrors.Add(n)
		st.RxErrors.Add(n)
	}
	if n := ln - p.seenLen; n > 0 {
		st.RxLengthErrors.Add(n)
		st.RxErrors.Add(n)
	}
	p.seenBad, p.seenLen, p.seenSync = bad, ln, sync
}

// TxFixup implements usbnet.Minidriver: Frame with the bulk OUT
// wMaxPacketSize.
func (*Driver) TxFixup(d *usbnet.Dev, b *skbuff.Buff) error {
	p, err := privOf(d)
	if err != nil {
		return err
	}
	return FrameMax(b, d.MaxPacket(), p.txMax)
}

// RxStatsOf returns the device's RX deframing counters (nil if d is not bound
// by this driver).
func RxStatsOf(d *usbnet.Dev) *RxStats {
	if p, err := privOf(d); err == nil {
		return &p.rx.Stats
	}
	return nil
}

var _ usbnet.MACSetter = (*Driver)(nil)

// SetMAC implements usbnet.MACSetter (asix_set_mac_address): the chip's
// NODE_ID filters directed frames, so a new address is written to it.
func (*Driver) SetMAC(d *usbnet.Dev, addr net.HardwareAddr) error {
	if len(addr) != 6 {
		return fmt.Errorf("asix: %s: MAC %v is not 6 bytes", d.Name(), addr)
	}
	return d.VendorOut(CmdWriteNodeID, 0, 0, addr)
}
