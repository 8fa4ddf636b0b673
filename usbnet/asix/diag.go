package asix

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"

	"dongle/usbnet"
)

// Diagnostics for `dongle diag`: each helper reads the chip and returns
// plain data (JSON-friendly), never printing. They work on a bound device
// (usbnet.Probe with this driver); ReadPHY needs the PHY address Bind found.

// Registers is the MAC's register file as read back.
type Registers struct {
	RxCtl         uint16           `json:"rx_ctl"`
	Medium        uint16           `json:"medium_status"`
	IPG           [3]byte          `json:"ipg"`
	NodeID        net.HardwareAddr `json:"node_id"`
	GPIO          byte             `json:"gpio"`
	Monitor       byte             `json:"monitor_mode"`
	PHYAddr       [2]byte          `json:"phy_id"` // READ_PHY_ID raw: [secondary, primary]
	StatMngSts    byte             `json:"statmngsts"`
	ChipCode      byte             `json:"chip_code"` // StatMngSts & 0x70: 0x00 772, 0x10 772A, 0x20 772B
	RxCtlFlags    []string         `json:"rx_ctl_flags"`
	MediumFlags   []string         `json:"medium_flags"`
	RxBufferBytes int              `json:"rx_buffer_bytes"` // from the MFB field
}

func flagNames(v uint16, names []struct {
	bit  uint16
	name string
}) []string {
	var out []string
	for _, n := range names {
		if v&n.bit != 0 {
			out = append(out, n.name)
		}
	}
	return out
}

var rxCtlNames = []struct {
	bit  uint16
	name string
}{{RxCtlPRO, "PRO"}, {RxCtlAMALL, "AMALL"}, {RxCtlSEP, "SEP"}, {RxCtlAB, "AB"}, {RxCtlAM, "AM"}, {RxCtlAP, "AP"}, {RxCtlSO, "SO"}}

var mediumNames = []struct {
	bit  uint16
	name string
}{{MediumGM, "GM"}, {MediumFD, "FD"}, {MediumAC, "AC"}, {MediumENCK, "ENCK"}, {MediumRFC, "RFC"}, {MediumTFC, "TFC"},
	{MediumJFE, "JFE"}, {MediumPF, "PF"}, {MediumRE, "RE"}, {MediumPS, "PS"}, {MediumSBP, "SBP"}, {MediumSM, "SM"}}

// ReadRegisters reads RX_CTL, medium status, IPG, NODE_ID, GPIO, monitor
// mode, the PHY address and STATMNGSTS. The first failing read is returned,
// naming the register.
func ReadRegisters(d *usbnet.Dev) (*Registers, error) {
	r := &Registers{NodeID: make(net.HardwareAddr, 6)}
	var b2 [2]byte
	var b1 [1]byte
	steps := []struct {
		what string
		req  uint8
		buf  []byte
		then func()
	}{
		{"RX_CTL", CmdReadRxCtl, b2[:], func() { r.RxCtl = binary.LittleEndian.Uint16(b2[:]) }},
		{"medium status", CmdReadMediumStat, b2[:], func() { r.Medium = binary.LittleEndian.Uint16(b2[:]) }},
		{"IPG", CmdReadIPG012, r.IPG[:], func() {}},
		{"NODE_ID", CmdReadNodeID, r.NodeID, func() {}},
		{"GPIO", CmdReadGPIOs, b1[:], func() { r.GPIO = b1[0] }},
		{"monitor mode", CmdReadMonitor, b1[:], func() { r.Monitor = b1[0] }},
		{"PHY address", CmdReadPHYID, r.PHYAddr[:], func() {}},
		{"STATMNGSTS", CmdStatMngSts, b1[:], func() { r.StatMngSts = b1[0]; r.ChipCode = b1[0] & ChipCodeMask }},
	}
	for _, s := range steps {
		if err := d.VendorIn(s.req, 0, 0, s.buf); err != nil {
			return nil, fmt.Errorf("asix: diag: read %s: %w", s.what, err)
		}
		s.then()
	}
	r.RxCtlFlags = flagNames(r.RxCtl, rxCtlNames)
	r.MediumFlags = flagNames(r.Medium, mediumNames)
	r.RxBufferBytes = 2048 << ((r.RxCtl & RxCtlMFB) >> 8)
	return r, nil
}

