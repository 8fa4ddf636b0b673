package catalog_test

import (
	"errors"
	"slices"
	"testing"

	"dongle/hw"
	"dongle/hw/sim"
	"dongle/usbnet"
	"dongle/usbnet/catalog"
)

// TestUniqueNames: every driver name, alias and model selector names one
// thing, and each entry's Name is what its drivers call themselves.
func TestUniqueNames(t *testing.T) {
	seen := map[string]string{}
	add := func(name, owner string) {
		if prev, dup := seen[name]; dup {
			t.Errorf("%q names both %s and %s", name, prev, owner)
		}
		seen[name] = owner
	}
	for _, e := range catalog.Entries() {
		add(e.Name, e.Name)
		for _, a := range e.Aliases {
			add(a, e.Name)
		}
		if n := e.New().Name(); n != e.Name {
			t.Errorf("entry %s: New() is called %s", e.Name, n)
		}
		if n := e.ForModels().Name(); n != e.Name {
			t.Errorf("entry %s: ForModels() is called %s", e.Name, n)
		}
		for _, m := range e.Models {
			add(m.Selector, e.Name)
			if m.Expect.Driver != e.Name {
				t.Errorf("model %s expects driver %s, listed under %s", m.Selector, m.Expect.Driver, e.Name)
			}
		}
	}
}

// TestUniqueIDs: no two drivers claim the same VID:PID, so the order of
// entries never decides a match.
func TestUniqueIDs(t *testing.T) {
	owner := map[hw.ID]string{}
	for _, e := range catalog.Entries() {
		for _, id := range e.New().IDs() {
			if id.Vendor == 0 {
				continue
			}
			k := hw.ID{Vendor: id.Vendor, Product: id.Product}
			if o, dup := owner[k]; dup && o != e.Name {
				t.Errorf("%04x:%04x claimed by %s and %s", k.Vendor, k.Product, o, e.Name)
			}
			owner[k] = e.Name
		}
	}
	vids := catalog.VendorIDs()
	for k, name := range owner {
		if !slices.Contains(vids, k) {
			t.Errorf("%04x:%04x (%s) missing from VendorIDs", k.Vendor, k.Product, name)
		}
		if got := catalog.ByID(k.Vendor, k.Product); got != name {
			t.Errorf("ByID(%04x:%04x) = %q, want %q", k.Vendor, k.Product, got, name)
		}
	}
	if got := catalog.ByID(0x0525, 0xa4a2); got != "" {
		t.Errorf("ByID of a class-matched device = %q, want none", got)
	}
}

func TestLookup(t *testing.T) {
	if got, want := catalog.Names(), "cdc_ether (ecm), asix, ax88179_178a (ax88179), cdc_ncm (ncm), r8152 (rtl8153)"; got != want {
		t.Errorf("Names() = %q, want %q", got, want)
	}
	for alias, want := range map[string]string{"ecm": "cdc_ether", "cdc_ether": "cdc_ether", "ax88179": "ax88179_178a", "asix": "asix", "rtl8153": "r8152", "ncm": "cdc_ncm"} {
		d, err := catalog.ByName(alias, true)
		if err != nil || d.Name() != want {
			t.Errorf("ByName(%q) = %v, %v; want %s", alias, d, err, want)
		}
	}
	if _, err := catalog.ByName("rtl8139", false); !errors.Is(err, catalog.ErrUnknown) || !errors.Is(err, hw.ErrNotFound) {
		t.Errorf("unknown driver: %v", err)
	}
	if _, err := catalog.ModelBySelector("sim:nope"); !errors.Is(err, catalog.ErrUnknown) {
		t.Errorf("unknown model: %v", err)
	}
	m, err := catalog.ModelByChip("ax88772b")
	if err != nil || m.Selector != "sim:ax88772" {
		t.Errorf("ModelByChip(ax88772b) = %s, %v", m.Selector, err)
	}
}

