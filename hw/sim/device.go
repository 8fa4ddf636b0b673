package sim

import (
	"context"
	"encoding/binary"
	"fmt"
	"sync"

	"dongle/hw"
)

const (
	// maxIfaces bounds interface numbers a model may use.
	maxIfaces = 32
	// logDepth bounds Device.Log.
	logDepth = 256
)

// Device is a modelled USB device. It implements hw.Device for any Model.
//
// A new Device is already configured, as the host OS leaves a device it
// enumerated (the model's Preferrer choice, else its first configuration); interfaces are unclaimed and every
// interface is at alternate setting 0. Close is final: after it every call
// fails with hw.ErrClosed (make a new Device to reopen the model).
type Device struct {
	mu    sync.Mutex
	model Model
	info  hw.Info
	name  string // "sim:ecm bus 1 addr 2 (0525:a4a2)"
	host  Host

	devDesc []byte
	configs [][]byte     // descriptor bytes as served (CorruptDescriptors edits these)
	truth   []*hw.Config // the model's own parse: what the device really does
	served  []*hw.Config // parse of configs as served (nil where it does not parse)
	strings map[uint8]string

	config  int        // active bConfigurationValue, 0 = unconfigured
	cfg     *hw.Config // truth of the active configuration
	claimed [maxIfaces]bool
	alt     [maxIfaces]uint8
	eps     [32]*epState

	closed, gone bool

	ctrlTimeouts int
	stallCtrl    int
	shortCtrl    int // -1: none pending
	ctrl         ControlStats
	log          []string

	poller   Poller
	streamer OutStreamer // the model, when it reads OUT data as it arrives
	fake     *Fake
	detached bool
}

var _ hw.Device = (*Device)(nil)

// New plugs m into the engine. info names the device; zero Vendor/Product
// are taken from the device descriptor, an empty Backend becomes "sim", and
// SpeedUnknown is derived from the descriptors (the largest bulk
// wMaxPacketSize: 512 high, 1024 super, else full). New calls m.Attach.
//
// The model's descriptors should parse (hw.ParseConfig); a configuration
// that does not is still served, but has no usable interfaces.
func New(m Model, info hw.Info) *Device {
	d := &Device{model: m, shortCtrl: -1}
	d.host.d = d
	dev, cfgs, strs := m.Descriptors()
	d.devDesc = append([]byte(nil), dev...)
	d.strings = strs
	for _, c := range cfgs {
		b := append([]byte(nil), c...)
		d.configs = append(d.configs, b)
		p, err := hw.ParseConfig(append([]byte(nil), c...))
		if err != nil {
			p = nil
		}
		d.truth = append(d.truth, p)
		d.served = append(d.served, p)
	}
	if dd, err := hw.ParseDeviceDescriptor(d.devDesc); err == nil {
		if info.Vendor == 0 && info.Product == 0 {
			info.Vendor, info.Product = dd.Vendor, dd.Product
		}
	}
	if info.Backend == "" {
		info.Backend = "sim"
	}
	maxBulk := 0
	for _, c := range d.truth {
		if c == nil {
			continue
		}
		for _, in := range c.Interfaces {
			for _, a := range in.Alts {
				for _, ep := range a.Endpoints {
					i := epIndex(ep.Address)
					if d.eps[i] == nil {
						d.eps[i] = newEpState(d, ep)
					}
					if ep.Type() == hw.XferBulk && int(ep.MaxPacketSize) > maxBulk {
						maxBulk = int(ep.MaxPacketSize)
					}
				}
			}
		}
	}
	if info.Speed == hw.SpeedUnknown {
		switch {
		case maxBulk >= 1024:
			info.Speed = hw.SpeedSuper
		case maxBulk >= 512:
			info.Speed = hw.SpeedHigh
		default:
			info.Speed = hw.SpeedFull
		}
	}
	d.info = info
	d.name = info.Backend + " " + info.Name()
	for _, e := range d.eps {
		if e != nil {
			e.setName()
		}
	}
	if p, ok := m.(Poller); ok {
		d.poller = p
	}
	if s, ok := m.(OutStreamer); ok {
		if _, ok := m.(OutLimiter); ok {
			panic("sim: a model is an OutStreamer or an OutLimiter, not both: a device-side transfer's length is not held by the engine for a streamer")
		}
		d.streamer = s
	}
	if l, ok := m.(OutLimiter); ok {
		for _, e := range d.eps {
			if e != nil && !e.in() {
				e.outLimit = l.OutLimit(e.addr)
			}
		}
	}
	if p, ok := m.(Preferrer); ok {
		d.applyConfigLocked(p.PreferredConfig())
	} else if len(d.truth) > 0 && d.truth[0] != nil {
		d.applyConfigLocked(int(d.truth[0].Value))
	}
	m.Attach(&d.host)
	return d
}

