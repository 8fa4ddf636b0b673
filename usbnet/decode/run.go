package decode

import (
	"errors"
	"fmt"
	"strings"

	"dongle/hw"
	"dongle/hw/usbmon"
	"dongle/usbnet"
	"dongle/usbnet/catalog"
)

// run is ReadFile and Decode: the survey pass, the choice of device and of
// what decodes each configuration, then the data pass.
func run(open opener, lt *usbmon.LinkType, opts Options, after func(*Trace)) (*Trace, error) {
	cands := opts.Drivers
	if cands == nil {
		cands = catalog.ForModels()
	}
	var forced usbnet.Minidriver
	if opts.Driver != "" {
		d, err := pickByName(opts.Driver, cands)
		if err != nil {
			return nil, err
		}
		forced, opts.Driver = d, d.Name()
	}
	var prog1, prog2 func(int64)
	if opts.Progress != nil {
		prog1 = func(b int64) { opts.Progress(1, b) }
		prog2 = func(b int64) { opts.Progress(2, b) }
	}
	src, done, err := open()
	if err != nil {
		return nil, err
	}
	devs, order, n, err := survey(src, prog1)
	done()
	if err != nil {
		return nil, err
	}
	t := &Trace{LinkType: *lt, Strings: map[uint8]string{}, emit: opts.Emit}
	if after != nil {
		after(t)
	}
	infos := make([]DeviceInfo, len(order))
	adapters := make([]bool, len(order))
	for i, k := range order {
		infos[i], adapters[i] = describe(devs[k], cands)
	}
	// An adapter's later lives are not other adapters (lives.go).
	groups := groupLives(devs, order)
	candidate := append([]bool(nil), adapters...)
	for i, k := range order {
		if g := groups[k]; g != nil && g[0].key != k {
			candidate[i] = false
		}
	}
	d, err := choose(devs, order, opts, cands, infos, candidate)
	if err != nil {
		return nil, err
	}
	lives := []*devSurvey{d}
	if g := groups[d.key]; g != nil {
		lives = g
		d = mergeLives(g)
	}
	t.Lives = livesOf(lives)
	for _, l := range lives {
		t.lifeKeys = append(t.lifeKeys, l.key)
	}
	for i := range infos {
		for _, l := range lives {
			infos[i].Selected = infos[i].Selected || order[i] == l.key
		}
	}
	t.Devices = infos
	t.Bus, t.Address, t.QEMU = d.key.bus, d.key.addr, d.qemu
	t.Device, t.Configs, t.Strings, t.Controls = d.device, d.configs, d.strings, d.controls
	for _, a := range d.anoms {
		t.anomaly("%s", a)
	}
	t.Stats.Records, t.Stats.Ignored = d.records, n-d.records
	if t.Stats.Ignored > 0 {
		t.anomaly("%d records of %d other device(s) on the bus ignored (decoding %d.%d; see the device list)", t.Stats.Ignored, len(order)-len(lives), d.key.bus, d.key.addr)
	}
	if len(lives) > 1 {
		t.anomaly("the adapter enumerated %d times (%d lives, followed by VID:PID and serial): %s", len(lives), len(lives), lifeList(t.Lives))
	}

	spans, eps := epochs(d.selections)
	t.Stats.Controls, t.Stats.Stalls = d.ncontrol, d.nstall
	for _, e := range eps {
		t.bind(e, d, forced, cands)
	}
	// The trace is summed up by the configuration in force at its end that
	// has a driver or a named function (a driver that chooses its own
	// configuration, as r8152 does, leaves the device in it).
	var main *epoch
	for i := len(spans) - 1; i >= 0 && main == nil; i-- {
		if e := spans[i].e; e.drv != nil || e.function != "" {
			main = e
		}
	}
	if main == nil {
		for i := len(eps) - 1; i >= 0; i-- {
			if eps[i].matchErr != nil && eps[i].matchErr != errUnconfigured {
				return nil, eps[i].matchErr
			}
		}
		return nil, eps[len(eps)-1].matchErr
	}
	t.drv, t.Driver, t.DriverFrom, t.ID, t.Config, t.intf = main.drv, main.function, main.from2, main.id, main.cfg, main.intf
	if main.drv == nil {
		t.Driver = main.function
	}
	t.nameControls(spans)
	var captured []usbnet.CapturedControl
	for _, r := range t.Controls {
		captured = append(captured, usbnet.CapturedControl{Setup: r.Setup, Data: r.Data, OK: !r.Pending && r.Status == 0})
	}
	for _, e := range eps {
		t.endpoints(e, d, captured)
	}
	t.In, t.Out, t.Status, t.capture = main.in, main.out, main.status, main.capture
	if t.Config != nil {
		for _, in := range t.Config.Interfaces {
			for _, a := range in.Alts {
				for _, e := range a.Endpoints {
					t.checkMaxPacket(e)
				}
			}
		}
	}
	switch t.In.MaxPacketSize {
	case 64:
		t.Speed = hw.SpeedFull
	case 512:
		t.Speed = hw.SpeedHigh
	case 1024:
		t.Speed = hw.SpeedSuper
	}
	if main.drv != nil {
		t.macAddress()
	}
	for _, sp := range spans {
		if len(t.Selections) == MaxListed {
			t.Stats.MoreSelections = len(spans) - MaxListed
			break
		}
		e := sp.e
		t.Selections = append(t.Selections, Selection{Record: sp.from, Config: e.config, Alts: e.altString(), Function: e.function})
	}
	for _, e := range eps {
		if e.function == "RNDIS" {
			t.anomaly("configuration %d is RNDIS: decoded by decode's offline RNDIS unframer (REMOTE_NDIS_PACKET_MSG); no rndis_host minidriver binds it", max(e.config, 1))
		}
	}

	src, done, err = open()
	if err != nil {
		return nil, err
	}
	err = t.data(src, d, spans, eps, prog2)
	done()
	if err != nil {
		return nil, err
	}
	return t, nil
}

