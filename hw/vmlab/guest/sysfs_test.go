package guest

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func write(t *testing.T, p, s string) {
	t.Helper()
	os.MkdirAll(filepath.Dir(p), 0o755)
	if err := os.WriteFile(p, []byte(s+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestUSBDevices reads a fake sysfs tree shaped like the guest's.
func TestUSBDevices(t *testing.T) {
	root := t.TempDir()
	old := SysfsRoot
	SysfsRoot = root
	defer func() { SysfsRoot = old }()
	dev := filepath.Join(root, "1-1")
	for f, v := range map[string]string{"idVendor": "0525", "idProduct": "a4a2", "busnum": "1", "devnum": "2", "speed": "12", "bConfigurationValue": "1"} {
		write(t, filepath.Join(dev, f), v)
	}
	write(t, filepath.Join(root, "usb1", "idVendor"), "1d6b") // root hub: skipped
	drv := filepath.Join(t.TempDir(), "drivers", "cdc_ether")
	os.MkdirAll(drv, 0o755)
	for i, cls := range []string{"02", "0a"} {
		ifd := filepath.Join(root, "1-1:1."+string(rune('0'+i)))
		write(t, filepath.Join(ifd, "bInterfaceNumber"), "0"+string(rune('0'+i)))
		write(t, filepath.Join(ifd, "bAlternateSetting"), " 0")
		write(t, filepath.Join(ifd, "bInterfaceClass"), cls)
		write(t, filepath.Join(ifd, "bInterfaceSubClass"), map[string]string{"02": "06", "0a": "00"}[cls])
		if err := os.Symlink(drv, filepath.Join(ifd, "driver")); err != nil {
			t.Fatal(err)
		}
	}
	os.MkdirAll(filepath.Join(root, "1-1:1.0", "net", "usb0"), 0o755)
	// Endpoints as the kernel lists them: the control interface's status
	// endpoint, the data interface's bulk pair (SuperSpeed-sized).
	ep := func(iface, name, addr, typ, mps string) string {
		d := filepath.Join(root, iface, name)
		write(t, filepath.Join(d, "bEndpointAddress"), addr)
		write(t, filepath.Join(d, "type"), typ)
		write(t, filepath.Join(d, "wMaxPacketSize"), mps)
		write(t, filepath.Join(d, "direction"), map[bool]string{true: "in", false: "out"}[addr[0] >= '8'])
		return d
	}
	ep("1-1:1.0", "ep_83", "83", "Interrupt", "0010")
	ep("1-1:1.1", "ep_81", "81", "Bulk", "0400")
	bulkOut := ep("1-1:1.1", "ep_02", "02", "Bulk", "0400")

	devs, err := USBDevices()
	if err != nil {
		t.Fatal(err)
	}
	if len(devs) != 1 {
		t.Fatalf("got %d devices, want 1 (root hubs and interfaces skipped): %v", len(devs), devs)
	}
	want := "1-1 0525:a4a2 bus 1 addr 2 12M cfg 1: 1-1:1.0 02/06 cdc_ether [usb0], 1-1:1.1 0a/00 cdc_ether"
	if got := devs[0].String(); got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	d, err := FindUSB(USBNetVendor, USBNetProduct)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := d.Netdev(); err != nil || n != "usb0" {
		t.Errorf("Netdev: %q %v", n, err)
	}
	// The netdev hangs off whichever interface the driver put it on.
	if n, err := (USBDevice{Interfaces: []USBInterface{{}, {Netdevs: []string{"usb7"}}}}).Netdev(); err != nil || n != "usb7" {
		t.Errorf("Netdev on the second interface: %q %v", n, err)
	}
	if _, err := (USBDevice{Name: "9-9", Interfaces: []USBInterface{{}, {}}}).Netdev(); err == nil || !strings.Contains(err.Error(), "9-9") {
		t.Errorf("Netdev with none bound: %v, want an error naming the device", err)
	}
	wantEPs := [][]USBEndpoint{
		{{Addr: 0x83, Type: "Interrupt", MaxPacket: 16}},
		{{Addr: 0x02, Type: "Bulk", MaxPacket: 1024}, {Addr: 0x81, Type: "Bulk", MaxPacket: 1024}},
	}
	for k, i := range d.Interfaces {
		if !reflect.DeepEqual(i.Endpoints, wantEPs[k]) {
			t.Errorf("interface %s endpoints: got %+v, want %+v", i.Name, i.Endpoints, wantEPs[k])
		}
	}
	if eps := d.Interfaces[1].Endpoints; len(eps) == 2 && (eps[0].In() || !eps[1].In()) {
		t.Errorf("In: ep %#02x %v, ep %#02x %v; want OUT then IN", eps[0].Addr, eps[0].In(), eps[1].Addr, eps[1].In())
	}
	write(t, filepath.Join(bulkOut, "wMaxPacketSize"), "04zz")
	if _, err := USBDevices(); err == nil || !strings.Contains(err.Error(), filepath.Join(bulkOut, "wMaxPacketSize")) {
		t.Errorf("malformed wMaxPacketSize: error %v, want one naming the file", err)
	}
	write(t, filepath.Join(bulkOut, "wMaxPacketSize"), "0400")
	if _, err := USBDevices(); err != nil {
		t.Fatalf("sysfs tree restored: %v", err)
	}
	// 0xff is a byte (the largest endpoint address there is).
	write(t, filepath.Join(bulkOut, "bEndpointAddress"), "ff")
	if devs, err := USBDevices(); err != nil || devs[0].Interfaces[1].Endpoints[0].Addr != 0xff { // ep_02's directory sorts first
		t.Errorf("bEndpointAddress ff: %v, %v", devs, err)
	}
	write(t, filepath.Join(bulkOut, "bEndpointAddress"), "100")
	if _, err := USBDevices(); err == nil || !strings.Contains(err.Error(), "does not fit a byte") {
		t.Errorf("bEndpointAddress 100: %v, want an error saying it does not fit a byte", err)
	}
	write(t, filepath.Join(bulkOut, "bEndpointAddress"), "02")
	// A present device with a file missing: an error naming the file,
	// once the rescans have seen it stay missing.
	pauses := 0
	defer func(p func()) { rescanPause = p }(rescanPause)
	rescanPause = func() { pauses++ }
	os.Remove(filepath.Join(bulkOut, "bEndpointAddress"))
	if _, err := USBDevices(); !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), filepath.Join(bulkOut, "bEndpointAddress")) || pauses != rescans {
		t.Errorf("an endpoint attribute missing on a present device: %v after %d pauses; want an error naming it after %d", err, pauses, rescans)
	}
	// The kernel removing the device while it is listed: attributes first,
	// then the directories. The scan that met the missing file is made
	// again and finds the device gone whole.
	pauses = 0
	rescanPause = func() {
		pauses++
		ds, _ := filepath.Glob(filepath.Join(root, "1-1*"))
		for _, d := range ds {
			os.RemoveAll(d)
		}
	}
	if devs, err := USBDevices(); err != nil || len(devs) != 0 || pauses != 1 {
		t.Errorf("a device removed while listed: %v, %v after %d pauses; want it left out after one", devs, err, pauses)
	}
	rescanPause = func() { pauses++ }
	if _, err := FindUSB(GadgetVendor, ECMProduct); err == nil {
		t.Error("FindUSB of an absent device: no error")
	}
	write(t, filepath.Join(root, "2-1", "idVendor"), "zz")
	if _, err := USBDevices(); err == nil {
		t.Error("malformed idVendor: no error")
	}
}

// TestFindUSBSkipsExported: with the ECM gadget exported by usbip-host
// (3-1) and attached back through vhci_hcd (6-1), both carry 1209:0001;
// FindUSB finds the attached one, which sorts after the exported one.
func TestFindUSBSkipsExported(t *testing.T) {
	root := t.TempDir()
	old := SysfsRoot
	SysfsRoot = root
	defer func() { SysfsRoot = old }()
	drivers := t.TempDir()
	for _, port := range []string{"3-1", "6-1"} {
		for f, v := range map[string]string{"idVendor": "1209", "idProduct": "0001", "busnum": port[:1], "devnum": "2", "speed": "480", "bConfigurationValue": "1"} {
			write(t, filepath.Join(root, port, f), v)
		}
	}
	if err := os.Symlink(filepath.Join(drivers, "usbip-host"), filepath.Join(root, "3-1", "driver")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(drivers, "usb"), filepath.Join(root, "6-1", "driver")); err != nil {
		t.Fatal(err)
	}
	devs, err := USBDevices()
	if err != nil {
		t.Fatal(err)
	}
	if len(devs) != 2 || !devs[0].Exported() || devs[1].Exported() || devs[1].Driver != "usb" {
		t.Fatalf("devices %+v: want 3-1 exported (usbip-host), 6-1 not (usb)", devs)
	}
	d, err := FindUSB(GadgetVendor, ECMProduct)
	if err != nil || d.Name != "6-1" {
		t.Fatalf("FindUSB = %s, %v; want 6-1 (3-1 is exported)", d.Name, err)
	}
	os.Remove(filepath.Join(root, "6-1", "idVendor"))
	if d, err := FindUSB(GadgetVendor, ECMProduct); err == nil {
		t.Fatalf("FindUSB = %s with only the exported device left; want an error", d.Name)
	}
}
