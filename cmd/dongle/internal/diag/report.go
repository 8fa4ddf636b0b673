package diag

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"time"

	"dongle/cmd/dongle/internal/target"
	"dongle/hw"
	"dongle/hw/record"
	"dongle/hw/sim"
	"dongle/netdev"
	"dongle/skbuff"
	"dongle/usbnet"
	"dongle/usbnet/catalog"
	"dongle/usbnet/decode"
	"dongle/usbnet/rules"
)

// Report is everything `dongle diag` found.
type Report struct {
	Source string `json:"source"`
	Note   string `json:"note,omitempty"`
	// USBIP says where a remote adapter is: "remote: usbip://HOST:PORT/BUSID
	// on vhci port N ..." for one attached through vhci_hcd ("" for a local
	// one, a model or a trace).
	USBIP   string       `json:"usbip,omitempty"`
	Device  *DeviceInfo  `json:"device,omitempty"`
	Configs []ConfigInfo `json:"configurations,omitempty"`
	Driver  string       `json:"driver,omitempty"`
	Chip    string       `json:"chip,omitempty"`
	Bound   bool         `json:"bound"`
	// ConfigChoice says which configuration the driver was bound in when
	// that is not the one the device was left in (usbnet.Match: a driver
	// that selects its configuration, as r8152 takes a Realtek adapter's
	// vendor one over its CDC ECM one), and how to force another driver.
	ConfigChoice string            `json:"config_choice,omitempty"`
	BindError    string            `json:"bind_error,omitempty"`
	MAC          string            `json:"mac,omitempty"`
	Endpoints    *EndpointsInfo    `json:"endpoints,omitempty"`
	Link         *LinkInfo         `json:"link,omitempty"`
	PHY          []string          `json:"phy,omitempty"`
	PHYRegs      map[string]string `json:"phy_registers,omitempty"`
	MACRegs      []RegInfo         `json:"mac_registers,omitempty"`
	// RegistersRead says when the PHY and MAC registers were read.
	RegistersRead string                `json:"registers_read,omitempty"`
	EEPROM        *EEPROMInfo           `json:"eeprom,omitempty"`
	SelfTest      *SelfTest             `json:"self_test,omitempty"`
	Stats         *netdev.StatsSnapshot `json:"statistics,omitempty"`
	ChipCounters  []CounterInfo         `json:"chip_counters,omitempty"`
	Trace         *TraceInfo            `json:"trace,omitempty"`
	Anomalies     []string              `json:"anomalies"`
	// Verdict is what the failure rules found (printed first); Timeline
	// the trace's (or the run's recording's) activity per interval.
	Verdict  *Verdict        `json:"verdict,omitempty"`
	Timeline *rules.Timeline `json:"timeline,omitempty"`
}

// EndpointsInfo are the endpoints the driver uses.
type EndpointsInfo struct {
	In        string `json:"bulk_in"`
	Out       string `json:"bulk_out"`
	Status    string `json:"status,omitempty"`
	MaxPacket int    `json:"max_packet"`
	RxURBSize int    `json:"rx_urb_size,omitempty"`
	HardMTU   int    `json:"hard_mtu,omitempty"`
}

// LinkInfo is ethtool's link section.
type LinkInfo struct {
	Up          bool   `json:"up"`
	Mbps        int    `json:"mbps,omitempty"`
	Duplex      string `json:"duplex,omitempty"`
	FlowControl string `json:"flow_control,omitempty"`
	Detail      string `json:"detail,omitempty"`
}

// RegInfo is one MAC register.
type RegInfo struct {
	Name  string `json:"name"`
	Addr  string `json:"addr"`
	Value string `json:"value"`
	Note  string `json:"note,omitempty"`
}

// CounterInfo is one of the driver's own statistics (ethtool -S).
type CounterInfo struct {
	Name  string `json:"name"`
	Value uint64 `json:"value"`
}

// EEPROMInfo is ethtool -e's summary.
type EEPROMInfo struct {
	Bytes   int    `json:"bytes"`
	MagicOK bool   `json:"magic_ok"`
	Valid   bool   `json:"valid"`
	MAC     string `json:"mac,omitempty"`
	Problem string `json:"problem,omitempty"`
	Hex     string `json:"hex"`
}

