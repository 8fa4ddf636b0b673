package decode

import (
	"testing"

	"dongle/hw"
	"dongle/usbnet"
	"dongle/usbnet/cdcecm"
)

// TestActiveConfigDecidesTheMatch: decode matches with Probe's rules, the
// configuration the trace shows active first. A device whose configuration
// 1 has a CDC Ethernet function and configuration 2 a VID:PID match binds
// cdc_ether while configuration 1 is active (decode's old matcher took the
// VID:PID match in configuration 2, which Probe never does), and the vendor
// driver once the trace shows SET_CONFIGURATION(2).
func TestActiveConfigDecidesTheMatch(t *testing.T) {
	iface := func(class, sub uint8) []hw.Interface {
		return []hw.Interface{{Number: 0, Alts: []hw.AltSetting{{Class: class, SubClass: sub}}}}
	}
	cfgs := []*hw.Config{{Value: 1, Interfaces: iface(cdcecm.ClassComm, cdcecm.SubClassEthernet)}, {Value: 2, Interfaces: iface(0xff, 0xff)}}
	vendor := bare{name: "vendor", ids: []usbnet.ID{{Vendor: 0x1209, Product: 0x0042, Class: 0xff, SubClass: -1, Protocol: -1}}}
	setConfig := func(v uint16, status int32) Control {
		return Control{Setup: hw.Setup{RequestType: hw.DirOut | hw.TypeStandard | hw.RecipDevice, Request: hw.ReqSetConfiguration, Value: v}, Status: status}
	}
	for _, c := range []struct {
		name     string
		controls []Control
		active   int
		driver   string
	}{
		{"no SET_CONFIGURATION: the first configuration", nil, 1, "cdc_ether"},
		{"SET_CONFIGURATION(2)", []Control{setConfig(1, 0), setConfig(2, 0)}, 2, "vendor"},
		{"a failed SET_CONFIGURATION(2) changes nothing", []Control{setConfig(1, 0), setConfig(2, -32)}, 1, "cdc_ether"},
	} {
		tr := &Trace{Device: &hw.DeviceDescriptor{Vendor: 0x1209, Product: 0x0042, NumConfigurations: 2}, Configs: cfgs, Controls: c.controls}
		if got := tr.activeConfig(); got != c.active {
			t.Errorf("%s: active %d, want %d", c.name, got, c.active)
		}
		if err := tr.pickDriver(Options{Drivers: []usbnet.Minidriver{vendor, cdcecm.Driver{}}}); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if tr.Driver != c.driver || int(tr.Config.Value) != c.active {
			t.Errorf("%s: %s in configuration %d, want %s in %d", c.name, tr.Driver, tr.Config.Value, c.driver, c.active)
		}
	}
}

// bare is a minidriver with a match table and nothing else.
type bare struct {
	cdcecm.Driver
	name string
	ids  []usbnet.ID
}

func (b bare) Name() string     { return b.name }
func (b bare) IDs() []usbnet.ID { return b.ids }