// StreamsOut reports whether the model reads its OUT byte stream as
// packets arrive (an OutStreamer): a bridge that sees packets rather than
// host transfers (hw/ffs) then hands each on at once.
func (d *Device) StreamsOut() bool { return d.streamer != nil }

// Name is how errors name the device: "sim:ecm bus 1 addr 2 (0525:a4a2)".
func (d *Device) Name() string { return d.name }

// Host is the model's handle (the same one Attach received).
func (d *Device) Host() *Host { return &d.host }

// Info implements hw.Device.
func (d *Device) Info() hw.Info { return d.info }

func epIndex(addr uint8) int { return int(addr&0x0f) | int(addr&0x80)>>3 }

// errLocked is the error a call on a closed or unplugged device gets.
func (d *Device) errLocked(what string) error {
	switch {
	case d.closed:
		return hw.Errorf(d.name+what, hw.ErrClosed)
	case d.gone:
		return hw.Errorf(d.name+what, hw.ErrNoDevice)
	}
	return nil
}

func (d *Device) logf(format string, args ...any) {
	if len(d.log) >= logDepth {
		copy(d.log, d.log[1:])
		d.log = d.log[:logDepth-1]
	}
	d.log = append(d.log, fmt.Sprintf(format, args...))
}

// Log returns the engine's event log, oldest first (the last 256 events:
// configuration and alt changes, claims, faults, halts cleared, resets).
func (d *Device) Log() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]string(nil), d.log...)
}

// applyConfigLocked makes value the active configuration (0: none). It does
// not check claims.
func (d *Device) applyConfigLocked(value int) {
	d.config, d.cfg = 0, nil
	for _, c := range d.truth {
		if c != nil && int(c.Value) == value && value != 0 {
			d.config, d.cfg = value, c
		}
	}
	d.alt = [maxIfaces]uint8{}
	d.refreshActiveLocked()
}

// refreshActiveLocked recomputes which endpoints the current alts expose and
// their descriptors. An endpoint that stops being active loses its
// device-side state (queued writes, halt).
func (d *Device) refreshActiveLocked() {
	var was [32]bool
	for i, e := range d.eps {
		if e != nil {
			was[i], e.active = e.active, false
		}
	}
	if d.cfg != nil {
		for _, in := range d.cfg.Interfaces {
			a := d.altSetting(d.cfg, in.Number, d.alt[in.Number%maxIfaces])
			if a == nil {
				continue
			}
			for _, ep := range a.Endpoints {
				e := d.eps[epIndex(ep.Address)]
				e.active, e.iface, e.mps = true, int(in.Number), int(ep.MaxPacketSize)
				if e.mps <= 0 {
					e.mps = 64 // a model bug; never divide by zero
				}
				e.desc = ep
				if s := d.servedEndpoint(ep.Address); s != nil {
					e.desc = *s
				}
				e.setName()
			}
		}
	}
	for i, e := range d.eps {
		if e != nil && was[i] && !e.active {
			e.flushLocked()
		}
	}
}

func (d *Device) altSetting(c *hw.Config, iface uint8, alt uint8) *hw.AltSetting {
	if c == nil {
		return nil
	}
	in := c.Interface(iface)
	if in == nil {
		return nil
	}
	for i := range in.Alts {
		if in.Alts[i].Alternate == alt {
			return &in.Alts[i]
		}
	}
	return nil
}

// servedEndpoint finds ep in the served (possibly corrupted) descriptors of
// the active configuration and alts: what the host-side Desc reports.
func (d *Device) servedEndpoint(addr uint8) *hw.EndpointDesc {
	for i, c := range d.truth {
		if c == nil || int(c.Value) != d.config {
			continue
		}
		s := d.served[i]
		if s == nil {
			return nil
		}
		for _, in := range s.Interfaces {
			a := d.altSetting(s, in.Number, d.alt[in.Number%maxIfaces])
			if a == nil {
				continue
			}
			for j := range a.Endpoints {
				if a.Endpoints[j].Address == addr {
					return &a.Endpoints[j]
				}
			}
		}
	}
	return nil
}

func (d *Device) anyClaimedLocked() bool {
	for _, c := range d.claimed {
		if c {
			return true
		}
	}
	return false
}