// PHY is a dump of the PHY's 32 clause 22 registers, decoded.
type PHY struct {
	Addr    uint8      `json:"addr"`
	Regs    [32]uint16 `json:"regs"`
	ID      uint32     `json:"id"` // PHYSID1<<16 | PHYSID2
	OUI     uint32     `json:"oui"`
	Model   uint8      `json:"model"`
	Rev     uint8      `json:"rev"`
	BMCR    BMCR       `json:"bmcr"`
	BMSR    BMSR       `json:"bmsr"`
	Adv     []string   `json:"advertise"`
	Partner []string   `json:"partner"`
	Link    LinkMode   `json:"link"`
}

// BMCR is the control register decoded.
type BMCR struct {
	Reset, Loopback, AutoNeg, PowerDown, Isolate, RestartAN, FullDuplex bool
	ForcedMbps                                                          int
}

// BMSR is the status register decoded.
type BMSR struct {
	Link, AutoNegAble, AutoNegDone, RemoteFault bool
	Abilities                                   []string
}

func decodeAbilities(v uint16) []string {
	var out []string
	for _, a := range []struct {
		bit  uint16
		name string
	}{{ADV10Half, "10baseT/Half"}, {ADV10Full, "10baseT/Full"}, {ADV100Half, "100baseTX/Half"}, {ADV100Full, "100baseTX/Full"},
		{ADVPauseCap, "Pause"}, {ADVPauseAsym, "AsymPause"}} {
		if v&a.bit != 0 {
			out = append(out, a.name)
		}
	}
	return out
}

// appendBits appends 1000baseT/Half and /Full to out for the bits of v.
func appendBits(out []string, v, half, full uint16) []string {
	if v&half != 0 {
		out = append(out, "1000baseT/Half")
	}
	if v&full != 0 {
		out = append(out, "1000baseT/Full")
	}
	return out
}

// DecodePHY decodes a register dump.
func DecodePHY(addr uint8, regs [32]uint16) *PHY {
	p := &PHY{Addr: addr, Regs: regs}
	p.ID = uint32(regs[MIIPHYSID1])<<16 | uint32(regs[MIIPHYSID2])
	p.OUI = uint32(regs[MIIPHYSID1])<<6 | uint32(regs[MIIPHYSID2]>>10)
	p.Model = uint8(regs[MIIPHYSID2] >> 4 & 0x3f)
	p.Rev = uint8(regs[MIIPHYSID2] & 0xf)
	c := regs[MIIBMCR]
	p.BMCR = BMCR{Reset: c&BMCRReset != 0, Loopback: c&BMCRLoopback != 0, AutoNeg: c&BMCRANEnable != 0,
		PowerDown: c&BMCRPowerDown != 0, Isolate: c&BMCRIsolate != 0, RestartAN: c&BMCRANRestart != 0,
		FullDuplex: c&BMCRFullDplx != 0, ForcedMbps: 10}
	switch {
	case c&BMCRSpeed100 != 0:
		p.BMCR.ForcedMbps = 100
	case c&BMCRSpeed1000 != 0: // gigabit PHYs (AX88178): bit 6 alone
		p.BMCR.ForcedMbps = 1000
	}
	s := regs[MIIBMSR]
	p.BMSR = BMSR{Link: s&BMSRLStatus != 0, AutoNegAble: s&BMSRANegCap != 0, AutoNegDone: s&BMSRANegDone != 0,
		RemoteFault: s&BMSRRFault != 0}
	for _, a := range []struct {
		bit  uint16
		name string
	}{{BMSR10Half, "10baseT/Half"}, {BMSR10Full, "10baseT/Full"}, {BMSR100Half, "100baseTX/Half"}, {BMSR100Full, "100baseTX/Full"}} {
		if s&a.bit != 0 {
			p.BMSR.Abilities = append(p.BMSR.Abilities, a.name)
		}
	}
	// Gigabit PHYs (AX88178): abilities in the extended status register,
	// our offer in CTRL1000 and the partner's in STAT1000 (mii.h's
	// ESTATUS_1000_*, ADVERTISE_1000*, LPA_1000*).
	if s&BMSRESTATEN != 0 {
		p.BMSR.Abilities = appendBits(p.BMSR.Abilities, regs[MIIEStatus], ESTAT1000Half, ESTAT1000Full)
	}
	p.Adv = appendBits(decodeAbilities(regs[MIIAdvertise]), regs[MIICtrl1000], Adv1000Half, Adv1000Full)
	p.Partner = appendBits(decodeAbilities(regs[MIILPA]), regs[MIIStat1000], LPA1000Half, LPA1000Full)
	p.Link = Resolve(c, s, regs[MIIAdvertise], regs[MIILPA], regs[MIICtrl1000], regs[MIIStat1000])
	return p
}

