package usbnet

import (
	"context"
	"errors"
	"fmt"

	"dongle/hw"
	"dongle/netdev"
)

// ErrNoDriver: no minidriver's ID table matches the device.
var ErrNoDriver = errors.New("no usbnet driver matches")

// UnsupportedError is a device function dongle recognises but has no
// driver for yet (CDC NCM, RNDIS). It wraps hw.ErrNotSupported.
type UnsupportedError struct {
	Device                    string // "bus 0 addr 1 (1209:0002)"
	Config                    uint8  // bConfigurationValue
	Iface                     uint8  // bInterfaceNumber
	Function                  string // "CDC NCM", "RNDIS"
	Class, SubClass, Protocol uint8
}

func (e *UnsupportedError) Error() string {
	return fmt.Sprintf("%s: configuration %d interface %d is %s (class %02x/%02x/%02x): not supported yet",
		e.Device, e.Config, e.Iface, e.Function, e.Class, e.SubClass, e.Protocol)
}

func (e *UnsupportedError) Unwrap() error { return hw.ErrNotSupported }

// UnsupportedFunction names a class triple dongle recognises but refuses:
// CDC NCM (02/0d), RNDIS as Windows and Linux gadgets present it (02/02/ff,
// e0/01/03, ef/04/01); "" for any other.
func UnsupportedFunction(a *hw.AltSetting) string {
	switch {
	case a.Class == 0x02 && a.SubClass == 0x0d:
		return "CDC NCM"
	case a.Class == 0x02 && a.SubClass == 0x02 && a.Protocol == 0xff,
		a.Class == 0xe0 && a.SubClass == 0x01 && a.Protocol == 0x03,
		a.Class == 0xef && a.SubClass == 0x04 && a.Protocol == 0x01:
		return "RNDIS"
	}
	return ""
}

// maxConfigs bounds how many configurations Probe reads.
const maxConfigs = 8

type match struct {
	drv  Minidriver
	id   ID
	cfg  *hw.Config
	intf *hw.Interface
}

// idMatches reports whether id matches interface alt 0 of a device, in the
// VID:PID pass (byVendor) or the class pass.
func idMatches(id ID, dd *hw.DeviceDescriptor, a *hw.AltSetting, byVendor bool) bool {
	return byVendor == (id.Vendor != 0) && id.Matches(dd, a)
}

// Matches reports whether the entry matches a device with descriptor dd
// through its interface setting a (usb_match_one_id): VID:PID when the entry
// has one, and the interface class fields it does not leave open (-1).
func (id ID) Matches(dd *hw.DeviceDescriptor, a *hw.AltSetting) bool {
	if id.Vendor != 0 && (id.Vendor != dd.Vendor || id.Product != dd.Product) {
		return false
	}
	return (id.Class < 0 || int(a.Class) == id.Class) &&
		(id.SubClass < 0 || int(a.SubClass) == id.SubClass) &&
		(id.Protocol < 0 || int(a.Protocol) == id.Protocol)
}

// findMatch looks for a driver for cfg: VID:PID entries of every driver
// first (so a vendor driver wins over the class driver, as Linux's
// blacklisting achieves), then class entries; interfaces in order.
func findMatch(dd *hw.DeviceDescriptor, cfg *hw.Config, drivers []Minidriver) *match {
	for _, byVendor := range [...]bool{true, false} {
		for i := range cfg.Interfaces {
			in := &cfg.Interfaces[i]
			if len(in.Alts) == 0 {
				continue
			}
			for _, drv := range drivers {
				for _, id := range drv.IDs() {
					if idMatches(id, dd, &in.Alts[0], byVendor) {
						return &match{drv, id, cfg, in}
					}
				}
			}
		}
	}
	return nil
}