// TestModelsBind builds every model and probes it with the catalog's
// drivers: the driver its Expect names binds, with the VID:PID, MAC, speed
// and wMaxPacketSize it promises, on the bulk IN endpoint it names.
func TestModelsBind(t *testing.T) {
	models := catalog.Models()
	if len(models) != 11 {
		t.Errorf("%d models, the suite runs 11", len(models))
	}
	for _, m := range models {
		t.Run(m.Selector, func(t *testing.T) {
			in := m.Build(catalog.Options{})
			w := sim.NewWire()
			in.Plug(w.A())
			d, err := usbnet.Probe(in.Dev, catalog.ForModels()...)
			if err != nil {
				t.Fatal(err)
			}
			x := m.Expect
			if d.Driver.Name() != x.Driver {
				t.Errorf("driver %s, want %s", d.Driver.Name(), x.Driver)
			}
			if d.Desc.Vendor != x.Vendor || d.Desc.Product != x.Product {
				t.Errorf("%04x:%04x, want %04x:%04x", d.Desc.Vendor, d.Desc.Product, x.Vendor, x.Product)
			}
			if got := d.Net.HardwareAddr().String(); got != x.MAC.String() {
				t.Errorf("MAC %s, want %s", got, x.MAC)
			}
			if in.Dev.Info().Speed != x.USBSpeed || d.MaxPacket() != x.MaxPacket {
				t.Errorf("speed %v max packet %d, want %v %d", in.Dev.Info().Speed, d.MaxPacket(), x.USBSpeed, x.MaxPacket)
			}
			if d.In.Address != in.BulkIn {
				t.Errorf("bulk IN %#02x, the instance says %#02x", d.In.Address, in.BulkIn)
			}
			if in.Counters == nil || in.SetLink == nil || in.Stats == nil || in.RxOverflow == nil {
				t.Error("instance without counters, link control, stats or its RX overflow count")
			} else if n := in.RxOverflow(); n != 0 {
				t.Errorf("RX overflow %d on an idle model", n)
			}
			if in.Paused() {
				t.Error("an idle model asks its partner to pause")
			}
			if in.RxFull != nil && in.RxFull() {
				t.Error("RX FIFO full on an idle model")
			}
			if in.Requests != nil {
				reqs, answered := in.Requests(), 0
				for _, r := range reqs {
					if !r.Stalled {
						answered++
					}
				}
				if answered == 0 {
					t.Errorf("request log: %d requests, none answered, after a bind", len(reqs))
				}
			}
			if err := d.Disconnect(); err != nil {
				t.Error(err)
			}
			if err := in.Dev.Close(); err != nil {
				t.Error(err)
			}
		})
	}
}

// TestBuildOptions: a model built with a MAC or a chip variant carries it.
func TestBuildOptions(t *testing.T) {
	mac := []byte{0x02, 0, 0, 0, 0, 0x42}
	for _, sel := range []string{"sim:ecm", "sim:ax88772", "sim:ax88179"} {
		m, err := catalog.ModelBySelector(sel)
		if err != nil {
			t.Fatal(err)
		}
		in := m.Build(catalog.Options{MAC: mac})
		d, err := usbnet.Probe(in.Dev, catalog.ForModels()...)
		if err != nil {
			t.Fatalf("%s: %v", sel, err)
		}
		if got := d.Net.HardwareAddr().String(); got != "02:00:00:00:00:42" {
			t.Errorf("%s: MAC %s", sel, got)
		}
		d.Disconnect()
		in.Dev.Close()
	}
	m, _ := catalog.ModelBySelector("sim:ecm")
	hs := m.Build(catalog.Options{Speed: hw.SpeedHigh})
	if hs.Dev.Info().Speed != hw.SpeedHigh {
		t.Errorf("sim:ecm asked for high speed: %v", hs.Dev.Info().Speed)
	}
	hs.Dev.Close()
	m, _ = catalog.ModelByChip("ax88178a")
	in := m.Build(catalog.Options{Chip: "ax88178a"})
	defer in.Dev.Close()
	if p := in.Dev.Info().Product; p != 0x178a {
		t.Errorf("ax88178a product %04x", p)
	}
}