// ReadPHY reads all 32 PHY registers through the MII arbiter and decodes
// them.
func ReadPHY(d *usbnet.Dev) (*PHY, error) {
	p, err := privOf(d)
	if err != nil {
		return nil, err
	}
	var regs [32]uint16
	for r := range regs {
		if regs[r], err = p.mdioRead(d, r); err != nil {
			return nil, fmt.Errorf("asix: diag: %w", err)
		}
	}
	return DecodePHY(p.phyAddr, regs), nil
}

// EEPROM is a dump of the serial EEPROM, ethtool style.
type EEPROM struct {
	// Magic identifies an ASIX dump (EEPROMMagic), as ethtool -e does.
	Magic uint32           `json:"magic"`
	Words []uint16         `json:"words"`
	MAC   net.HardwareAddr `json:"mac"` // words 4..6
	Blank bool             `json:"blank"`
}

// ErrEEPROM is wrapped by EEPROM check failures.
var ErrEEPROM = errors.New("bad EEPROM dump")

// Check validates a dump (one read back from a file, say): the magic must
// be EEPROMMagic, it must hold the MAC words, and the MAC they hold must
// be a unicast address unless the part is blank.
func (e *EEPROM) Check() error {
	switch {
	case e.Magic != EEPROMMagic:
		return fmt.Errorf("asix: %w: magic %#08x, want %#08x", ErrEEPROM, e.Magic, EEPROMMagic)
	case len(e.Words) < EEPROMMACWord+3:
		return fmt.Errorf("asix: %w: %d words, the MAC is in words %d..%d", ErrEEPROM, len(e.Words), EEPROMMACWord, EEPROMMACWord+2)
	case e.Blank:
		return nil
	case e.MAC[0]&1 != 0 || [6]byte(e.MAC) == [6]byte{}:
		return fmt.Errorf("asix: %w: MAC %v is not a unicast address", ErrEEPROM, e.MAC)
	}
	return nil
}

// ParseEEPROM builds a dump from raw words.
func ParseEEPROM(words []uint16) *EEPROM {
	e := &EEPROM{Magic: EEPROMMagic, Words: words, Blank: true}
	for _, w := range words {
		if w != 0xffff {
			e.Blank = false
		}
	}
	if len(words) >= EEPROMMACWord+3 {
		e.MAC = make(net.HardwareAddr, 6)
		for i := 0; i < 3; i++ {
			binary.LittleEndian.PutUint16(e.MAC[2*i:], words[EEPROMMACWord+i])
		}
	}
	return e
}

// ReadEEPROM reads the first n words (n ≤ EEPROMLen/2; 0 means all) with
// READ_EEPROM, one word per request as Linux does.
func ReadEEPROM(d *usbnet.Dev, n int) (*EEPROM, error) {
	if n <= 0 || n > EEPROMLen/2 {
		n = EEPROMLen / 2
	}
	words := make([]uint16, n)
	var b [2]byte
	for i := range words {
		if err := d.VendorIn(CmdReadEEPROM, uint16(i), 0, b[:]); err != nil {
			return nil, fmt.Errorf("asix: diag: read EEPROM word %d: %w", i, err)
		}
		words[i] = binary.LittleEndian.Uint16(b[:])
	}
	e := ParseEEPROM(words)
	return e, e.Check()
}
