package ax88179

import (
	"encoding/hex"
	"fmt"
	"net"

	"dongle/usbnet"
)

var _ usbnet.Diagnoser = (*Driver)(nil)

// Diagnose implements usbnet.Diagnoser (ax88179_178a's ethtool_ops:
// the MAC register dump, the PHY, the link the chip resolved, the EEPROM),
// from the diag helpers of diag.go.
func (*Driver) Diagnose(d *usbnet.Dev) *usbnet.Diagnosis {
	g := &usbnet.Diagnosis{}
	problem := func(format string, args ...any) { g.Problems = append(g.Problems, fmt.Sprintf(format, args...)) }
	if regs, err := DumpMAC(d); err != nil {
		problem("MAC registers: %v", err)
	} else {
		for _, v := range regs {
			g.MACRegs = append(g.MACRegs, usbnet.Reg{Name: v.Name, Addr: fmt.Sprintf("%#02x", v.Reg), Value: hex.EncodeToString(v.Data)})
		}
	}
	if p, err := ReadPHYRegs(d); err != nil {
		problem("PHY: %v", err)
	} else {
		g.PHY = p.Decode()
		for _, r := range []struct {
			name string
			v    uint16
		}{{"BMCR", p.BMCR}, {"BMSR", p.BMSR}, {"PHYID1", p.ID1}, {"PHYID2", p.ID2}, {"ADVERTISE", p.Adv}, {"LPA", p.LPA},
			{"CTRL1000", p.Ctrl1000}, {"STAT1000", p.Stat1000}, {"PHYSR", p.PHYSR}} {
			g.PHYRegs = append(g.PHYRegs, usbnet.Reg{Name: r.name, Value: fmt.Sprintf("%#04x", r.v)})
		}
	}
	if li, err := ReadLinkInfo(d); err != nil {
		problem("link: %v", err)
	} else {
		g.Link = &usbnet.LinkState{Up: li.Up, Mbps: li.Mbps, FullDuplex: li.FullDuplex, RxPause: li.RxPause, TxPause: li.TxPause, Detail: li.String()}
	}
	if e, err := ReadEEPROM(d); err != nil {
		problem("EEPROM: %v", err)
	} else {
		dump := &usbnet.EEPROMDump{Bytes: e, MagicOK: e.MagicOK(), Valid: e.Valid()}
		if len(e) >= 6 {
			dump.MAC = net.HardwareAddr(e[:6]).String()
		}
		if !dump.MagicOK {
			dump.Problem = fmt.Sprintf("ID word %#08x, want %#08x", e.IDs(), EEPROMMagic)
			problem("EEPROM: %s", dump.Problem)
		}
		if !dump.Valid {
			problem("EEPROM header fails Linux's checksum rule (the driver falls back to the eFuse)")
		}
		g.EEPROM = dump
	}
	return g
}