// Configuration implements hw.Device.
func (d *Device) Configuration() (int, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.errLocked(": GET_CONFIGURATION"); err != nil {
		return 0, err
	}
	return d.config, nil
}

// SetConfiguration implements hw.Device.
func (d *Device) SetConfiguration(value int) error {
	what := fmt.Sprintf(": SET_CONFIGURATION(%d)", value)
	d.mu.Lock()
	if err := d.errLocked(what); err != nil {
		d.mu.Unlock()
		return err
	}
	if d.anyClaimedLocked() {
		d.mu.Unlock()
		return hw.Errorf(d.name+what+": an interface is claimed", hw.ErrBusy)
	}
	err := d.setConfigLocked(value, what)
	d.mu.Unlock()
	if err == nil {
		if h, ok := d.model.(ConfigSetter); ok {
			h.SetConfiguration(value)
		}
	}
	return err
}

func (d *Device) setConfigLocked(value int, what string) error {
	ok := value == 0
	for _, c := range d.truth {
		if c != nil && int(c.Value) == value {
			ok = true
		}
	}
	if !ok {
		return hw.Errorf(d.name+what+": no such configuration", hw.ErrNotFound)
	}
	d.applyConfigLocked(value)
	d.logf("set configuration %d", value)
	return nil
}

// Claim implements hw.Device. Claiming an interface twice is allowed, as in
// libusb.
func (d *Device) Claim(iface int) error {
	what := fmt.Sprintf(": claim interface %d", iface)
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.errLocked(what); err != nil {
		return err
	}
	if d.cfg == nil {
		return hw.Errorf(d.name+what+": device is unconfigured", hw.ErrNotFound)
	}
	if iface < 0 || iface >= maxIfaces || d.cfg.Interface(uint8(iface)) == nil {
		return hw.Errorf(fmt.Sprintf("%s%s: configuration %d has no such interface", d.name, what, d.config), hw.ErrNotFound)
	}
	if !d.claimed[iface] {
		d.claimed[iface] = true
		d.logf("claim interface %d", iface)
	}
	return nil
}

// Release implements hw.Device. It works on an unplugged device (so a
// driver can clean up), and fails with ErrBusy while an endpoint of the
// interface is open.
func (d *Device) Release(iface int) error {
	what := fmt.Sprintf(": release interface %d", iface)
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return hw.Errorf(d.name+what, hw.ErrClosed)
	}
	if iface < 0 || iface >= maxIfaces || !d.claimed[iface] {
		return hw.Errorf(d.name+what+": not claimed", hw.ErrNotFound)
	}
	for _, e := range d.eps {
		if e != nil && e.owner != nil && e.iface == iface {
			return hw.Errorf(fmt.Sprintf("%s%s: endpoint %#02x is open", d.name, what, e.addr), hw.ErrBusy)
		}
	}
	d.claimed[iface] = false
	d.logf("release interface %d", iface)
	return nil
}

// SetAlt implements hw.Device. The interface must be claimed and have no
// open endpoint; selecting an alt flushes the device-side state (queued IN
// writes, partial OUT data, halts) of the interface's endpoints, as
// SET_INTERFACE resets a real device's endpoints.
func (d *Device) SetAlt(iface, alt int) error {
	what := fmt.Sprintf(": SET_INTERFACE(%d, alt %d)", iface, alt)
	d.mu.Lock()
	if err := d.errLocked(what); err != nil {
		d.mu.Unlock()
		return err
	}
	if iface < 0 || iface >= maxIfaces || !d.claimed[iface] {
		d.mu.Unlock()
		return hw.Errorf(d.name+what+": interface not claimed", hw.ErrNotFound)
	}
	for _, e := range d.eps {
		if e != nil && e.owner != nil && e.iface == iface {
			d.mu.Unlock()
			return hw.Errorf(fmt.Sprintf("%s%s: endpoint %#02x is open", d.name, what, e.addr), hw.ErrBusy)
		}
	}
	err := d.setAltLocked(iface, alt, what)
	d.mu.Unlock()
	if err == nil {
		if h, ok := d.model.(AltSetter); ok {
			h.SetAlt(iface, alt)
		}
	}
	return err
}

func (d *Device) setAltLocked(iface, alt int, what string) error {
	if d.cfg == nil || iface < 0 || iface >= maxIfaces || alt < 0 || alt > 255 || d.altSetting(d.cfg, uint8(iface), uint8(alt)) == nil {
		return hw.Errorf(d.name+what+": no such alternate setting", hw.ErrNotFound)
	}
	for _, e := range d.eps {
		if e != nil && e.active && e.iface == iface {
			e.flushLocked()
		}
	}
	d.alt[iface] = uint8(alt)
	d.refreshActiveLocked()
	d.logf("interface %d alt %d", iface, alt)
	return nil
}

