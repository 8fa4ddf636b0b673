package ax88179

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"net"
	"sync/atomic"
	"time"

	"dongle/usbnet"
)

// Driver is the AX88179/AX88178A minidriver (Linux ax88179_178a). The zero
// value is ready to use and sleeps as long as Linux does after the PHY
// and clock resets; tests against a device model set NoDelay.
type Driver struct {
	// CopyBreak: frames up to this length are copied on RX, longer ones
	// cloned (DefaultCopyBreak when 0; negative clones everything).
	CopyBreak int
	// NoDelay skips the 500 ms PHY-reset and 200 ms clock settle sleeps
	// and the link-reset poll interval. Only for models.
	NoDelay bool
}

var (
	_ usbnet.Minidriver = (*Driver)(nil)
	_ usbnet.MACSetter  = (*Driver)(nil)
)

// SetMAC implements usbnet.MACSetter (ax88179_set_mac_addr): NODE_ID.
func (*Driver) SetMAC(d *usbnet.Dev, addr net.HardwareAddr) error {
	return WriteMAC(d, RegNodeID, addr)
}

// Variant says which chip (and which driver_info) an ID entry is.
type Variant struct {
	Description string
	// ResetOnOpen: Linux gives these entries a .reset (ax88179_reset runs
	// again at open); the two ASIX entries reset only at bind.
	ResetOnOpen bool
}

func id(vid, pid uint16, name string, reset bool) usbnet.ID {
	return usbnet.ID{Vendor: vid, Product: pid, Class: 0xff, SubClass: 0xff, Protocol: 0, Name: name,
		Info: Variant{Description: name, ResetOnOpen: reset}}
}

// ids is Linux's products[] table: vendor class 0xff/0xff, protocol 0.
var ids = []usbnet.ID{
	id(0x0b95, 0x1790, "ASIX AX88179 USB 3.0 Gigabit Ethernet", false),
	id(0x0b95, 0x178a, "ASIX AX88178A USB 2.0 Gigabit Ethernet", false),
	id(0x04b4, 0x3610, "Cypress GX3 SuperSpeed to Gigabit Ethernet Controller", true),
	id(0x2001, 0x4a00, "D-Link DUB-1312 USB 3.0 to Gigabit Ethernet Adapter", true),
	id(0x0df6, 0x0072, "Sitecom USB 3.0 to Gigabit Adapter", true),
	id(0x04e8, 0xa100, "Samsung USB Ethernet Adapter", true),
	id(0x17ef, 0x304b, "Lenovo OneLinkDock Gigabit LAN", true),
	id(0x050d, 0x0128, "Belkin USB Ethernet Adapter", true),
	id(0x0930, 0x0a13, "Toshiba USB Ethernet Adapter", true),
	id(0x0711, 0x0179, "MCT USB 3.0 Gigabit Ethernet Adapter", true),
}

// Name implements usbnet.Minidriver.
func (*Driver) Name() string { return "ax88179_178a" }

// IDs implements usbnet.Minidriver.
func (*Driver) IDs() []usbnet.ID { return ids }

// Flags implements usbnet.Minidriver: Ethernet, link from the interrupt
// endpoint, aggregated RX, TX padded by TxFixup itself.
func (*Driver) Flags() usbnet.Flags {
	return usbnet.FlagEthernet | usbnet.FlagLinkIntr | usbnet.FlagMultiPacket | usbnet.FlagTxPadsItself
}

// MaxMTU is the largest MTU the chip takes (Linux max_mtu 4088).
const MaxMTU = 4088

// priv is the per-device state (Linux's struct ax88179_data).
type priv struct {
	rxctl  atomic.Uint32 // last RX_CTL written (RxFixup reads IPE)
	wol    bool
	eee    bool
	link   Link // last link LinkReset saw
	bulkIn BulkIn
}

func privOf(d *usbnet.Dev) *priv {
	p, _ := d.Priv.(*priv)
	return p
}

