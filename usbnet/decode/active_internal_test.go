package decode

import (
	"testing"

	"dongle/hw"
	"dongle/usbnet"
	"dongle/usbnet/cdcecm"
)

// TestActiveConfigDecidesTheMatch: decode matches with Probe's rules in
// the configuration the host selected, and only in it. A device whose
// configuration 1 has a CDC Ethernet function and configuration 2 a VID:PID
// match decodes as cdc_ether while configuration 1 is active, and as the
// vendor driver from the SET_CONFIGURATION(2) on; a failed
// SET_CONFIGURATION changes nothing.
func TestActiveConfigDecidesTheMatch(t *testing.T) {
	iface := func(class, sub uint8) []hw.Interface {
		return []hw.Interface{{Number: 0, Alts: []hw.AltSetting{{Class: class, SubClass: sub}}}}
	}
	cfgs := []*hw.Config{{Value: 1, Interfaces: iface(cdcecm.ClassComm, cdcecm.SubClassEthernet)}, {Value: 2, Interfaces: iface(0xff, 0xff)}}
	vendor := bare{name: "vendor", ids: []usbnet.ID{{Vendor: 0x1209, Product: 0x0042, Class: 0xff, SubClass: -1, Protocol: -1}}}
	setConfig := func(rec int, v uint16, status int32) Control {
		return Control{Record: rec, Setup: hw.Setup{RequestType: hw.DirOut | hw.TypeStandard | hw.RecipDevice, Request: hw.ReqSetConfiguration, Value: v}, Status: status}
	}
	for _, c := range []struct {
		name     string
		controls []Control
		want     []string // the function of each epoch
		configs  []int
	}{
		{"no SET_CONFIGURATION: the first configuration", nil, []string{"cdc_ether"}, []int{-1}},
		{"SET_CONFIGURATION(2)", []Control{setConfig(3, 1, 0), setConfig(9, 2, 0)}, []string{"cdc_ether", "cdc_ether", "vendor"}, []int{-1, 1, 2}},
		{"a failed SET_CONFIGURATION(2) changes nothing", []Control{setConfig(3, 1, 0), setConfig(9, 2, -32)}, []string{"cdc_ether", "cdc_ether"}, []int{-1, 1}},
		{"SET_CONFIGURATION(0)", []Control{setConfig(0, 1, 0), setConfig(5, 0, 0)}, []string{"cdc_ether", ""}, []int{1, 0}},
	} {
		d := &devSurvey{device: &hw.DeviceDescriptor{Vendor: 0x1209, Product: 0x0042, NumConfigurations: 2}, configs: cfgs}
		tr := &Trace{}
		spans, states := epochs(c.controls)
		for _, e := range states {
			tr.bind(e, d, nil, []usbnet.Minidriver{vendor, cdcecm.Driver{}})
		}
		var got []string
		var gotCfg []int
		for _, sp := range spans {
			e := sp.e
			got = append(got, e.function)
			gotCfg = append(gotCfg, e.config)
			if e.drv != nil && e.config > 0 && int(e.cfg.Value) != e.config {
				t.Errorf("%s: bound in configuration %d while %d is active", c.name, e.cfg.Value, e.config)
			}
		}
		if len(got) != len(c.want) {
			t.Errorf("%s: epochs %v (configurations %v), want %v (%v)", c.name, got, gotCfg, c.want, c.configs)
			continue
		}
		for i := range got {
			if got[i] != c.want[i] || gotCfg[i] != c.configs[i] {
				t.Errorf("%s: epochs %v (configurations %v), want %v (%v)", c.name, got, gotCfg, c.want, c.configs)
				break
			}
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