// Probe reads hwdev's descriptors, finds the minidriver that matches (a
// VID:PID entry before a class entry), selects the configuration it lives
// in if that is not the active one (QEMU's usb-net boots on RNDIS config 2;
// its ECM function is config 1), claims the matched interface, runs Bind,
// claims the data interface, and registers the netdev (usbnet_probe).
//
// A device whose only network function is CDC NCM or RNDIS fails with an
// *UnsupportedError (wrapping hw.ErrNotSupported); a device nothing matches
// fails with ErrNoDriver. On error nothing stays claimed. The hw.Device
// stays the caller's: Probe and Disconnect never close it.
func Probe(hwdev hw.Device, drivers ...Minidriver) (*Dev, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*DefaultControlTimeout)
	defer cancel()
	info := hwdev.Info()
	name := info.Name()
	dd, err := hw.ReadDeviceDescriptor(ctx, hwdev)
	if err != nil {
		return nil, fmt.Errorf("usbnet probe: %w", err)
	}
	active, err := hwdev.Configuration()
	if err != nil {
		return nil, fmt.Errorf("usbnet probe: %s: get configuration: %w", name, err)
	}
	n := int(dd.NumConfigurations)
	if n > maxConfigs {
		n = maxConfigs
	}
	if n == 0 {
		return nil, fmt.Errorf("usbnet probe: %s: %w: device descriptor lists no configuration", name, ErrNoDriver)
	}
	// A configuration that does not parse is skipped: another one may hold
	// the function. Its error is reported if nothing matches.
	cfgs := make([]*hw.Config, 0, n)
	var cfgErr error
	for i := 0; i < n; i++ {
		c, err := hw.ReadConfig(ctx, hwdev, uint8(i))
		if err != nil {
			if hw.StatusOf(err) == hw.ErrNoDevice || hw.StatusOf(err) == hw.ErrTimeout {
				return nil, fmt.Errorf("usbnet probe: %w", err)
			}
			if cfgErr == nil {
				cfgErr = err
			}
			continue
		}
		cfgs = append(cfgs, c)
	}
	// The active configuration first, then the others in order.
	order := make([]*hw.Config, 0, len(cfgs))
	for _, c := range cfgs {
		if int(c.Value) == active {
			order = append(order, c)
		}
	}
	for _, c := range cfgs {
		if int(c.Value) != active {
			order = append(order, c)
		}
	}
	var m *match
	for _, c := range order {
		if m = findMatch(dd, c, drivers); m != nil {
			break
		}
	}
	if m == nil {
		return nil, noMatch(name, dd, order, cfgErr)
	}
	if int(m.cfg.Value) != active {
		if err := hwdev.SetConfiguration(int(m.cfg.Value)); err != nil {
			return nil, fmt.Errorf("usbnet probe: %s: set configuration %d for %s: %w", name, m.cfg.Value, m.drv.Name(), err)
		}
	}
	d := &Dev{
		HW: hwdev, Info: info, Desc: dd, Config: m.cfg, Driver: m.drv, ID: m.id, Intf: m.intf,
		TxURBs: DefaultTxURBs, ControlTimeout: DefaultControlTimeout,
		goneCh: make(chan struct{}), kkick: make(chan struct{}, 1),
	}
	d.CtrlIface, d.DataIface = int(m.intf.Number), int(m.intf.Number)
	d.Net = netdev.New("eth%d", d)
	d.Net.Priv = d
	if m.drv.Flags()&FlagEthernet != 0 {
		netdev.EtherSetup(d.Net)
	}
	if m.drv.Flags()&FlagLinkIntr != 0 {
		d.Net.CarrierOff()
	} else {
		d.Net.CarrierOn()
	}
	fail := func(err error) (*Dev, error) {
		d.releaseAll()
		return nil, fmt.Errorf("usbnet probe: %s: %s: %w", name, m.drv.Name(), err)
	}
	if err := d.Claim(int(m.intf.Number)); err != nil {
		return fail(err)
	}
	if err := m.drv.Bind(d); err != nil {
		return fail(err)
	}
	if err := d.checkEndpoints(); err != nil {
		m.drv.Unbind(d)
		return fail(err)
	}
	for _, i := range [...]int{d.CtrlIface, d.DataIface} {
		if err := d.Claim(i); err != nil {
			m.drv.Unbind(d)
			return fail(err)
		}
	}
	if d.HardMTU <= 0 {
		d.HardMTU = 1500 + EthHeaderLen
	}
	if d.RxURBSize <= 0 {
		d.RxURBSize = d.HardMTU
	}
	mtu := d.HardMTU - EthHeaderLen
	d.Net.MaxMTU = mtu
	if d.Net.MTU() > mtu {
		if err := d.Net.SetMTU(mtu); err != nil {
			m.drv.Unbind(d)
			return fail(fmt.Errorf("mtu %d from hard MTU %d: %w", mtu, d.HardMTU, err))
		}
	}
	if err := netdev.Register(d.Net); err != nil {
		m.drv.Unbind(d)
		return fail(fmt.Errorf("register netdev: %w", err))
	}
	return d, nil
}

