package ax88179

import (
	"encoding/binary"
	"fmt"
	"net"
	"strings"
)

// The diagnostics below are for `dongle diag`: each takes any Ctrl (a
// bound *usbnet.Dev) and only reads, except WriteEEPROM.

// MACReg is one MAC register as the dump shows it.
type MACReg struct {
	Name string
	Reg  uint16
	Len  int
}

// MACRegs are the registers DumpMAC reads, in address order.
var MACRegs = []MACReg{
	{"PHYSICAL_LINK_STATUS", RegPhysLinkStatus, 1},
	{"GENERAL_STATUS", RegGeneralStatus, 1},
	{"RX_CTL", RegRxCtl, 2},
	{"NODE_ID", RegNodeID, 6},
	{"MULFLTARY", RegMulticast, 8},
	{"MEDIUM_STATUS_MODE", RegMedium, 2},
	{"MONITOR_MOD", RegMonitor, 1},
	{"GPIO_CTRL", RegGPIO, 1},
	{"PHYPWR_RSTCTL", RegPhyPwr, 2},
	{"RX_BULKIN_QCTRL", RegBulkInQCtl, 5},
	{"CLK_SELECT", RegClkSelect, 1},
	{"RXCOE_CTL", RegRxCOE, 1},
	{"TXCOE_CTL", RegTxCOE, 1},
	{"PAUSE_WATERLVL_HIGH", RegPauseHigh, 1},
	{"PAUSE_WATERLVL_LOW", RegPauseLow, 1},
	{"LEDCTRL", RegLEDCtl, 1},
}

// RegValue is a register's name, address and bytes.
type RegValue struct {
	MACReg
	Data []byte
}

func (r RegValue) String() string {
	return fmt.Sprintf("%-20s 0x%02x: % x", r.Name, r.Reg, r.Data)
}

// DumpMAC reads every register of MACRegs.
func DumpMAC(c Ctrl) ([]RegValue, error) {
	out := make([]RegValue, 0, len(MACRegs))
	for _, r := range MACRegs {
		b := make([]byte, r.Len)
		if err := ReadMAC(c, r.Reg, b); err != nil {
			return out, err
		}
		out = append(out, RegValue{r, b})
	}
	return out, nil
}

// PHYRegs is the PHY's clause-22 registers decoded.
type PHYRegs struct {
	BMCR, BMSR, ID1, ID2, Adv, LPA, Ctrl1000, Stat1000, PHYSR uint16
}

// ReadPHYRegs reads the PHY registers DecodePHY explains.
func ReadPHYRegs(c Ctrl) (PHYRegs, error) {
	var p PHYRegs
	for _, r := range []struct {
		reg uint16
		v   *uint16
	}{{MIIBMCR, &p.BMCR}, {MIIBMSR, &p.BMSR}, {MIIPhyID1, &p.ID1}, {MIIPhyID2, &p.ID2}, {MIIAdv, &p.Adv},
		{MIILPA, &p.LPA}, {MIICtrl1000, &p.Ctrl1000}, {MIIStat1000, &p.Stat1000}, {PHYSR, &p.PHYSR}} {
		v, err := ReadPHY(c, r.reg)
		if err != nil {
			return p, err
		}
		*r.v = v
	}
	return p, nil
}

// Decode explains the registers, one fact per line.
func (p PHYRegs) Decode() []string {
	yes := func(v uint16, bit uint16) string {
		if v&bit != 0 {
			return "yes"
		}
		return "no"
	}
	up, mbps, full := DecodePHYSR(p.PHYSR)
	dup := "half"
	if full {
		dup = "full"
	}
	l := []string{
		fmt.Sprintf("PHY id %04x:%04x", p.ID1, p.ID2),
		fmt.Sprintf("BMCR %04x: autoneg %s, power down %s", p.BMCR, yes(p.BMCR, bmcrANEnable), yes(p.BMCR, 0x0800)),
		fmt.Sprintf("BMSR %04x: link %s, autoneg complete %s", p.BMSR, yes(p.BMSR, bmsrLink), yes(p.BMSR, bmsrANDone)),
		fmt.Sprintf("advertise %04x: 10H %s 10F %s 100H %s 100F %s pause %s; 1000F %s", p.Adv, yes(p.Adv, 0x20), yes(p.Adv, 0x40), yes(p.Adv, 0x80), yes(p.Adv, 0x100), yes(p.Adv, advPause), yes(p.Ctrl1000, 0x200)),
		fmt.Sprintf("partner %04x: 10H %s 10F %s 100H %s 100F %s pause %s; 1000F %s", p.LPA, yes(p.LPA, 0x20), yes(p.LPA, 0x40), yes(p.LPA, 0x80), yes(p.LPA, 0x100), yes(p.LPA, advPause), yes(p.Stat1000, 0x800)),
	}
	if up {
		l = append(l, fmt.Sprintf("PHYSR %04x: link up, %d Mbit/s, %s duplex", p.PHYSR, mbps, dup))
	} else {
		l = append(l, fmt.Sprintf("PHYSR %04x: link down", p.PHYSR))
	}
	return l
}

// EEPROM is the 256-byte EEPROM image.
type EEPROM []byte