// Bind implements usbnet.Minidriver (ax88179_bind): endpoints from the
// matched interface, then the full chip reset of ax88179_reset.
func (dr *Driver) Bind(d *usbnet.Dev) error {
	if err := usbnet.GetEndpoints(d); err != nil {
		return err
	}
	d.Priv = &priv{}
	// HardMTU bounds ChangeMTU in usbnet: the chip takes up to 4088.
	d.HardMTU = MaxMTU + usbnet.EthHeaderLen
	d.TxHeadroom, d.TxTailroom = 8, 1 // header; the pad byte after a padded transfer
	if d.Net != nil {
		d.Net.MaxMTU = MaxMTU
	}
	if err := dr.reset(d); err != nil {
		d.Priv = nil
		return err
	}
	return nil
}

// Unbind implements usbnet.Minidriver (ax88179_unbind): stop RX, stop the
// clocks, power the PHY down. Errors are ignored: the device may be gone.
func (dr *Driver) Unbind(d *usbnet.Dev) {
	_ = WriteMAC16(d, RegRxCtl, RxCtlStop)
	_ = WriteMAC8(d, RegClkSelect, 0)
	_ = WriteMAC16(d, RegPhyPwr, 0)
	d.Priv = nil
}

// Reset implements usbnet.Minidriver: at open, the entries Linux gives a
// .reset run ax88179_reset again; the ASIX ones were reset by Bind.
func (dr *Driver) Reset(d *usbnet.Dev) error {
	if v, ok := d.ID.Info.(Variant); ok && v.ResetOnOpen {
		return dr.reset(d)
	}
	return nil
}

func (dr *Driver) sleep(t time.Duration) {
	if !dr.NoDelay {
		time.Sleep(t)
	}
}

// reset is ax88179_reset, request for request.
func (dr *Driver) reset(d *usbnet.Dev) error {
	p := privOf(d)
	// Power the PHY down, then up (IPRL: out of reset).
	if err := WriteMAC16(d, RegPhyPwr, 0); err != nil {
		return err
	}
	if err := WriteMAC16(d, RegPhyPwr, PhyPwrIPRL); err != nil {
		return err
	}
	dr.sleep(500 * time.Millisecond)
	if err := WriteMAC8(d, RegClkSelect, ClkACS|ClkBCS); err != nil {
		return err
	}
	dr.sleep(200 * time.Millisecond)
	if err := autoDetach(d); err != nil {
		return err
	}
	if err := setMACFromChip(d); err != nil {
		return err
	}
	agg := BulkInSuperGiga
	b := agg.Bytes()
	if err := WriteMAC(d, RegBulkInQCtl, b[:]); err != nil {
		return err
	}
	p.bulkIn = agg
	// Linux sets 20 KiB here. dongle takes the largest size any row of the
	// table needs (26 KiB), because the RX transfers submitted at open are
	// still in flight when LinkReset may pick a bigger row: a 22 KiB
	// aggregate landing in a 20 KiB buffer would be split in two.
	d.RxURBSize = BulkInFull.URBSize()
	if err := WriteMAC8(d, RegPauseLow, pauseLow); err != nil {
		return err
	}
	if err := WriteMAC8(d, RegPauseHigh, pauseHigh); err != nil {
		return err
	}
	if err := WriteMAC8(d, RegRxCOE, coeAll); err != nil {
		return err
	}
	if err := WriteMAC8(d, RegTxCOE, coeAll); err != nil {
		return err
	}
	rxctl := RxCtlDropCRCErr | RxCtlIPE | RxCtlStart | RxCtlAP | RxCtlAllMulti | RxCtlBroadcast
	if err := WriteMAC16(d, RegRxCtl, rxctl); err != nil {
		return err
	}
	p.rxctl.Store(uint32(rxctl))
	if err := WriteMAC8(d, RegMonitor, monitorPMEType|monitorPMEPol|monitorRWMP); err != nil {
		return err
	}
	medium := MediumRxEnable | MediumTxFlow | MediumRxFlow | MediumFullDuplex | MediumGiga
	if err := WriteMAC16(d, RegMedium, medium); err != nil {
		return err
	}
	_, err := ReadMAC8(d, RegMonitor)
	p.wol = err == nil
	if err := ledSetting(d); err != nil {
		return err
	}
	p.eee = false
	if err := disableEEE(d); err != nil {
		return err
	}
	// ax88179_ethtool_get_eee then set_eee with nothing advertised.
	for _, r := range [...][2]uint16{{mmdPCS, mmdPCSEEEAble}, {mmdAN, mmdANEEEAdv}, {mmdAN, mmdANEEELPAble}} {
		if _, err := ReadMMD(d, r[0], r[1]); err != nil {
			return err
		}
	}
	if err := WriteMMD(d, mmdAN, mmdANEEEAdv, 0); err != nil {
		return err
	}
	if err := nwayRestart(d); err != nil {
		return err
	}
	d.SetLink(false, 0)
	return nil
}

