package guest

import (
	"os"
	"path/filepath"
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
	if _, err := FindUSB(GadgetVendor, ECMProduct); err == nil {
		t.Error("FindUSB of an absent device: no error")
	}
	write(t, filepath.Join(root, "2-1", "idVendor"), "zz")
	if _, err := USBDevices(); err == nil {
		t.Error("malformed idVendor: no error")
	}
}
