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
	b, err := Match(name, dd, cfgs, active, drivers)
	if err != nil {
		// A configuration that did not parse may be the one that held
		// the function: its error comes first.
		if cfgErr != nil {
			return nil, fmt.Errorf("usbnet probe: %w", cfgErr)
		}
		return nil, fmt.Errorf("usbnet probe: %w", err)
	}
	m := &b
	if int(m.Config.Value) != active {
		if err := hwdev.SetConfiguration(int(m.Config.Value)); err != nil {
			return nil, fmt.Errorf("usbnet probe: %s: set configuration %d for %s: %w", name, m.Config.Value, m.Driver.Name(), err)
		}
	}
	d := &Dev{
		HW: hwdev, Info: info, Desc: dd, Config: m.Config, Driver: m.Driver, ID: m.ID, Intf: m.Intf,
		TxURBs: DefaultTxURBs, ControlTimeout: DefaultControlTimeout,
		goneCh: make(chan struct{}), kkick: make(chan struct{}, 1),
	}
	if ag, ok := m.Driver.(TxAggregator); ok {
		d.agg = &txAgg{drv: ag}
	}
	d.CtrlIface, d.DataIface = int(m.Intf.Number), int(m.Intf.Number)
	d.Net = netdev.New("eth%d", d)
	d.Net.Priv = d
	if m.Driver.Flags()&FlagEthernet != 0 {
		netdev.EtherSetup(d.Net)
	}
	if m.Driver.Flags()&FlagLinkIntr != 0 {
		d.Net.CarrierOff()
	} else {
		d.Net.CarrierOn()
	}
	fail := func(err error) (*Dev, error) {
		d.releaseAll()
		return nil, fmt.Errorf("usbnet probe: %s: %s: %w", name, m.Driver.Name(), err)
	}
	if err := d.Claim(int(m.Intf.Number)); err != nil {
		return fail(err)
	}
	if err := m.Driver.Bind(d); err != nil {
		return fail(err)
	}
	if err := d.checkEndpoints(); err != nil {
		m.Driver.Unbind(d)
		return fail(err)
	}
	for _, i := range [...]int{d.CtrlIface, d.DataIface} {
		if err := d.Claim(i); err != nil {
			m.Driver.Unbind(d)
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
			m.Driver.Unbind(d)
			return fail(fmt.Errorf("mtu %d from hard MTU %d: %w", mtu, d.HardMTU, err))
		}
	}
	if err := netdev.Register(d.Net); err != nil {
		m.Driver.Unbind(d)
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
