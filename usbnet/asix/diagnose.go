package asix

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strings"

	"dongle/usbnet"
)

var _ usbnet.Diagnoser = (*Driver)(nil)

// Diagnose implements usbnet.Diagnoser (asix's ethtool_ops: get_regs,
// get_eeprom, the MII registers, get_link_ksettings), from the diag
// helpers of diag.go.
func (*Driver) Diagnose(d *usbnet.Dev) *usbnet.Diagnosis {
	g := &usbnet.Diagnosis{}
	problem := func(format string, args ...any) { g.Problems = append(g.Problems, fmt.Sprintf(format, args...)) }
	mac := d.Net.HardwareAddr().String()
	regs, err := ReadRegisters(d)
	if err != nil {
		problem("MAC registers: %v", err)
	} else {
		g.MACRegs = []usbnet.Reg{
			{Name: "RX_CTL", Addr: "0x0f", Value: fmt.Sprintf("%#04x", regs.RxCtl), Note: strings.Join(regs.RxCtlFlags, "|")},
			{Name: "MEDIUM_STATUS", Addr: "0x1a", Value: fmt.Sprintf("%#04x", regs.Medium), Note: strings.Join(regs.MediumFlags, "|")},
			{Name: "IPG", Addr: "0x11", Value: hex.EncodeToString(regs.IPG[:])},
			{Name: "NODE_ID", Addr: "0x13", Value: regs.NodeID.String()},
			{Name: "GPIO", Addr: "0x1e", Value: fmt.Sprintf("%#02x", regs.GPIO)},
			{Name: "MONITOR_MODE", Addr: "0x1c", Value: fmt.Sprintf("%#02x", regs.Monitor)},
			{Name: "PHY_ID", Addr: "0x19", Value: hex.EncodeToString(regs.PHYAddr[:]), Note: "secondary, primary"},
			{Name: "STATMNGSTS", Addr: "0x09", Value: fmt.Sprintf("%#02x", regs.StatMngSts), Note: fmt.Sprintf("chip code %#02x, RX buffer %d bytes", regs.ChipCode, regs.RxBufferBytes)},
		}
		if len(regs.NodeID) == 6 && regs.NodeID.String() != mac {
			problem("NODE_ID %v differs from the interface MAC %s", regs.NodeID, mac)
		}
	}
	if phy, err := ReadPHY(d); err != nil {
		problem("PHY: %v", err)
	} else {
		if regs != nil && phy.Link.Up && d.Net.Carrier() {
			v, _ := d.ID.Info.(Variant)
			if p := MediumProblem(v, regs.Medium, phy.Link); p != "" {
				problem("%s", p)
			}
		}
		g.PHY = []string{
			fmt.Sprintf("PHY address %d, ID %#08x (OUI %#06x model %d rev %d)", phy.Addr, phy.ID, phy.OUI, phy.Model, phy.Rev),
			fmt.Sprintf("BMCR: %+v", phy.BMCR),
			fmt.Sprintf("BMSR: link %v, autoneg done %v, remote fault %v, abilities %s", phy.BMSR.Link, phy.BMSR.AutoNegDone, phy.BMSR.RemoteFault, strings.Join(phy.BMSR.Abilities, " ")),
			"advertised: " + strings.Join(phy.Adv, " "),
			"partner: " + strings.Join(phy.Partner, " "),
			"resolved: " + phy.Link.String(),
		}
		for i, v := range phy.Regs {
			g.PHYRegs = append(g.PHYRegs, usbnet.Reg{Name: fmt.Sprintf("%02d", i), Value: fmt.Sprintf("%#04x", v)})
		}
		l := phy.Link
		g.Link = &usbnet.LinkState{Up: l.Up, Mbps: l.Mbps, FullDuplex: l.FullDuplex, RxPause: l.RxPause, TxPause: l.TxPause, Detail: "from the PHY"}
	}
	if e, err := ReadEEPROM(d, 0); err != nil {
		problem("EEPROM: %v", err)
	} else {
		bytes := make([]byte, 2*len(e.Words))
		for i, w := range e.Words {
			binary.LittleEndian.PutUint16(bytes[2*i:], w)
		}
		dump := &usbnet.EEPROMDump{Bytes: bytes, MagicOK: e.Magic == EEPROMMagic, MAC: e.MAC.String()}
		if err := e.Check(); err != nil {
			dump.Problem = err.Error()
			problem("EEPROM: %v", err)
		}
		dump.Valid = dump.Problem == ""
		g.EEPROM = dump
	}
	if st := RxStatsOf(d); st != nil {
		g.Counters = []usbnet.Counter{
			{Name: "rx_deframed_frames", Value: st.Frames.Load()}, {Name: "rx_deframed_bytes", Value: st.Bytes.Load()},
			{Name: "rx_bad_header", Value: st.BadHeader.Load()}, {Name: "rx_oversize", Value: st.Oversize.Load()},
			{Name: "rx_runt", Value: st.Runt.Load()}, {Name: "rx_sync_lost", Value: st.SyncLost.Load()},
			{Name: "rx_discarded", Value: st.Discarded.Load()},
		}
	}
	return g
}

// MediumProblem describes a medium mode whose speed and duplex bits differ
// from what the driver writes for the link the PHY resolved: the MAC would
// clock frames at another speed than the wire (ax88772_link_reset,
// ax88178_link_reset). "" when they agree.
func MediumProblem(v Variant, medium uint16, l LinkMode) string {
	const bits = MediumGM | MediumPS | MediumFD
	want := MediumMode(v, l)
	if medium&bits != want&bits {
		return fmt.Sprintf("MEDIUM_STATUS %#04x does not match the PHY's link %v: speed/duplex bits %#04x, want %#04x", medium, l, medium&bits, want&bits)
	}
	return ""
}