// autoDetach is ax88179_auto_detach: EEPROM word 0x43 bit 8 enables it.
func autoDetach(d *usbnet.Dev) error {
	w, err := ReadEEPROMWord(d, 0x43)
	if err != nil || w == 0xffff || w&0x0100 == 0 {
		return nil // Linux ignores a failed read here too
	}
	clk, err := ReadMAC8(d, RegClkSelect)
	if err != nil {
		return err
	}
	if err := WriteMAC8(d, RegClkSelect, clk|ClkULR); err != nil {
		return err
	}
	pw, err := ReadMAC16(d, RegPhyPwr)
	if err != nil {
		return err
	}
	return WriteMAC16(d, RegPhyPwr, pw|PhyPwrAT)
}

// setMACFromChip is ax88179_get_mac_addr: NODE_ID, or a random locally
// administered address when the chip's is not a valid unicast one; the
// result is written back to NODE_ID.
func setMACFromChip(d *usbnet.Dev) error {
	mac := make(net.HardwareAddr, 6)
	if err := ReadMAC(d, RegNodeID, mac); err != nil {
		return err
	}
	if !validUnicast(mac) {
		_, _ = rand.Read(mac)
		mac[0] = mac[0]&^1 | 2
	}
	if d.Net != nil {
		d.Net.SetHardwareAddr(mac)
	}
	return WriteMAC(d, RegNodeID, mac)
}

func validUnicast(a net.HardwareAddr) bool {
	if len(a) != 6 || a[0]&1 != 0 {
		return false
	}
	for _, b := range a {
		if b != 0 {
			return true
		}
	}
	return false
}

func disableEEE(d *usbnet.Dev) error {
	if err := WritePHY(d, phyPageSel, phyPage3); err != nil {
		return err
	}
	if err := WritePHY(d, miiPhyAddr, phyEEEDisable); err != nil {
		return err
	}
	return WritePHY(d, phyPageSel, phyPage0)
}

// nwayRestart is mii_nway_restart: restart autonegotiation if it is on.
func nwayRestart(d *usbnet.Dev) error {
	bmcr, err := ReadPHY(d, MIIBMCR)
	if err != nil {
		return err
	}
	if bmcr&bmcrANEnable == 0 {
		return nil
	}
	return WritePHY(d, MIIBMCR, bmcr|bmcrANRestart)
}

// Status implements usbnet.Minidriver (ax88179_status): the link bit of
// the 8-byte interrupt packet.
func (dr *Driver) Status(d *usbnet.Dev, data []byte) error {
	if len(data) < 8 {
		return fmt.Errorf("ax88179: %s: %w: %d bytes, need 8", d.Name(), ErrIntShort, len(data))
	}
	up := IntLinkUp(data)
	if d.Net != nil && d.Net.Carrier() == up {
		return nil
	}
	d.LinkChange(up, 0, true) // usbnet_link_change(dev, link, 1)
	return nil
}

