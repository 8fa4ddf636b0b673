package gousb

import (
	"fmt"
	"slices"
	"strings"
)

// UdevRule returns the udev rules file `dongle udev` prints: one line per
// VID:PID the caller's drivers know, and a class-based line for CDC Ethernet
// (any device with a communications interface of subclass 6), each giving
// group plugdev read/write access to the device's usbfs node
// (/dev/bus/usb/BBB/DDD). Install it as /etc/udev/rules.d/70-dongle.rules,
// then `udevadm control --reload && udevadm trigger` (or replug).
//
// The class line matches the device event on ID_USB_INTERFACES, which
// udev's usb_id builtin (50-udev-default.rules) sets to the device's
// interface triples (":020600:0a0000:" for ECM): interfaces have no device
// node of their own, so the rule must match the device. That is why the
// file must sort after 50-*.rules.
func UdevRule(ids []ID) string {
	var b strings.Builder
	b.WriteString("# dongle: let group plugdev use USB network adapters through libusb (usbfs).\n")
	b.WriteString("# Install: dongle udev | sudo tee /etc/udev/rules.d/70-dongle.rules\n")
	b.WriteString("#          sudo udevadm control --reload && sudo udevadm trigger\n")
	ids = slices.Clone(ids)
	slices.SortFunc(ids, func(a, b ID) int {
		if a.Vendor != b.Vendor {
			return int(a.Vendor) - int(b.Vendor)
		}
		return int(a.Product) - int(b.Product)
	})
	ids = slices.Compact(ids)
	for _, id := range ids {
		fmt.Fprintf(&b, "SUBSYSTEM==\"usb\", ENV{DEVTYPE}==\"usb_device\", ATTR{idVendor}==\"%04x\", ATTR{idProduct}==\"%04x\", GROUP=\"plugdev\", MODE=\"0660\"\n",
			id.Vendor, id.Product)
	}
	b.WriteString("# CDC Ethernet (ECM): communications interface class 02, subclass 06.\n")
	b.WriteString("SUBSYSTEM==\"usb\", ENV{DEVTYPE}==\"usb_device\", ENV{ID_USB_INTERFACES}==\"*:0206??:*\", GROUP=\"plugdev\", MODE=\"0660\"\n")
	return b.String()
}