// OpenEndpoint implements hw.Device: addr must be in the current alternate
// setting of a claimed interface, and not already open.
func (d *Device) OpenEndpoint(addr uint8) (hw.Endpoint, error) {
	what := fmt.Sprintf(": open endpoint %#02x", addr)
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.errLocked(what); err != nil {
		return nil, err
	}
	e := d.eps[epIndex(addr)]
	if e == nil || !e.active || e.addr != addr {
		return nil, hw.Errorf(d.name+what+": not in the current alternate setting of any interface", hw.ErrNotFound)
	}
	if !d.claimed[e.iface] {
		return nil, hw.Errorf(fmt.Sprintf("%s%s: interface %d is not claimed", d.name, what, e.iface), hw.ErrNotFound)
	}
	if e.owner != nil {
		return nil, hw.Errorf(d.name+what+": already open", hw.ErrBusy)
	}
	e.setName()
	h := &endpoint{st: e}
	e.owner = h
	return h, nil
}

// ClearHalt implements hw.Device.
func (d *Device) ClearHalt(addr uint8) error {
	what := fmt.Sprintf(": clear halt %#02x", addr)
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.errLocked(what); err != nil {
		return err
	}
	e := d.eps[epIndex(addr)]
	if e == nil || e.addr != addr {
		return hw.Errorf(d.name+what+": no such endpoint", hw.ErrNotFound)
	}
	e.clearHaltLocked()
	return nil
}

// Reset implements hw.Device: transfers in flight complete with
// ErrCancelled, halts clear, device-side queues are flushed; configuration,
// claims and alternate settings stay (Linux re-applies them after a reset).
func (d *Device) Reset() error {
	d.mu.Lock()
	if err := d.errLocked(": reset"); err != nil {
		d.mu.Unlock()
		return err
	}
	for _, e := range d.eps {
		if e != nil {
			e.completeAllLocked(hw.ErrCancelled)
			e.halted = false
			e.flushLocked()
		}
	}
	d.logf("port reset")
	d.mu.Unlock()
	if h, ok := d.model.(Resetter); ok {
		h.Reset()
	}
	return nil
}

// Close implements hw.Device. It fails with ErrBusy while an interface is
// claimed, and works on an unplugged device.
func (d *Device) Close() error {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return hw.Errorf(d.name+": close", hw.ErrClosed)
	}
	if d.anyClaimedLocked() {
		d.mu.Unlock()
		return hw.Errorf(d.name+": close: an interface is claimed", hw.ErrBusy)
	}
	d.closed = true
	d.logf("closed")
	detach := !d.detached
	d.detached = true
	d.mu.Unlock()
	if h, ok := d.model.(Detacher); ok && detach {
		h.Detach()
	}
	return nil
}

// Control implements hw.Device. Standard requests are answered here (see
// the package doc); the rest go to Model.Control, unlocked.
func (d *Device) Control(ctx context.Context, setup hw.Setup, data []byte) (int, error) {
	setup.Length = uint16(len(data))
	what := func() string { return d.name + ": control " + setup.String() }
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	d.mu.Lock()
	if d.closed || d.gone {
		err := d.errLocked("")
		d.mu.Unlock()
		return 0, hw.Errorf(what(), hw.StatusOf(err))
	}
	d.ctrl.Requests++
	if d.ctrlTimeouts > 0 {
		d.ctrlTimeouts--
		d.ctrl.Timeouts++
		d.mu.Unlock()
		return 0, hw.Errorf(what(), hw.ErrTimeout)
	}
	if d.stallCtrl > 0 {
		d.stallCtrl--
		d.ctrl.Stalls++
		d.mu.Unlock()
		return 0, hw.Errorf(what(), hw.ErrStall)
	}
	n, handled, err := d.standardLocked(setup, data)
	short := -1
	if setup.In() && d.shortCtrl >= 0 {
		short, d.shortCtrl = d.shortCtrl, -1
	}
	d.mu.Unlock()
	if handled && err == nil && setup.RequestType == hw.DirOut|hw.TypeStandard|hw.RecipDevice && setup.Request == hw.ReqSetConfiguration {
		if h, ok := d.model.(ConfigSetter); ok {
			h.SetConfiguration(int(setup.Value))
		}
	}
	if handled && err == nil && setup.RequestType == hw.DirOut|hw.TypeStandard|hw.RecipInterface && setup.Request == hw.ReqSetInterface {
		if h, ok := d.model.(AltSetter); ok {
			h.SetAlt(int(setup.Index), int(setup.Value))
		}
	}
	if !handled {
		n, err = d.model.Control(setup, data)
		if n > len(data) {
			n = len(data)
		}
		if n < 0 {
			n = 0
		}
	}
	if err != nil {
		d.mu.Lock()
		if hw.StatusOf(err) == hw.ErrStall {
			d.ctrl.Stalls++
		}
		d.mu.Unlock()
		return 0, hw.Errorf(what(), err)
	}
	if !setup.In() {
		return len(data), nil
	}
	if short >= 0 && n > short {
		d.mu.Lock()
		d.ctrl.Shortened++
		d.mu.Unlock()
		n = short
	}
	return n, nil
}