// IntLinkUp decodes the link bit (bit 16 of the first le32, AX_INT_PPLS_LINK)
// of an interrupt packet; data must hold at least 4 bytes.
func IntLinkUp(data []byte) bool { return data[2]&1 != 0 }

// LinkReset implements usbnet.Minidriver (ax88179_link_reset): restart
// RX, wait for the TX FIFO, read USB and PHY speed, then program the
// aggregation (and RxURBSize) and the medium mode for them.
func (dr *Driver) LinkReset(d *usbnet.Dev) error {
	p := privOf(d)
	if p == nil {
		return fmt.Errorf("ax88179: %s: link reset on an unbound device", d.Name())
	}
	deadline := time.Now().Add(100 * time.Millisecond)
	for {
		if err := WriteMAC16(d, RegRxCtl, 0); err != nil {
			return err
		}
		if err := WriteMAC16(d, RegRxCtl, uint16(p.rxctl.Load())); err != nil {
			return err
		}
		var b [4]byte
		if err := d.VendorIn(accessUSBCtl, usbCtlTxFIFO, 0, b[:]); err != nil {
			return fmt.Errorf("ax88179: read USB TX FIFO status: %w", err)
		}
		if binary.LittleEndian.Uint32(b[:])&usbCtlTxBusy == 0 {
			break
		}
		if time.Now().After(deadline) {
			return nil // as Linux: give up quietly, the next link event retries
		}
	}
	l, err := ReadLink(d)
	if err != nil {
		return err
	}
	if !l.Up {
		return nil
	}
	mode := MediumRxEnable | MediumTxFlow | MediumRxFlow
	switch l.Mbps {
	case 1000:
		mode |= MediumGiga | Medium125MHz
		if d.Net != nil && d.Net.MTU() > 1500 {
			mode |= MediumJumbo
		}
	case 100:
		mode |= MediumPS
	}
	agg := ChooseBulkIn(l.Mbps, l.USB)
	b := agg.Bytes()
	if err := WriteMAC(d, RegBulkInQCtl, b[:]); err != nil {
		return err
	}
	p.bulkIn = agg
	d.RxURBSize = agg.URBSize()
	if l.FullDuplex {
		mode |= MediumFullDuplex
	}
	if err := WriteMAC16(d, RegMedium, mode); err != nil {
		return err
	}
	p.link = l
	p.eee, err = checkEEE(d)
	if err != nil {
		return err
	}
	if d.Net != nil {
		d.Net.SetSpeed(l.Mbps)
		d.Net.CarrierOn()
	}
	return nil
}

// checkEEE is ax88179_chk_eee: mii_ethtool_gset's reads, then the EEE
// ability/advertisement registers when the link is full duplex.
func checkEEE(d *usbnet.Dev) (bool, error) {
	for _, reg := range [...]uint16{MIIAdv, MIICtrl1000, MIIStat1000, MIIBMCR, MIILPA} {
		if _, err := ReadPHY(d, reg); err != nil {
			return false, err
		}
	}
	st, err := ReadPHY(d, PHYSR)
	if err != nil {
		return false, err
	}
	if st&PHYSRFull == 0 {
		return false, nil
	}
	able, err := ReadMMD(d, mmdPCS, mmdPCSEEEAble)
	if err != nil || able == 0 {
		return false, err
	}
	lp, err := ReadMMD(d, mmdAN, mmdANEEELPAble)
	if err != nil {
		return false, err
	}
	adv, err := ReadMMD(d, mmdAN, mmdANEEEAdv)
	if err != nil {
		return false, err
	}
	// EEE advertisement bits: 100BASE-TX 0x2, 1000BASE-T 0x4.
	want := uint16(0x2)
	if st&PHYSRSpeedMask == PHYSRGiga {
		want = 0x4
	}
	return lp&adv&want != 0, nil
}