// SelfTest is ethtool -t's result: frames sent and what came back.
type SelfTest struct {
	Mode     string `json:"mode"` // "wire loopback" (models), "broadcast" (real hardware)
	Sent     int    `json:"sent"`
	Received int    `json:"received"`
	Passed   bool   `json:"passed"`
	Note     string `json:"note,omitempty"`
}

// TraceInfo summarises a trace diagnosis.
type TraceInfo struct {
	File        string         `json:"file"`
	Writer      string         `json:"writer"` // QEMU pcap=, Linux usbmon, dongle recorder
	Records     int            `json:"records"`
	URBs        int            `json:"urbs"`
	Requests    []RequestCount `json:"control_requests"`
	Stats       decode.Stats   `json:"stats"`
	LinkEvents  []string       `json:"link_events,omitempty"`
	FrameErrors []string       `json:"framing_errors,omitempty"`
	Replay      string         `json:"replay,omitempty"`
	// Device is the device diagnosed (BUS.ADDR); Devices every device the
	// trace holds; Selections the configurations the host selected;
	// Damage the damaged records skipped.
	Device     string             `json:"device"`
	Devices    []string           `json:"devices"`
	Selections []decode.Selection `json:"selections"`
	Damage     []string           `json:"damage,omitempty"`
	// Lives are the adapter's lives when it enumerated more than once.
	Lives []decode.Life `json:"lives,omitempty"`
}

// RequestCount is a control request seen, with how often.
type RequestCount struct {
	Name    string `json:"name"`
	Count   int    `json:"count"`
	Stalled int    `json:"stalled,omitempty"`
	First   int    `json:"first_record"`
}

// SelfTestFrames is how many frames the self-test sends.
const SelfTestFrames = 8

// TestEtherType is the EtherType of dongle's own test frames (IEEE 802
// local experimental 1).
const TestEtherType = 0x88b5

func (r *Report) anomaly(format string, args ...any) {
	r.Anomalies = append(r.Anomalies, fmt.Sprintf(format, args...))
}

// strCache reads string descriptors once each.
func strCache(ctx context.Context, dev hw.Device, r *Report) func(uint8) string {
	m := map[uint8]string{}
	return func(i uint8) string {
		if i == 0 {
			return ""
		}
		if s, ok := m[i]; ok {
			return s
		}
		s, err := hw.ReadString(ctx, dev, i)
		if err != nil {
			r.anomaly("string descriptor %d: %v", i, err)
		}
		m[i] = s
		return s
	}
}

// Live diagnoses an open device: descriptors, bind, registers, self-test.
func Live(ctx context.Context, t *target.Target) (*Report, error) {
	r := &Report{Source: t.Name, USBIP: t.USBIP.String(), Anomalies: []string{}}
	if t.USBIP.Err != nil {
		r.anomaly("USB/IP state: %v", t.USBIP.Err)
	}
	// The run is recorded (hw/record) so that the failure rules judge
	// it as they judge a capture.
	var trace bytes.Buffer
	dev := hw.Device(t.HW)
	rec, err := record.New(t.HW, &trace, record.Options{})
	if err != nil {
		r.Verdict = &Verdict{Why: err.Error()}
	} else {
		dev = rec
		defer func() {
			if r.Verdict != nil {
				return
			}
			if err := rec.Flush(); err != nil {
				r.Verdict = &Verdict{Why: err.Error()}
				return
			}
			info := t.HW.Info()
			r.judgeRecording(trace.Bytes(), info.Bus, info.Address, r.Driver)
		}()
	}
	dd, err := hw.ReadDeviceDescriptor(ctx, dev)
	if err != nil {
		return nil, err
	}
	str := strCache(ctx, dev, r)
	r.Device = describeDevice(dd, str)
	r.Device.Speed = dev.Info().Speed.String()
	active, _ := dev.Configuration()
	for i := 0; i < int(dd.NumConfigurations); i++ {
		c, err := hw.ReadConfig(ctx, dev, uint8(i))
		if err != nil {
			r.anomaly("%v", err)
			continue
		}
		ci := describeConfig(c, str, &r.Anomalies)
		ci.Active = int(c.Value) == active
		r.Configs = append(r.Configs, ci)
	}
	d, err := usbnet.Probe(dev, t.Drivers...)
	if err != nil {
		r.BindError = err.Error()
		r.anomaly("driver did not bind: %v", err)
		if errors.Is(err, hw.ErrAccess) || errors.Is(err, hw.ErrBusy) || errors.Is(err, hw.ErrNoDevice) {
			return r, err
		}
		return r, nil
	}
	defer d.Disconnect()
	r.bound(d)
	if int(d.Config.Value) != active {
		r.ConfigChoice = fmt.Sprintf("%s bound in configuration %d, switched from the active configuration %d (another function of the device is driven with --driver=NAME or %s=NAME)",
			d.Driver.Name(), d.Config.Value, active, catalog.DriverEnv)
	}
	// Registers are read with the interface open, as ethtool -d reads a
	// live interface: at bind the MAC still holds its reset defaults (the
	// medium mode is written at link reset). Where the interface cannot be
	// opened (a trace, an open that fails) they are read as bound.
	r.RegistersRead = "after bind, interface down"
	read := false
	r.selfTest(ctx, t, d, func(state string) {
		read = true
		r.RegistersRead = state
		r.chipDetails(d)
	})
	if !read {
		r.chipDetails(d)
	}
	s := d.Net.Stats().Snapshot()
	r.Stats = &s
	r.linkFromNetdev(d)
	return r, nil
}

