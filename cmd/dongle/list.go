package main

import (
	"fmt"
	"io"
	"strings"

	"dongle/hw"
	usbhw "dongle/hw/gousb"
	"dongle/usbnet/decode"
	"dongle/usbnet/drivers"
)

func init() { register("list", "USB network adapters present, with chip and driver", runList) }

func runList(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("list", stderr)
	if _, err := parse(fs, args); err != nil {
		return 2
	}
	cands, seen, err := listUSB()
	if err != nil {
		return fail(stderr, "list", err)
	}
	if len(cands) == 0 {
		fmt.Fprintf(stdout, "no USB network adapters found (%d USB devices seen)\n", seen)
		return 0
	}
	fmt.Fprintf(stdout, "%-9s %-7s %-6s %-16s %-14s %s\n", "ID", "BUS.DEV", "SPEED", "FAMILY", "DRIVER", "KERNEL DRIVER")
	for _, c := range cands {
		fam, drv := bindingOf(c)
		kern := strings.Join(c.Drivers(), ",")
		if kern == "" {
			kern = "-"
		}
		fmt.Fprintf(stdout, "%04x:%04x %3d.%-3d %-6s %-16s %-14s %s\n", c.Vendor, c.Product, c.Bus, c.Address, c.Speed, fam, drv, kern)
	}
	return 0
}

// bindingOf says which chip family a candidate is and which minidriver
// binds it, with usbnet.Probe's matching rules.
func bindingOf(c usbhw.Candidate) (family, driver string) {
	dd := &hw.DeviceDescriptor{Vendor: c.Vendor, Product: c.Product, Class: c.Class, SubClass: c.SubClass, Protocol: c.Protocol}
	byCfg := map[int]*hw.Config{}
	var cfgs []*hw.Config
	for _, i := range c.Interfaces {
		cfg := byCfg[i.Config]
		if cfg == nil {
			cfg = &hw.Config{Value: uint8(i.Config)}
			byCfg[i.Config] = cfg
			cfgs = append(cfgs, cfg)
		}
		in := cfg.Interface(uint8(i.Number))
		if in == nil {
			cfg.Interfaces = append(cfg.Interfaces, hw.Interface{Number: uint8(i.Number)})
			in = &cfg.Interfaces[len(cfg.Interfaces)-1]
		}
		in.Alts = append(in.Alts, hw.AltSetting{Number: uint8(i.Number), Alternate: uint8(i.Alt), Class: i.Class, SubClass: i.SubClass, Protocol: i.Protocol})
	}
	d, id, _, err := decode.Match(dd, cfgs, drivers.All())
	if err != nil {
		kind := c.Kind(drivers.VendorIDs())
		return kind.String(), "not supported yet"
	}
	fam := id.Name
	if fam == "" {
		fam = "CDC ECM"
	}
	if len(fam) > 16 {
		fam = fam[:16]
	}
	return fam, d.Name()
}
