package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"dongle/hw/vmlab/guest"
)

// usbfs ioctls (linux/usbdevice_fs.h), _IOC(dir, 'U', nr, size) on a
// 64-bit kernel.
const (
	usbdevfsBulk             = 3<<30 | 24<<16 | 'U'<<8 | 2  // USBDEVFS_BULK, struct usbdevfs_bulktransfer
	usbdevfsSetInterface     = 2<<30 | 8<<16 | 'U'<<8 | 4   // USBDEVFS_SETINTERFACE, struct usbdevfs_setinterface
	usbdevfsClaimInterface   = 2<<30 | 4<<16 | 'U'<<8 | 15  // USBDEVFS_CLAIMINTERFACE, unsigned int
	usbdevfsReleaseInterface = 2<<30 | 4<<16 | 'U'<<8 | 16  // USBDEVFS_RELEASEINTERFACE
	usbdevfsIoctl            = 3<<30 | 16<<16 | 'U'<<8 | 18 // USBDEVFS_IOCTL, struct usbdevfs_ioctl
	usbdevfsDisconnect       = 'U'<<8 | 22                  // USBDEVFS_DISCONNECT (through USBDEVFS_IOCTL)
	usbdevfsConnect          = 'U'<<8 | 23                  // USBDEVFS_CONNECT
)

// usbdevfsBulkTransfer is struct usbdevfs_bulktransfer.
type usbdevfsBulkTransfer struct {
	ep, len, timeout uint32 // timeout in ms
	_                uint32
	data             uintptr
}

// usbdevfsIoctlArg is struct usbdevfs_ioctl.
type usbdevfsIoctlArg struct {
	ifno, code int32
	data       uintptr
}

// bulkin is `labguest bulkin`: a minimal host that reads a bulk IN
// endpoint through usbfs and never clears a halt. It takes the interface
// from its kernel driver (USBDEVFS_DISCONNECT), selects -alt if given
// (a CDC data interface's endpoints exist in alt 1), makes -n synchronous reads
// (USBDEVFS_BULK, one URB each: usbmon shows each submission and its
// status), -gap apart, printing each result (bytes, or the errno: EPIPE
// for a STALL, ETIMEDOUT), then gives the interface back to the kernel
// (USBDEVFS_CONNECT) unless -giveback=false. It is the host a halt-not-cleared capture needs:
// the kernel's usbnet and libusb-based drivers clear a halt they meet.
func bulkin(args []string) error {
	fs := flag.NewFlagSet("bulkin", flag.ExitOnError)
	dev := fs.String("dev", "", "VID:PID of the device")
	ifno := fs.Int("iface", 0, "interface to take")
	alt := fs.Int("alt", -1, "alternate setting to select first (SET_INTERFACE; -1: leave it)")
	epS := fs.String("ep", "", "bulk IN endpoint address (hex or decimal, e.g. 0x86)")
	n := fs.Int("n", 5, "reads")
	size := fs.Int("size", 2048, "bytes per read")
	timeout := fs.Duration("timeout", 500*time.Millisecond, "timeout of each read")
	gap := fs.Duration("gap", 200*time.Millisecond, "pause between reads")
	giveBack := fs.Bool("giveback", true, "give the interface back to the kernel's driver at the end (USBDEVFS_CONNECT; the driver then clears any halt it meets)")
	fs.Parse(args)
	switch {
	case *size < 1:
		return fmt.Errorf("-size %d: want at least 1 byte per read", *size)
	case *ifno < 0 || *ifno > 255:
		return fmt.Errorf("-iface %d: want an interface number 0..255", *ifno)
	case *timeout <= 0:
		return fmt.Errorf("-timeout %v: want a positive duration", *timeout)
	}
	ep, err := guest.ParseEndpoint(*epS)
	if err != nil || ep&0x80 == 0 {
		return fmt.Errorf("-ep %q: want an IN endpoint address", *epS)
	}
	v, p, ok := strings.Cut(*dev, ":")
	vid, err1 := strconv.ParseUint(v, 16, 16)
	pid, err2 := strconv.ParseUint(p, 16, 16)
	if !ok || err1 != nil || err2 != nil {
		return fmt.Errorf("-dev %q: want VID:PID in hex", *dev)
	}
	d, err := guest.FindUSB(uint16(vid), uint16(pid))
	if err != nil {
		return err
	}
	path := fmt.Sprintf("/dev/bus/usb/%03d/%03d", d.Bus, d.Address)
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	fd := f.Fd()
	disc := usbdevfsIoctlArg{ifno: int32(*ifno), code: usbdevfsDisconnect}
	if err := ioctl(fd, usbdevfsIoctl, unsafe.Pointer(&disc)); err != nil && !errors.Is(err, unix.ENODATA) {
		return fmt.Errorf("%s: detach the kernel driver of interface %d: %w", path, *ifno, err)
	}
	defer func() {
		if !*giveBack {
			return
		}
		conn := usbdevfsIoctlArg{ifno: int32(*ifno), code: usbdevfsConnect}
		if err := ioctl(fd, usbdevfsIoctl, unsafe.Pointer(&conn)); err != nil {
			fmt.Fprintf(os.Stderr, "labguest bulkin: %s: give interface %d back to the kernel: %v\n", path, *ifno, err)
		}
	}()
	nIf := uint32(*ifno)
	if err := ioctl(fd, usbdevfsClaimInterface, unsafe.Pointer(&nIf)); err != nil {
		return fmt.Errorf("%s: claim interface %d: %w", path, *ifno, err)
	}
	defer ioctl(fd, usbdevfsReleaseInterface, unsafe.Pointer(&nIf))
	if *alt >= 0 {
		si := [2]uint32{uint32(*ifno), uint32(*alt)} // struct usbdevfs_setinterface
		if err := ioctl(fd, usbdevfsSetInterface, unsafe.Pointer(&si)); err != nil {
			return fmt.Errorf("%s: interface %d alt %d: %w", path, *ifno, *alt, err)
		}
	}
	fmt.Printf("BULKIN %s: interface %d claimed\n", path, *ifno)
	buf := make([]byte, *size)
	for i := 0; i < *n; i++ {
		if i > 0 {
			time.Sleep(*gap)
		}
		bt := usbdevfsBulkTransfer{ep: uint32(ep), len: uint32(len(buf)), timeout: uint32(timeout.Milliseconds()), data: uintptr(unsafe.Pointer(&buf[0]))}
		r, _, errno := unix.Syscall(unix.SYS_IOCTL, fd, usbdevfsBulk, uintptr(unsafe.Pointer(&bt)))
		if errno != 0 {
			fmt.Printf("BULKIN %s ep %#02x read %d: %v\n", path, ep, i, errno)
			continue
		}
		fmt.Printf("BULKIN %s ep %#02x read %d: %d bytes\n", path, ep, i, r)
	}
	return nil
}

func ioctl(fd, req uintptr, arg unsafe.Pointer) error {
	if _, _, errno := unix.Syscall(unix.SYS_IOCTL, fd, req, uintptr(arg)); errno != 0 {
		return errno
	}
	return nil
}
