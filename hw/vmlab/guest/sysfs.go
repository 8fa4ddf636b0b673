package guest

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// SysfsRoot is where USB devices are listed; a variable for tests.
var SysfsRoot = "/sys/bus/usb/devices"

// USBDevice is a USB device as sysfs shows it.
type USBDevice struct {
	Name            string // sysfs name, "1-1"
	Vendor, Product uint16
	Bus, Address    int
	Speed           string // Mbit/s as sysfs says: "12", "480"
	Config          int    // bConfigurationValue (0: unconfigured)
	// Driver is the driver bound to the device itself: "usb" (the
	// generic one), or "usbip-host" while it is exported over USB/IP.
	Driver     string
	Interfaces []USBInterface
}

// Exported reports whether the device is bound to usbip-host: exported
// over USB/IP, it belongs to the host that attaches it (here, the same
// device as seen through vhci_hcd).
func (d USBDevice) Exported() bool { return d.Driver == "usbip-host" }

// USBInterface is one interface of the active configuration.
type USBInterface struct {
	Name        string // "1-1:1.0"
	Number, Alt int
	Class, Sub  uint8
	Driver      string // bound kernel driver, "" when none (e.g. usbfs claimed it: then "usbfs")
	Netdevs     []string
	Endpoints   []USBEndpoint // the alternate setting's endpoints (ep_XX), by address as sysfs names them
}

// USBEndpoint is one endpoint of an interface as sysfs shows it (ep_XX):
// the kernel's reading of the endpoint descriptor the device sent.
type USBEndpoint struct {
	Addr      uint8  // bEndpointAddress; bit 7 set for IN
	Type      string // "Bulk", "Interrupt", "Isoc" or "Control", as sysfs spells it
	MaxPacket int    // wMaxPacketSize: 512 for high-speed bulk, 1024 for SuperSpeed bulk
}

// In reports whether the endpoint is IN (device to host).
func (e USBEndpoint) In() bool { return e.Addr&0x80 != 0 }

// interfaceEndpoints reads the ep_XX directories of the interface at dir.
// A malformed bEndpointAddress or wMaxPacketSize is an error naming the file.
func interfaceEndpoints(dir string) ([]USBEndpoint, error) {
	eps, _ := filepath.Glob(filepath.Join(dir, "ep_*"))
	sort.Strings(eps)
	var out []USBEndpoint
	for _, ep := range eps {
		a, err := readHex(filepath.Join(ep, "bEndpointAddress"))
		if err != nil {
			return nil, err
		}
		if a > 0xff {
			return nil, fmt.Errorf("%s: bEndpointAddress %#x does not fit a byte", ep, a)
		}
		mps, err := readHex(filepath.Join(ep, "wMaxPacketSize"))
		if err != nil {
			return nil, err
		}
		out = append(out, USBEndpoint{Addr: uint8(a), Type: readTrim(filepath.Join(ep, "type")), MaxPacket: int(mps)})
	}
	return out, nil
}

func readTrim(p string) string {
	b, err := os.ReadFile(p)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

func readHex(p string) (uint64, error) {
	b, err := os.ReadFile(p)
	if err != nil {
		return 0, err // names p
	}
	s := strings.TrimSpace(string(b))
	v, err := strconv.ParseUint(s, 16, 16)
	if err != nil {
		return 0, fmt.Errorf("%s: %q is not hex: %w", p, s, err)
	}
	return v, nil
}

// vanished reports whether err is a read of a sysfs file that is gone or
// going: the kernel is removing the device (ENOENT once its directory is
// unlinked, ENODEV from an attribute opened while it was).
func vanished(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENODEV)
}

// USBDevices lists the USB devices (not root hubs) in sysfs, sorted by name.
//
// sysfs changes under a reader: the kernel removing a device takes its
// attributes away before its directory. A scan that finds a file gone
// (or a device whose idVendor went while it was read) is made again, a
// little later, up to rescans times: a device on its way out is then gone
// whole and not listed, and one that is still there with a file missing
// is an error naming the file. A file that reads but does not parse is an
// error at once.
func USBDevices() ([]USBDevice, error) {
	var err error
	for try := 0; ; try++ {
		var devs []USBDevice
		devs, err = scanUSB()
		if !vanished(err) || try == rescans {
			return devs, err
		}
		rescanPause()
	}
}

// rescans and rescanPause bound USBDevices' scans of a changing sysfs; a
// variable for tests, which remove a device during the pause.
const rescans = 5

var rescanPause = func() { time.Sleep(20 * time.Millisecond) }