// nameControls names every control request with the driver of the
// configuration it was made in, and reports stalls and failures.
func (t *Trace) nameControls(eps []span) {
	stalled := map[string][]string{}
	var order []string
	ei := 0
	for i := range t.Controls {
		c := &t.Controls[i]
		for ei+1 < len(eps) && eps[ei+1].from <= c.Record {
			ei++
		}
		c.Name = RequestName(c.Setup, eps[ei].e.drv)
		if c.Stalled() {
			if stalled[c.Name] == nil {
				order = append(order, c.Name)
			}
			stalled[c.Name] = append(stalled[c.Name], fmt.Sprint(c.Record+1))
		} else if c.Status != 0 && !c.Pending {
			t.anomaly("control request %s failed with status %d (record %d)", c.Name, c.Status, c.Record+1)
		}
	}
	for _, n := range order {
		note := ""
		if strings.HasPrefix(n, "GET_DESCRIPTOR(device qualifier)") {
			note = " (normal for a full-speed-only device)"
		}
		t.anomaly("control request %s stalled %d time(s), record(s) %s%s", n, len(stalled[n]), strings.Join(stalled[n], ", "), note)
	}
}

// name names the device in errors: "trace device 0b95:1790".
func (t *Trace) name() string {
	if t.Device == nil {
		return fmt.Sprintf("trace device %d.%d", t.Bus, t.Address)
	}
	return fmt.Sprintf("trace device %04x:%04x", t.Device.Vendor, t.Device.Product)
}

func (t *Trace) anomaly(format string, args ...any) {
	if len(t.Anomalies) >= MaxListed {
		t.Stats.MoreAnomalies++
		return
	}
	t.Anomalies = append(t.Anomalies, fmt.Sprintf(format, args...))
}

// anomalyOnce adds an anomaly unless the same text is already there.
func (t *Trace) anomalyOnce(format string, args ...any) {
	s := fmt.Sprintf(format, args...)
	for _, a := range t.Anomalies {
		if a == s {
			return
		}
	}
	t.anomaly("%s", s)
}

// checkMaxPacket flags wMaxPacketSize values no USB speed allows.
func (t *Trace) checkMaxPacket(e hw.EndpointDesc) {
	mp := e.MaxPacketSize
	switch e.Type() {
	case hw.XferBulk:
		switch mp {
		case 8, 16, 32, 64, 512, 1024:
			return
		}
		t.anomaly("%v: wMaxPacketSize %d is not a legal bulk size (8/16/32/64 full, 512 high, 1024 super speed)", e, mp)
	case hw.XferInterrupt:
		if mp == 0 || mp > 1024 {
			t.anomaly("%v: wMaxPacketSize %d", e, mp)
		}
	}
}

// macAddress finds the station address as the driver would read it.
func (t *Trace) macAddress() {
	ml, ok := t.drv.(usbnet.MACLocator)
	if !ok {
		t.anomaly("driver %s offers no MAC locator: the station address is not read from the trace", t.Driver)
		return
	}
	mac, err := ml.TraceMAC(t.capture)
	if err != nil {
		t.anomaly("MAC address: %v", err)
		return
	}
	t.MAC = mac
}

// Errors of decoding.
var (
	// ErrTxHeader and ErrTxShort are the TX de-framing errors the drivers
	// wrap (usbnet's sentinels, named here for decode's callers).
	ErrTxHeader = usbnet.ErrTxHeader
	ErrTxShort  = usbnet.ErrTxShort
	// ErrNoDescriptors: the trace lacks the device descriptor a driver
	// is matched by.
	ErrNoDescriptors = errors.New("the trace holds no GET_DESCRIPTOR(device) answer")
	// ErrUnknownDriver: Options.Driver names no candidate.
	ErrUnknownDriver = errors.New("unknown driver")
)

// pickByName finds name among cands, by Linux name or catalog alias.
func pickByName(name string, cands []usbnet.Minidriver) (usbnet.Minidriver, error) {
	if e, ok := catalog.Lookup(name); ok {
		name = e.Name
	}
	var names []string
	for _, d := range cands {
		if d.Name() == name {
			return d, nil
		}
		names = append(names, d.Name())
	}
	return nil, fmt.Errorf("%w %q (have %s)", ErrUnknownDriver, name, strings.Join(names, ", "))
}