// standardLocked answers the standard requests. handled is false for
// requests the model must see.
func (d *Device) standardLocked(s hw.Setup, data []byte) (n int, handled bool, err error) {
	if s.RequestType&0x60 != hw.TypeStandard {
		return 0, false, nil
	}
	recip := s.RequestType & 0x1f
	switch {
	case s.In() && s.Request == hw.ReqGetDescriptor && recip == hw.RecipDevice:
		typ, idx := uint8(s.Value>>8), uint8(s.Value)
		switch typ {
		case hw.DescDevice:
			return copy(data, d.devDesc), true, nil
		case hw.DescConfig:
			if int(idx) >= len(d.configs) {
				return 0, true, hw.ErrStall
			}
			return copy(data, d.configs[idx]), true, nil
		case hw.DescString:
			if idx == 0 {
				return copy(data, []byte{4, hw.DescString, 0x09, 0x04}), true, nil
			}
			str, ok := d.strings[idx]
			if !ok {
				return 0, true, hw.ErrStall
			}
			return copy(data, hw.EncodeString(str)), true, nil
		}
		return 0, false, nil // qualifier, BOS, ...: the model's
	case s.In() && s.Request == hw.ReqGetConfiguration && recip == hw.RecipDevice:
		if len(data) > 0 {
			data[0] = uint8(d.config)
			return 1, true, nil
		}
		return 0, true, nil
	case !s.In() && s.Request == hw.ReqSetConfiguration && recip == hw.RecipDevice:
		if d.anyClaimedLocked() {
			return 0, true, hw.ErrBusy
		}
		return 0, true, d.setConfigLocked(int(s.Value), "")
	case s.In() && s.Request == hw.ReqGetInterface && recip == hw.RecipInterface:
		if d.cfg == nil || s.Index >= maxIfaces || d.cfg.Interface(uint8(s.Index)) == nil {
			return 0, true, hw.ErrStall
		}
		if len(data) > 0 {
			data[0] = d.alt[s.Index]
			return 1, true, nil
		}
		return 0, true, nil
	case !s.In() && s.Request == hw.ReqSetInterface && recip == hw.RecipInterface:
		if err := d.setAltLocked(int(s.Index), int(s.Value), ""); err != nil {
			return 0, true, hw.ErrStall
		}
		return 0, true, nil
	case s.Request == hw.ReqClearFeature && recip == hw.RecipEndpoint && s.Value == 0:
		e := d.eps[epIndex(uint8(s.Index))]
		if e == nil || e.addr != uint8(s.Index) {
			return 0, true, hw.ErrStall
		}
		e.clearHaltLocked()
		return 0, true, nil
	case s.Request == hw.ReqSetFeature && recip == hw.RecipEndpoint && s.Value == 0:
		e := d.eps[epIndex(uint8(s.Index))]
		if e == nil || e.addr != uint8(s.Index) {
			return 0, true, hw.ErrStall
		}
		e.haltLocked()
		return 0, true, nil
	case s.In() && s.Request == hw.ReqGetStatus:
		var st uint16
		switch recip {
		case hw.RecipDevice:
			if d.cfg != nil && d.cfg.Attributes&0x40 != 0 {
				st = 1 // self powered
			}
		case hw.RecipInterface:
		case hw.RecipEndpoint:
			e := d.eps[epIndex(uint8(s.Index))]
			if e == nil || e.addr != uint8(s.Index) {
				if s.Index&0x7f != 0 {
					return 0, true, hw.ErrStall
				}
			} else if e.halted {
				st = 1
			}
		default:
			return 0, true, hw.ErrStall
		}
		var b [2]byte
		binary.LittleEndian.PutUint16(b[:], st)
		return copy(data, b[:]), true, nil
	}
	return 0, false, nil
}