func (r *Report) bound(d *usbnet.Dev) {
	r.Bound = true
	r.Driver = d.Driver.Name()
	r.Chip = d.ID.Name
	if r.Chip == "" {
		r.Chip = fmt.Sprintf("class %02x/%02x/%02x", d.Intf.Alts[0].Class, d.Intf.Alts[0].SubClass, d.Intf.Alts[0].Protocol)
	}
	r.MAC = d.Net.HardwareAddr().String()
	r.Endpoints = &EndpointsInfo{In: d.In.String(), Out: d.Out.String(), MaxPacket: d.MaxPacket(), RxURBSize: d.RxURBSize, HardMTU: d.HardMTU}
	if d.Status.Address != 0 {
		r.Endpoints.Status = d.Status.String()
	}
}

// chipDetails reads what the driver's usbnet.Diagnoser exposes (its
// registers, PHY, link, EEPROM and counters), without knowing the chip.
func (r *Report) chipDetails(d *usbnet.Dev) {
	dg, ok := d.Driver.(usbnet.Diagnoser)
	if !ok {
		r.anomaly("driver %s offers no diagnosis: no registers, PHY or EEPROM read", d.Driver.Name())
		return
	}
	g := dg.Diagnose(d)
	r.PHY = g.PHY
	if len(g.PHYRegs) > 0 {
		r.PHYRegs = map[string]string{}
		for _, x := range g.PHYRegs {
			r.PHYRegs[x.Name] = x.Value
		}
	}
	for _, x := range g.MACRegs {
		r.MACRegs = append(r.MACRegs, RegInfo{Name: x.Name, Addr: x.Addr, Value: x.Value, Note: x.Note})
	}
	if e := g.EEPROM; e != nil {
		r.EEPROM = &EEPROMInfo{Bytes: len(e.Bytes), MagicOK: e.MagicOK, Valid: e.Valid, MAC: e.MAC, Problem: e.Problem, Hex: hex.EncodeToString(e.Bytes)}
	}
	if l := g.Link; l != nil {
		r.Link = &LinkInfo{Up: l.Up, Mbps: l.Mbps, Duplex: duplex(l.FullDuplex), FlowControl: flow(l.RxPause, l.TxPause), Detail: l.Detail}
	}
	for _, c := range g.Counters {
		r.ChipCounters = append(r.ChipCounters, CounterInfo{Name: c.Name, Value: c.Value})
	}
	r.Anomalies = append(r.Anomalies, g.Problems...)
}

func duplex(full bool) string {
	if full {
		return "full"
	}
	return "half"
}

