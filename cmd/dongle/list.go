package main

import (
	"errors"
	"fmt"
	"io"
	"strings"

	usbhw "dongle/hw/gousb"
	"dongle/usbnet"
	"dongle/usbnet/catalog"
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
	fmt.Fprintf(stdout, "%-9s %-7s %-6s %-16s %-14s %-13s %s\n", "ID", "BUS.DEV", "SPEED", "FAMILY", "DRIVER", "KERNEL DRIVER", "WHERE")
	for _, c := range cands {
		fam, drv := bindingOf(c)
		kern := strings.Join(c.Drivers(), ",")
		where := c.USBIP.String()
		switch c.USBIP.Role {
		case usbhw.NotUSBIP:
			where = "local"
		case usbhw.Exported:
			// The remote host's: dongle never opens it here.
			kern, drv = usbhw.USBIPHostDriver, "none (remote's)"
		}
		if kern == "" {
			kern = "-"
		}
		fmt.Fprintf(stdout, "%04x:%04x %3d.%-3d %-6s %-16s %-14s %-13s %s\n", c.Vendor, c.Product, c.Bus, c.Address, c.Speed, fam, drv, kern, where)
	}
	return 0
}

// bindingOf says which chip family a candidate is and which minidriver
// binds it, by Probe's own matching (catalog.Classify).
func bindingOf(c usbhw.Candidate) (family, driver string) {
	dd, cfgs := c.Descriptors()
	b, err := catalog.Classify(c.Info.Name(), dd, cfgs, c.ActiveConfig)
	var ue *usbnet.UnsupportedError
	switch {
	case errors.As(err, &ue):
		return ue.Function, "not supported yet"
	case err != nil:
		return "unknown", "none"
	}
	fam := b.ID.Name
	if fam == "" {
		fam = b.Driver.Name()
	}
	if len(fam) > 16 {
		fam = fam[:16]
	}
	return fam, b.Driver.Name()
}