// checkEndpoints is the framework's own check after Bind, whatever the
// minidriver did: a bulk IN and a bulk OUT endpoint with a non-zero
// wMaxPacketSize (CVE-2021-47495, CVE-2023-53548), and a status endpoint, if
// any, that is interrupt IN.
func (d *Dev) checkEndpoints() error {
	check := func(role string, e hw.EndpointDesc, typ uint8, in bool) error {
		switch {
		case e.Address == 0:
			return fmt.Errorf("bind chose no %s endpoint", role)
		case e.Type() != typ || e.In() != in:
			return fmt.Errorf("%s endpoint is %v", role, e)
		case e.MaxPacketSize == 0:
			return fmt.Errorf("%s endpoint %v has wMaxPacketSize 0", role, e)
		}
		return nil
	}
	if err := check("bulk IN", d.In, hw.XferBulk, true); err != nil {
		return err
	}
	if err := check("bulk OUT", d.Out, hw.XferBulk, false); err != nil {
		return err
	}
	if d.Status.Address != 0 {
		if err := check("status (interrupt IN)", d.Status, hw.XferInterrupt, true); err != nil {
			return err
		}
	}
	return nil
}

// releaseAll releases the claimed interfaces, last first. Errors are
// ignored: on an unplugged device there is nothing left to release.
func (d *Dev) releaseAll() {
	for i := len(d.claimed) - 1; i >= 0; i-- {
		_ = d.HW.Release(d.claimed[i])
	}
	d.claimed = nil
}

// Disconnect is usbnet_disconnect: it unregisters the netdev (stopping it
// first if it is up, which reaps every transfer and frees every buffer),
// unbinds the minidriver and releases the interfaces; calling it again does
// nothing. It is what the owner
// calls after Gone, or to detach a working device. The hw.Device itself is
// not closed.
func (d *Dev) Disconnect() error {
	if d.disconnected {
		return nil
	}
	d.disconnected = true
	err := netdev.Unregister(d.Net)
	if d.Driver != nil {
		d.Driver.Unbind(d)
	}
	d.releaseAll()
	if err != nil {
		return fmt.Errorf("usbnet disconnect: %s: %w", d.Name(), err)
	}
	return nil
}

// noMatch explains why no driver bound: a configuration that did not parse
// comes first (it may be the one that held the function), then a function
// dongle knows but does not support (CDC NCM, RNDIS), then ErrNoDriver.
func noMatch(name string, dd *hw.DeviceDescriptor, cfgs []*hw.Config, cfgErr error) error {
	if cfgErr != nil {
		return fmt.Errorf("usbnet probe: %w", cfgErr)
	}
	for _, c := range cfgs {
		for i := range c.Interfaces {
			if len(c.Interfaces[i].Alts) == 0 {
				continue
			}
			a := &c.Interfaces[i].Alts[0]
			if f := UnsupportedFunction(a); f != "" {
				return &UnsupportedError{Device: name, Config: c.Value, Iface: a.Number, Function: f,
					Class: a.Class, SubClass: a.SubClass, Protocol: a.Protocol}
			}
		}
	}
	return fmt.Errorf("usbnet probe: %s (class %02x/%02x/%02x): %w", name, dd.Class, dd.SubClass, dd.Protocol, ErrNoDriver)
}