// scanUSB is one scan for USBDevices; an error for which vanished is true
// says the scan met a device changing.
func scanUSB() ([]USBDevice, error) {
	ents, err := os.ReadDir(SysfsRoot)
	if err != nil {
		return nil, fmt.Errorf("usb devices: %w", err)
	}
	var devs []USBDevice
	for _, e := range ents {
		name := e.Name()
		dir := filepath.Join(SysfsRoot, name)
		if strings.Contains(name, ":") || strings.HasPrefix(name, "usb") {
			continue // interfaces and root hubs
		}
		if _, err := os.Stat(filepath.Join(dir, "idVendor")); err != nil {
			continue // not a device
		}
		v, err := readHex(filepath.Join(dir, "idVendor"))
		if err != nil {
			return nil, err
		}
		p, err := readHex(filepath.Join(dir, "idProduct"))
		if err != nil {
			return nil, err
		}
		d := USBDevice{Name: name, Vendor: uint16(v), Product: uint16(p), Speed: readTrim(filepath.Join(dir, "speed"))}
		d.Bus, _ = strconv.Atoi(readTrim(filepath.Join(dir, "busnum")))
		d.Address, _ = strconv.Atoi(readTrim(filepath.Join(dir, "devnum")))
		d.Config, _ = strconv.Atoi(readTrim(filepath.Join(dir, "bConfigurationValue")))
		if t, err := os.Readlink(filepath.Join(dir, "driver")); err == nil {
			d.Driver = filepath.Base(t)
		}
		ifs, _ := filepath.Glob(filepath.Join(SysfsRoot, name+":*"))
		sort.Strings(ifs)
		for _, ip := range ifs {
			i := USBInterface{Name: filepath.Base(ip)}
			n, _ := strconv.ParseUint(readTrim(filepath.Join(ip, "bInterfaceNumber")), 16, 8)
			a, _ := strconv.Atoi(readTrim(filepath.Join(ip, "bAlternateSetting")))
			c, _ := strconv.ParseUint(readTrim(filepath.Join(ip, "bInterfaceClass")), 16, 8)
			s, _ := strconv.ParseUint(readTrim(filepath.Join(ip, "bInterfaceSubClass")), 16, 8)
			i.Number, i.Alt, i.Class, i.Sub = int(n), a, uint8(c), uint8(s)
			if t, err := os.Readlink(filepath.Join(ip, "driver")); err == nil {
				i.Driver = filepath.Base(t)
			}
			nets, _ := os.ReadDir(filepath.Join(ip, "net"))
			for _, nd := range nets {
				i.Netdevs = append(i.Netdevs, nd.Name())
			}
			if i.Endpoints, err = interfaceEndpoints(ip); err != nil {
				return nil, err
			}
			d.Interfaces = append(d.Interfaces, i)
		}
		// The reads above that may fail quietly (speed, driver, the
		// interfaces) were of the device as it is if it is still there.
		if _, err := os.Lstat(filepath.Join(dir, "idVendor")); err != nil {
			return nil, err
		}
		devs = append(devs, d)
	}
	return devs, nil
}

// FindUSB returns the first device with this vendor and product, leaving
// out one exported over USB/IP (the same device attached through vhci_hcd
// is the one the host uses).
func FindUSB(vendor, product uint16) (USBDevice, error) {
	devs, err := USBDevices()
	if err != nil {
		return USBDevice{}, err
	}
	for _, d := range devs {
		if d.Vendor == vendor && d.Product == product && !d.Exported() {
			return d, nil
		}
	}
	return USBDevice{}, fmt.Errorf("usb device %04x:%04x: not present", vendor, product)
}

// Netdev is the kernel netdev a class driver created for the device
// ("usb0"), or an error when no driver has bound one.
func (d USBDevice) Netdev() (string, error) {
	for _, i := range d.Interfaces {
		if len(i.Netdevs) > 0 {
			return i.Netdevs[0], nil
		}
	}
	return "", fmt.Errorf("usb device %s (%04x:%04x): no netdev bound", d.Name, d.Vendor, d.Product)
}

// String is one line: "1-1 0525:a4a2 bus 1 addr 2 12M cfg 1: 1-1:1.0 02/06 cdc_ether [usb0], 1-1:1.1 0a/00 cdc_ether".
func (d USBDevice) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %04x:%04x bus %d addr %d %sM cfg %d:", d.Name, d.Vendor, d.Product, d.Bus, d.Address, d.Speed, d.Config)
	for k, i := range d.Interfaces {
		if k > 0 {
			b.WriteByte(',')
		}
		drv := i.Driver
		if drv == "" {
			drv = "-"
		}
		fmt.Fprintf(&b, " %s %02x/%02x %s", i.Name, i.Class, i.Sub, drv)
		if len(i.Netdevs) > 0 {
			fmt.Fprintf(&b, " [%s]", strings.Join(i.Netdevs, " "))
		}
	}
	return b.String()
}