func flow(rx, tx bool) string {
	switch {
	case rx && tx:
		return "rx+tx pause"
	case rx:
		return "rx pause"
	case tx:
		return "tx pause"
	}
	return "off"
}

func (r *Report) linkFromNetdev(d *usbnet.Dev) {
	if r.Link != nil {
		return
	}
	r.Link = &LinkInfo{Up: d.Net.Carrier(), Mbps: d.Net.Speed(), Detail: "from the driver's carrier (interrupt endpoint)"}
}

// selfTest opens the interface and sends SelfTestFrames test frames. On a
// model the wire's far end is a loopback plug, so every frame must come back;
// on real hardware they are broadcast and whatever answers is counted.
//
// whileOpen, when the interface opened, is called once before it closes,
// with the state it was in ("interface up, carrier on, after the
// self-test" or "interface up, no carrier").
func (r *Report) selfTest(ctx context.Context, t *target.Target, d *usbnet.Dev, whileOpen func(state string)) {
	st := &SelfTest{Mode: "broadcast (no loopback on real hardware: counts what comes back)"}
	r.SelfTest = st
	if t.Kind == target.Trace {
		st.Mode, st.Note = "none", "a recording cannot be sent frames"
		return
	}
	if t.Peer != nil {
		sim.NewLoopback(t.Peer)
		st.Mode = "wire loopback (model)"
	}
	got := make(chan struct{}, 64)
	remove := d.Net.AddHandler(TestEtherType, func(b *skbuff.Buff) {
		b.Free(skbuff.FreeRead)
		select {
		case got <- struct{}{}:
		default:
		}
	})
	defer remove()
	if err := d.Net.Open(); err != nil {
		st.Note = "open: " + err.Error()
		r.anomaly("self-test: %v", err)
		return
	}
	defer d.Net.Close()
	deadline := time.Now().Add(2 * time.Second)
	for !d.Net.Carrier() && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if !d.Net.Carrier() {
		st.Note = "no carrier after 2 s: frames not sent"
		r.anomaly("self-test: no carrier")
		whileOpen("interface up, no carrier")
		return
	}
	src := d.Net.HardwareAddr()
	for i := 0; i < SelfTestFrames; i++ {
		b := skbuff.Alloc(64)
		f := b.Put(60)
		copy(f, []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
		copy(f[6:], src)
		binary.BigEndian.PutUint16(f[12:], TestEtherType)
		binary.BigEndian.PutUint32(f[14:], uint32(i))
		copy(f[18:], "dongle self-test")
		b.Protocol = TestEtherType
		if err := d.Net.Xmit(b); err != nil {
			st.Note = "xmit: " + err.Error()
			break
		}
		st.Sent++
	}
	wait := time.NewTimer(time.Second)
	defer wait.Stop()
	for st.Received < st.Sent {
		select {
		case <-got:
			st.Received++
		case <-wait.C:
			goto done
		case <-ctx.Done():
			goto done
		}
	}
done:
	st.Passed = st.Sent == SelfTestFrames && (t.Peer == nil || st.Received == st.Sent)
	if t.Peer != nil && st.Received != st.Sent {
		r.anomaly("self-test: %d frames sent through a loopback wire, %d came back", st.Sent, st.Received)
	}
	whileOpen("interface up, carrier on, after the self-test")
}

// FromTrace diagnoses a capture: descriptors, requests and frames from the
// trace itself, then the driver bound to its replay.
//
// device picks one device of a trace that holds several adapters
// ("BUS.ADDR"; empty: the one adapter).
func FromTrace(ctx context.Context, path, shown, device string) (*Report, error) {
	tr, err := decode.ReadFile(path, decode.Options{Device: device})
	if err != nil {
		return nil, err
	}
	r := &Report{Source: "trace " + shown, Anomalies: []string{}}
	str := func(i uint8) string { return tr.Strings[i] }
	if tr.Device != nil {
		r.Device = describeDevice(tr.Device, str)
		r.Device.Speed = tr.Speed.String() + " (from wMaxPacketSize)"
	}
	for _, c := range tr.Configs {
		r.Configs = append(r.Configs, describeConfig(c, str, &r.Anomalies))
	}
	r.Driver, r.Chip = tr.Driver, tr.ID.Name
	if tr.MAC != nil {
		r.MAC = tr.MAC.String()
	}
	r.Endpoints = &EndpointsInfo{In: tr.In.String(), Out: tr.Out.String(), MaxPacket: int(tr.Out.MaxPacketSize)}
	if tr.Status.Address != 0 {
		r.Endpoints.Status = tr.Status.String()
	}
	ti := &TraceInfo{File: shown, Records: tr.Stats.Records, URBs: tr.Stats.URBs, Stats: tr.Stats,
		Device: fmt.Sprintf("%d.%d", tr.Bus, tr.Address), Selections: tr.Selections, Damage: tr.Damage}
	if len(tr.Lives) > 1 {
		ti.Lives = tr.Lives
	}
	r.judge(tr)
	for _, d := range tr.Devices {
		ti.Devices = append(ti.Devices, d.String())
	}
	switch {
	case tr.QEMU:
		ti.Writer = "QEMU pcap= (one record per USB packet)"
	default:
		ti.Writer = "usbmon (one record per URB)"
	}
	idx := map[string]int{}
	for _, c := range tr.Controls {
		i, ok := idx[c.Name]
		if !ok {
			i = len(ti.Requests)
			idx[c.Name] = i
			ti.Requests = append(ti.Requests, RequestCount{Name: c.Name, First: c.Record + 1})
		}
		ti.Requests[i].Count++
		if c.Stalled() {
			ti.Requests[i].Stalled++
		}
	}
	for _, l := range tr.Links {
		s := "down"
		if l.Up {
			s = "up"
		}
		if l.Mbps > 0 {
			s += fmt.Sprintf(" %d Mbit/s", l.Mbps)
		}
		ti.LinkEvents = append(ti.LinkEvents, fmt.Sprintf("record %d: link %s", l.Record+1, s))
	}
	for _, e := range tr.Errors {
		ti.FrameErrors = append(ti.FrameErrors, e.Error())
	}
	if n := tr.Stats.RxTruncated + tr.Stats.TxTruncated; n > 0 {
		r.anomaly("%d frames cut by the capture (QEMU keeps 256 bytes of bulk data): reported as truncated, not as framing errors", n)
	}
	if n := tr.Stats.RxErrors + tr.Stats.TxErrors; n > 0 {
		r.anomaly("%d framing errors in the bulk transfers", n)
	}
	r.Anomalies = append(r.Anomalies, tr.Anomalies...)
	if l := len(tr.Links); l > 0 {
		last := tr.Links[l-1]
		r.Link = &LinkInfo{Up: last.Up, Mbps: last.Mbps, Detail: fmt.Sprintf("last link event in the trace (%d notifications)", tr.Stats.Notifications)}
	}
	r.Trace = ti

	// Bind the driver to the replay, as `dongle replay` does, of the same
	// device.
	t, err := target.OpenTrace(path, tr.Bus, tr.Address)
	if err != nil {
		ti.Replay = "could not open the replay: " + err.Error()
		return r, nil
	}
	defer t.Close()
	d, err := usbnet.Probe(t.HW, t.Drivers...)
	if err != nil {
		r.BindError = err.Error()
		r.anomaly("the driver does not bind to the replay: %v", err)
		return r, nil
	}
	r.Bound = true
	if mac := d.Net.HardwareAddr().String(); r.MAC != "" && mac != r.MAC {
		r.anomaly("the bound driver reads MAC %s, the trace's descriptors say %s", mac, r.MAC)
	} else {
		r.MAC = mac
	}
	if r.Chip == "" {
		r.Chip = d.ID.Name
	}
	r.Endpoints.RxURBSize, r.Endpoints.HardMTU = d.RxURBSize, d.HardMTU
	ti.Replay = fmt.Sprintf("%s bound to the replay (%s)", d.Driver.Name(), replayKind(t))
	d.Disconnect()
	return r, nil
}

func replayKind(t *target.Target) string {
	if t.Strict != nil {
		return "strict: recorded by dongle"
	}
	return "model replay of a foreign trace"
}

// SortedRegs returns map keys in order (for printing).
func sortedKeys(m map[string]string) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}