// TestIsAdapter: enumeration lists what Probe binds and what it refuses
// by name, and nothing else.
func TestIsAdapter(t *testing.T) {
	cfg := func(class, sub, proto uint8) []*hw.Config {
		return []*hw.Config{{Value: 1, Interfaces: []hw.Interface{{Number: 0, Alts: []hw.AltSetting{{Class: class, SubClass: sub, Protocol: proto}}}}}}
	}
	for _, c := range []struct {
		name     string
		vid, pid uint16
		cfgs     []*hw.Config
		want     bool
	}{
		{"CDC ECM", 0x1234, 0x0001, cfg(2, 6, 0), true},
		{"ASIX by ID, vendor class", 0x0b95, 0x772b, cfg(0xff, 0xff, 0), true},
		{"CDC NCM, bound by cdc_ncm", 0x1209, 0x0002, cfg(2, 0x0d, 0), true},
		{"RNDIS, refused by name", 0x1209, 0x0003, cfg(0xe0, 1, 3), true},
		{"vendor class, unknown ID", 0x1234, 0x5678, cfg(0xff, 0xff, 0), false},
		{"a mouse", 0x046d, 0xc077, cfg(3, 1, 2), false},
	} {
		dd := &hw.DeviceDescriptor{Vendor: c.vid, Product: c.pid}
		if got := catalog.IsAdapter(dd, c.cfgs, 1); got != c.want {
			t.Errorf("%s: IsAdapter %v, want %v", c.name, got, c.want)
		}
	}
	if !slices.Contains(catalog.Selectors(), "sim:ax88179-ss") {
		t.Error("selectors lack sim:ax88179-ss")
	}
}

func TestDriversForcesOne(t *testing.T) {
	all, err := catalog.Drivers("", false)
	if err != nil || len(all) != len(catalog.Entries()) {
		t.Fatalf("Drivers(\"\") = %d drivers, %v", len(all), err)
	}
	one, err := catalog.Drivers("ecm", true)
	if err != nil || len(one) != 1 || one[0].Name() != "cdc_ether" {
		t.Fatalf("Drivers(ecm) = %v, %v", one, err)
	}
	if _, err := catalog.Drivers("rtl8139", false); !errors.Is(err, catalog.ErrUnknown) {
		t.Errorf("unknown: %v", err)
	}
}

// TestRealtekConfigurationChoice: an RTL8153 with a vendor configuration
// (1) and a CDC ECM one (2), left by the host on the ECM one: the
// catalog's drivers take the vendor configuration with r8152; forcing
// cdc_ether takes the ECM one.
func TestRealtekConfigurationChoice(t *testing.T) {
	dd := &hw.DeviceDescriptor{Vendor: 0x0bda, Product: 0x8153, NumConfigurations: 2}
	vendor := []byte{9, hw.DescConfig, 39, 0, 1, 1, 0, 0x80, 50,
		9, hw.DescInterface, 0, 0, 3, 0xff, 0xff, 0, 0,
		7, hw.DescEndpoint, 0x81, hw.XferBulk, 0, 2, 0,
		7, hw.DescEndpoint, 0x02, hw.XferBulk, 0, 2, 0,
		7, hw.DescEndpoint, 0x83, hw.XferInterrupt, 2, 0, 8}
	ecm := []byte{9, hw.DescConfig, 57, 0, 2, 2, 0, 0x80, 50,
		9, hw.DescInterface, 0, 0, 1, 0x02, 0x06, 0, 0,
		7, hw.DescEndpoint, 0x83, hw.XferInterrupt, 16, 0, 8,
		9, hw.DescInterface, 1, 0, 0, 0x0a, 0, 0, 0,
		9, hw.DescInterface, 1, 1, 2, 0x0a, 0, 0, 0,
		7, hw.DescEndpoint, 0x81, hw.XferBulk, 0, 2, 0,
		7, hw.DescEndpoint, 0x02, hw.XferBulk, 0, 2, 0}
	var cfgs []*hw.Config
	for _, raw := range [][]byte{vendor, ecm} {
		c, err := hw.ParseConfig(raw)
		if err != nil {
			t.Fatal(err)
		}
		cfgs = append(cfgs, c)
	}
	for _, tc := range []struct {
		choice string
		driver string
		config uint8
	}{{"", "r8152", 1}, {"cdc_ether", "cdc_ether", 2}, {"r8152", "r8152", 1}} {
		drivers, err := catalog.Drivers(tc.choice, false)
		if err != nil {
			t.Fatal(err)
		}
		b, err := usbnet.Match("rtl8153", dd, cfgs, 2, drivers)
		if err != nil || b.Driver.Name() != tc.driver || b.Config.Value != tc.config {
			t.Errorf("choice %q: %v in configuration %v (%v), want %s in %d", tc.choice, b.Driver, b.Config, err, tc.driver, tc.config)
		}
	}
	if got := catalog.ByID(0x0bda, 0x8153); got != "r8152" {
		t.Errorf("ByID(0bda:8153) = %q", got)
	}
}
