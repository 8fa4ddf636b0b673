package gousb

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// SysfsRoot is where Linux lists USB devices and interfaces.
const SysfsRoot = "/sys/bus/usb/devices"

// portPath is the kernel's name for a device: "1-2.3" is port 3 of the hub
// on port 2 of root hub 1; a root hub itself is "usb1".
func portPath(bus int, path []int) string {
	if len(path) == 0 {
		return fmt.Sprintf("usb%d", bus)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d-%d", bus, path[0])
	for _, p := range path[1:] {
		fmt.Fprintf(&b, ".%d", p)
	}
	return b.String()
}

// sysfs reads the attributes List needs. A missing file (no sysfs, not
// Linux, a sandbox) reads as "unknown", never as an error. root is
// SysfsRoot ("" for none); vhciState is where usbip attach records its
// ports (VHCIStateDir), read for devices behind vhci_hcd (usbip.go).
type sysfs struct{ root, vhciState string }

func (s sysfs) attr(port, name string) string {
	if s.root == "" {
		return ""
	}
	b, err := os.ReadFile(filepath.Join(s.root, port, name))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// serial is the device's iSerialNumber as the kernel read it at enumeration.
func (s sysfs) serial(port string) string { return s.attr(port, "serial") }

// activeConfig is bConfigurationValue, or 0 when unknown or unconfigured.
func (s sysfs) activeConfig(port string) int {
	n, _ := strconv.Atoi(s.attr(port, "bConfigurationValue"))
	return n
}

// driver is the kernel driver bound to interface iface of configuration
// cfg: the target of the interface's "driver" symlink ("cdc_ether",
// "usbfs" when a libusb program holds it), or "" when none is bound.
func (s sysfs) driver(port string, cfg, iface int) string {
	if s.root == "" {
		return ""
	}
	l, err := os.Readlink(filepath.Join(s.root, fmt.Sprintf("%s:%d.%d", port, cfg, iface), "driver"))
	if err != nil {
		return ""
	}
	return filepath.Base(l)
}
