package main

import (
	"fmt"
	"io"
	"os"

	usbhw "dongle/hw/gousb"
	"dongle/usbnet/catalog"
)

// udevPath is where --install writes the rule.
var udevPath = "/etc/udev/rules.d/70-dongle.rules"

func init() {
	register("udev", "udev rule for unprivileged access (--install writes it)", runUdev)
}

func runUdev(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("udev", stderr)
	install := fs.Bool("install", false, "write "+udevPath+" instead of printing it")
	if _, err := parse(fs, args); err != nil {
		return 2
	}
	rule := usbhw.UdevRule(catalog.VendorIDs())
	if !*install {
		fmt.Fprint(stdout, rule)
		return 0
	}
	if err := os.WriteFile(udevPath, []byte(rule), 0o644); err != nil {
		return fail(stderr, "udev", err)
	}
	fmt.Fprintf(stdout, "wrote %s; now run: udevadm control --reload && udevadm trigger (or replug the adapter)\n", udevPath)
	return 0
}
