package main

import (
	"strings"
	"testing"
	"unsafe"
)

// TestUsbfsABI: the ioctl numbers and structs are the kernel's on a 64-bit
// machine (the values linux/usbdevice_fs.h gives there); a wrong size in
// an _IOC number is a request the kernel does not know (ENOTTY).
func TestUsbfsABI(t *testing.T) {
	for _, c := range []struct {
		name      string
		got, want uintptr
	}{
		{"USBDEVFS_BULK", usbdevfsBulk, 0xc0185502},
		{"USBDEVFS_SETINTERFACE", usbdevfsSetInterface, 0x80085504},
		{"USBDEVFS_CLAIMINTERFACE", usbdevfsClaimInterface, 0x8004550f},
		{"USBDEVFS_RELEASEINTERFACE", usbdevfsReleaseInterface, 0x80045510},
		{"USBDEVFS_IOCTL", usbdevfsIoctl, 0xc0105512},
		{"USBDEVFS_DISCONNECT", usbdevfsDisconnect, 0x5516},
		{"USBDEVFS_CONNECT", usbdevfsConnect, 0x5517},
		{"sizeof(struct usbdevfs_bulktransfer)", unsafe.Sizeof(usbdevfsBulkTransfer{}), 24},
		{"offsetof(usbdevfs_bulktransfer, data)", unsafe.Offsetof(usbdevfsBulkTransfer{}.data), 16},
		{"sizeof(struct usbdevfs_ioctl)", unsafe.Sizeof(usbdevfsIoctlArg{}), 16},
	} {
		if c.got != c.want {
			t.Errorf("%s = %#x, want %#x", c.name, c.got, c.want)
		}
	}
}

// TestBulkinRefusesBadFlags: sizes, interfaces and timeouts that would
// make a read panic or wrap are refused, naming the flag, before any
// device is opened.
func TestBulkinRefusesBadFlags(t *testing.T) {
	for _, c := range []struct {
		args []string
		flag string
	}{
		{[]string{"-dev", "1209:0001", "-ep", "0x81", "-size", "0"}, "-size"},
		{[]string{"-dev", "1209:0001", "-ep", "0x81", "-size", "-5"}, "-size"},
		{[]string{"-dev", "1209:0001", "-ep", "0x81", "-iface", "-1"}, "-iface"},
		{[]string{"-dev", "1209:0001", "-ep", "0x81", "-iface", "256"}, "-iface"},
		{[]string{"-dev", "1209:0001", "-ep", "0x81", "-timeout", "0s"}, "-timeout"},
	} {
		err := bulkin(c.args)
		if err == nil || !strings.HasPrefix(err.Error(), c.flag+" ") {
			t.Errorf("%v: %v, want an error naming %s", c.args, err, c.flag)
		}
	}
}