// ReadEEPROM reads the whole EEPROM a word at a time (as ethtool -e does
// through ax88179_get_eeprom).
func ReadEEPROM(c Ctrl) (EEPROM, error) {
	e := make(EEPROM, EEPROMLen)
	for w := 0; w < EEPROMLen/2; w++ {
		v, err := ReadEEPROMWord(c, uint16(w))
		if err != nil {
			return nil, err
		}
		binary.LittleEndian.PutUint16(e[2*w:], v)
	}
	return e, nil
}

// Valid applies Linux's validity rule (EEPROMHeaderOK).
func (e EEPROM) Valid() bool { return EEPROMHeaderOK(e) }

// IDs is the le32 at bytes 6..9: PID<<16|VID on a programmed part, the
// same value as Linux's ethtool EEPROM magic for an AX88179 (0x17900b95).
func (e EEPROM) IDs() uint32 {
	if len(e) < 10 {
		return 0
	}
	return binary.LittleEndian.Uint32(e[6:])
}

// MagicOK reports whether the EEPROM's ID word equals EEPROMMagic.
func (e EEPROM) MagicOK() bool { return e.IDs() == EEPROMMagic }

// LEDMode is EEPROM word 0x42.
func (e EEPROM) LEDMode() uint16 {
	if len(e) < 0x86 {
		return 0xffff
	}
	return binary.LittleEndian.Uint16(e[0x84:])
}

// ErrBadMagic is returned by WriteEEPROM when the caller's magic is not
// EEPROMMagic (ethtool -E's safety catch, as ax88179_set_eeprom checks).
var ErrBadMagic = fmt.Errorf("ax88179: EEPROM write refused: magic is not %#08x", EEPROMMagic)

// WriteEEPROM writes data at byte offset off (read-modify-write on odd
// edges) and asks the chip to reload, refusing unless magic is
// EEPROMMagic.
func WriteEEPROM(c Ctrl, off int, data []byte, magic uint32) error {
	if magic != EEPROMMagic {
		return ErrBadMagic
	}
	if off < 0 || len(data) == 0 || off+len(data) > EEPROMLen {
		return fmt.Errorf("ax88179: EEPROM write of %d bytes at %d outside the %d-byte EEPROM", len(data), off, EEPROMLen)
	}
	first, last := off/2, (off+len(data)-1)/2
	buf := make([]byte, 2*(last-first+1))
	if off%2 == 1 {
		v, err := ReadEEPROMWord(c, uint16(first))
		if err != nil {
			return err
		}
		binary.LittleEndian.PutUint16(buf, v)
	}
	if (off+len(data))%2 == 1 {
		v, err := ReadEEPROMWord(c, uint16(last))
		if err != nil {
			return err
		}
		binary.LittleEndian.PutUint16(buf[len(buf)-2:], v)
	}
	copy(buf[off%2:], data)
	for w := first; w <= last; w++ {
		if err := WriteEEPROMWord(c, uint16(w), binary.LittleEndian.Uint16(buf[2*(w-first):])); err != nil {
			return err
		}
	}
	if err := c.VendorOut(Reload, 0, 0, nil); err != nil {
		return fmt.Errorf("ax88179: reload EEPROM: %w", err)
	}
	return nil
}

// LinkInfo is link, speed, duplex and flow control for `dongle diag`.
type LinkInfo struct {
	Link
	Medium  uint16
	RxPause bool // MEDIUM.RXFC: pause frames received are honoured
	TxPause bool // MEDIUM.TXFC: pause frames are sent
	Jumbo   bool
	BulkIn  BulkIn
	RxURB   int // the RX transfer size this aggregation needs
}

func (l LinkInfo) String() string {
	var fc []string
	if l.RxPause {
		fc = append(fc, "rx")
	}
	if l.TxPause {
		fc = append(fc, "tx")
	}
	if fc == nil {
		fc = []string{"off"}
	}
	return fmt.Sprintf("%s, flow control %s, medium %04x, bulk-in % x (rx transfer %d)",
		l.Link, strings.Join(fc, "+"), l.Medium, l.BulkIn.Bytes(), l.RxURB)
}

// ReadLinkInfo reads the link, the medium mode and the aggregation setting.
func ReadLinkInfo(c Ctrl) (LinkInfo, error) {
	l, err := ReadLink(c)
	if err != nil {
		return LinkInfo{}, err
	}
	m, err := ReadMAC16(c, RegMedium)
	if err != nil {
		return LinkInfo{}, err
	}
	var q [5]byte
	if err := ReadMAC(c, RegBulkInQCtl, q[:]); err != nil {
		return LinkInfo{}, err
	}
	b := BulkIn{q[0], q[1], q[2], q[3], q[4]}
	return LinkInfo{Link: l, Medium: m, RxPause: m&MediumRxFlow != 0, TxPause: m&MediumTxFlow != 0,
		Jumbo: m&MediumJumbo == MediumJumbo, BulkIn: b, RxURB: b.URBSize()}, nil
}

// NodeID reads the station address the chip uses for its filter.
func NodeID(c Ctrl) (net.HardwareAddr, error) {
	a := make(net.HardwareAddr, 6)
	return a, ReadMAC(c, RegNodeID, a)
}
