package diag

import (
	"fmt"
	"io"
	"strings"
)

// Print writes the report for a person: the verdict (the failure rules
// that fired, with their evidence), lsusb -v's tree, ethtool's sections,
// the timeline, then the anomalies.
func (r *Report) Print(w io.Writer) {
	p := func(format string, args ...any) { fmt.Fprintf(w, format+"\n", args...) }
	// What is wrong comes first; only a note saying what is diagnosed
	// instead of what was asked for precedes it.
	if r.Note != "" {
		p("%s", r.Note)
	}
	r.Verdict.print(p)
	p("Source:   %s", r.Source)
	if r.USBIP != "" {
		p("USB/IP:   %s", r.USBIP)
	}
	if d := r.Device; d != nil {
		p("Device:   %s:%s  USB %s  bcdDevice %s  class %s  ep0 %d bytes", d.VID, d.PID, d.USB, d.Device, d.Class, d.MaxPacket0)
		if d.Manufacturer != "" || d.Product != "" {
			p("          %s %s", d.Manufacturer, d.Product)
		}
		if d.Serial != "" {
			p("          serial %s", d.Serial)
		}
		p("          %d configuration(s), speed %s", d.Configs, d.Speed)
	}
	for _, c := range r.Configs {
		act := ""
		if c.Active {
			act = " (active)"
		}
		name := ""
		if c.Name != "" {
			name = fmt.Sprintf(" %q", c.Name)
		}
		p("  Configuration %d%s%s: %s, %d mA", c.Value, name, act, c.Attributes, c.MaxPowerMA)
		for _, i := range c.Interfaces {
			name := ""
			if i.Name != "" {
				name = fmt.Sprintf(" %q", i.Name)
			}
			p("    Interface %d alt %d: class %s%s", i.Number, i.Alt, i.Class, name)
			for _, f := range i.Functional {
				p("      %s", f)
			}
			for _, e := range i.Endpoints {
				p("      Endpoint %s %s, wMaxPacketSize %d, bInterval %d", e.Address, e.Type, e.MaxPacket, e.Interval)
			}
		}
	}
	switch {
	case r.Driver != "" && r.Bound:
		p("Driver:   %s (%s)", r.Driver, r.Chip)
		if r.ConfigChoice != "" {
			p("Config:   %s", r.ConfigChoice)
		}
	case r.Driver != "":
		p("Driver:   %s (%s), did not bind: %s", r.Driver, r.Chip, r.BindError)
	case r.BindError != "":
		p("Driver:   none: %s", r.BindError)
	}
	if r.MAC != "" {
		p("MAC:      %s", r.MAC)
	}
	if e := r.Endpoints; e != nil {
		s := fmt.Sprintf("Endpoints: %s, %s", e.In, e.Out)
		if e.Status != "" {
			s += ", status " + e.Status
		}
		s += fmt.Sprintf("; wMaxPacketSize %d", e.MaxPacket)
		if e.RxURBSize > 0 {
			s += fmt.Sprintf(", rx_urb_size %d, hard_mtu %d", e.RxURBSize, e.HardMTU)
		}
		p("%s", s)
	}
	if l := r.Link; l != nil {
		s := "down"
		if l.Up {
			s = "up"
		}
		if l.Mbps > 0 {
			s += fmt.Sprintf(", %d Mbit/s", l.Mbps)
		}
		if l.Duplex != "" {
			s += ", " + l.Duplex + " duplex"
		}
		if l.FlowControl != "" {
			s += ", flow control " + l.FlowControl
		}
		if l.Detail != "" {
			s += " (" + l.Detail + ")"
		}
		p("Link:     %s", s)
	}
	if r.RegistersRead != "" && (len(r.PHY) > 0 || len(r.MACRegs) > 0) {
		p("Registers read %s:", r.RegistersRead)
	}
	if len(r.PHY) > 0 {
		p("PHY:")
		for _, l := range r.PHY {
			p("  %s", l)
		}
		if len(r.PHYRegs) > 0 {
			var parts []string
			for _, k := range sortedKeys(r.PHYRegs) {
				parts = append(parts, k+"="+r.PHYRegs[k])
			}
			p("  registers: %s", strings.Join(parts, " "))
		}
	}
	if len(r.MACRegs) > 0 {
		p("MAC registers:")
		for _, g := range r.MACRegs {
			note := ""
			if g.Note != "" {
				note = "  " + g.Note
			}
			p("  %-20s %-5s %s%s", g.Name, g.Addr, g.Value, note)
		}
	}
	if e := r.EEPROM; e != nil {
		p("EEPROM:   %d bytes, magic ok %v, valid %v, MAC %s %s", e.Bytes, e.MagicOK, e.Valid, e.MAC, e.Problem)
		for i := 0; i < len(e.Hex); i += 64 {
			p("  %04x: %s", i/2, e.Hex[i:min(i+64, len(e.Hex))])
		}
	}
	if t := r.Trace; t != nil {
		p("Trace:    %s, %s, %d records, %d URBs of device %s", t.File, t.Writer, t.Records, t.URBs, t.Device)
		if len(t.Devices) > 1 {
			p("Devices in the trace (%d records of the others ignored):", t.Stats.Ignored)
			for _, d := range t.Devices {
				p("  %s", d)
			}
		}
		if len(t.Selections) > 1 {
			p("Configurations the host selected:")
			for i, sel := range t.Selections {
				if i == 20 {
					p("  ... %d more", len(t.Selections)-i+t.Stats.MoreSelections)
					break
				}
				p("  %s", sel.String())
			}
		}
		if len(t.Damage) > 0 {
			p("Damaged records skipped (%d):", t.Stats.Damaged)
			for _, d := range t.Damage {
				p("  %s", d)
			}
		}
		p("Control requests seen (%d):", t.Stats.Controls)
		for _, q := range t.Requests {
			st := ""
			if q.Stalled > 0 {
				st = fmt.Sprintf(", %d stalled", q.Stalled)
			}
			p("  %-52s x%-3d first at record %d%s", q.Name, q.Count, q.First, st)
		}
		s := t.Stats
		p("Frames:   RX %d (%d bytes) in %d bulk IN transfers, TX %d (%d bytes) in %d bulk OUT transfers",
			s.RxFrames, s.RxBytes, s.RxTransfers, s.TxFrames, s.TxBytes, s.TxTransfers)
		p("Framing:  %d RX / %d TX framing errors, %d RX / %d TX truncated by the capture, %d ZLPs, %d URBs pending at the end",
			s.RxErrors, s.TxErrors, s.RxTruncated, s.TxTruncated, s.ZLPs, s.Pending)
		if s.RxDropped > 0 {
			p("          %d bulk IN URBs dropped, completed with an error status (-EOVERFLOW %d)", s.RxDropped, s.RxOverErrors)
		}
		for _, e := range t.FrameErrors {
			p("  %s", e)
		}
		if len(t.LinkEvents) > 0 {
			p("Link events (%d interrupt transfers):", s.Notifications)
			for _, e := range t.LinkEvents {
				p("  %s", e)
			}
		}
		if t.Replay != "" {
			p("Replay:   %s", t.Replay)
		}
		if len(t.Lives) > 1 {
			p("Lives of the adapter (%d, followed by VID:PID and serial):", len(t.Lives))
			for _, l := range t.Lives {
				p("  %s", l)
			}
		}
	}
	if st := r.SelfTest; st != nil {
		res := "FAIL"
		if st.Passed {
			res = "pass"
		}
		note := ""
		if st.Note != "" {
			note = " (" + st.Note + ")"
		}
		p("Self-test: %s: %s, %d sent, %d received%s", res, st.Mode, st.Sent, st.Received, note)
	}
	if s := r.Stats; s != nil {
		p("Statistics: rx_packets %d rx_bytes %d rx_errors %d rx_dropped %d tx_packets %d tx_bytes %d tx_errors %d tx_dropped %d",
			s.RxPackets, s.RxBytes, s.RxErrors, s.RxDropped, s.TxPackets, s.TxBytes, s.TxErrors, s.TxDropped)
		p("            rx_length_errors %d rx_frame_errors %d rx_crc_errors %d rx_over_errors %d",
			s.RxLengthErrors, s.RxFrameErrors, s.RxCRCErrors, s.RxOverErrors)
	}
	if len(r.ChipCounters) > 0 {
		var parts []string
		for _, c := range r.ChipCounters {
			parts = append(parts, fmt.Sprintf("%s %d", c.Name, c.Value))
		}
		p("Driver counters: %s", strings.Join(parts, " "))
	}
	if r.Timeline != nil && len(r.Timeline.Buckets) > 0 {
		r.Timeline.WriteText(w, TimelineRows)
	}
	if len(r.Anomalies) == 0 {
		p("Anomalies: none")
		return
	}
	p("Anomalies (%d):", len(r.Anomalies))
	for _, a := range r.Anomalies {
		p("  - %s", a)
	}
}
