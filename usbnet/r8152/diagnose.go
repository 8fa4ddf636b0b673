package r8152

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"net"

	"dongle/usbnet"
)

var _ usbnet.Diagnoser = (*Driver)(nil)

// Diagnose implements usbnet.Diagnoser (r8152's ethtool_ops): the chip
// version from PLA_TCR0/1, the registers of Registers, the PHY through
// OCP, the link PLA_PHYSTATUS reports and the tally counters. It reads
// only (ReadRegs), so it may run on any bound device.
func (*Driver) Diagnose(d *usbnet.Dev) *usbnet.Diagnosis {
	return Diagnose(d)
}

// Diagnose is the Diagnoser's work on any Ctrl.
func Diagnose(c Ctrl) *usbnet.Diagnosis {
	g := &usbnet.Diagnosis{}
	problem := func(format string, args ...any) { g.Problems = append(g.Problems, fmt.Sprintf(format, args...)) }
	ver, err := ReadVersion(c)
	if err != nil {
		problem("chip version: %v", err)
	}
	var tcr [4]byte
	if err := ReadRegs(c, PLA, PLATCR0, 0, tcr[:]); err == nil {
		_, raw := VersionOf(binary.LittleEndian.Uint32(tcr[:]))
		g.MACRegs = append(g.MACRegs, usbnet.Reg{Name: "chip version", Addr: "PLA 0xe612", Value: fmt.Sprintf("%#04x", raw), Note: ver.String()})
	}
	for _, r := range Registers {
		b := make([]byte, r.Len)
		if err := ReadRegs(c, r.Block, r.Addr, 0, b); err != nil {
			problem("%s: %v", r.Name, err)
			continue
		}
		reg := usbnet.Reg{Name: r.Name, Addr: fmt.Sprintf("%s %#04x", r.Block, r.Addr), Value: hex.EncodeToString(b)}
		switch r.Addr {
		case PLAIDR, PLABackup:
			if r.Block == PLA {
				reg.Note = net.HardwareAddr(b[:6]).String()
			}
		case PLARCR:
			if r.Block == PLA {
				reg.Note = rcrNote(uint32(b[0]))
			}
		}
		g.MACRegs = append(g.MACRegs, reg)
	}
	phy := &PHY{C: c}
	var bmsr uint16
	for _, r := range []struct {
		name string
		reg  int
	}{{"BMCR", MIIBMCR}, {"BMSR", MIIBMSR}, {"PHYSID1", MIIPhyID1}, {"PHYSID2", MIIPhyID2}, {"ADVERTISE", MIIAdv},
		{"LPA", MIILPA}, {"CTRL1000", MIICtrl1000}, {"STAT1000", MIIStat1000}} {
		v, err := phy.MDIORead(r.reg)
		if err != nil {
			problem("PHY %s: %v", r.name, err)
			continue
		}
		if r.reg == MIIBMSR {
			bmsr = v
		}
		g.PHYRegs = append(g.PHYRegs, usbnet.Reg{Name: r.name, Addr: fmt.Sprintf("OCP %#04x", OCPBaseMII+uint16(r.reg)*2), Value: fmt.Sprintf("%#04x", v)})
	}
	if v, err := phy.Read(OCPPhyStatus); err != nil {
		problem("PHY OCP_PHY_STATUS: %v", err)
	} else {
		g.PHYRegs = append(g.PHYRegs, usbnet.Reg{Name: "OCP_PHY_STATUS", Addr: fmt.Sprintf("OCP %#04x", OCPPhyStatus), Value: fmt.Sprintf("%#04x", v)})
		g.PHY = append(g.PHY, fmt.Sprintf("OCP_PHY_STATUS %#04x: state %d (3 = LAN on, 5 = power down)", v, v&phyStatMask))
	}
	g.PHY = append(g.PHY, fmt.Sprintf("BMSR %#04x: link %t, autoneg complete %t", bmsr, bmsr&bmsrLink != 0, bmsr&bmsrANDone != 0))
	if st, err := ReadPhyStatus(c); err != nil {
		problem("PLA_PHYSTATUS: %v", err)
	} else {
		l := &usbnet.LinkState{Up: st&PhyLink != 0, Mbps: PhyStatusMbps(st), FullDuplex: st&PhyFullDup != 0,
			RxPause: st&PhyRxFlow != 0, TxPause: st&PhyTxFlow != 0, Detail: fmt.Sprintf("PLA_PHYSTATUS %#04x", st)}
		g.Link = l
		if l.Up != (bmsr&bmsrLink != 0) {
			problem("PLA_PHYSTATUS says link %t, the PHY's BMSR says %t", l.Up, bmsr&bmsrLink != 0)
		}
	}
	if t, err := ReadTally(c); err != nil {
		problem("tally counters: %v", err)
	} else {
		for _, x := range t.Counters() {
			g.Counters = append(g.Counters, usbnet.Counter{Name: x.Name, Value: x.Value})
		}
	}
	return g
}

// rcrNote decodes PLA_RCR's accept bits.
func rcrNote(v uint32) string {
	s := ""
	for _, b := range []struct {
		bit  uint32
		name string
	}{{RCRAAP, "AAP"}, {RCRAPM, "APM"}, {RCRAM, "AM"}, {RCRAB, "AB"}} {
		if v&b.bit != 0 {
			if s != "" {
				s += "|"
			}
			s += b.name
		}
	}
	if s == "" {
		return "accepts nothing"
	}
	return "accept " + s
}
