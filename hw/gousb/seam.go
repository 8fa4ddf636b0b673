package gousb

import (
	"context"
	"time"

	"dongle/hw"
)

// lib is the seam over libusb: the few operations this package needs from
// gousb. realLib (libusb.go) implements it; the tests use a fake.
type lib interface {
	// devices enumerates without opening anything.
	devices() ([]devInfo, error)
	// open opens the device at bus/addr; errors are gousb.Error values.
	open(bus, addr int) (handle, error)
	close() error
}

// devInfo is what enumeration learns without opening a device.
type devInfo struct {
	Bus, Address int
	Path         []int // port numbers from the root hub
	Vendor       uint16
	Product      uint16
	Speed        hw.Speed
	Class        uint8
	SubClass     uint8
	Protocol     uint8
	Configs      []cfgInfo
}

type cfgInfo struct {
	Value      int
	Interfaces []ifaceInfo // every alternate setting
}

type ifaceInfo struct {
	Number, Alt               int
	Class, SubClass, Protocol uint8
}

// handle is an open device. Errors are gousb.Error / gousb.TransferStatus
// values (or wrap them); the Device above maps them onto hw.Errno.
type handle interface {
	control(timeout time.Duration, rType, req uint8, val, idx uint16, data []byte) (int, error)
	activeConfig() (int, error)
	// setConfig detaches every kernel driver of the active configuration
	// and selects value. No interface is claimed when it is called.
	setConfig(value int) error
	claim(iface int) error
	release(iface int) error
	setAlt(iface, alt int) error
	clearHalt(ep uint8) error
	reset() error
	// pipe returns the transfer path of endpoint addr of claimed interface
	// iface in its current alternate setting alt.
	pipe(iface, alt int, addr uint8) (pipe, error)
	// serial reads iSerialNumber (used only when sysfs has no serial).
	serial() (string, error)
	close() error
}

// pipe is one endpoint's synchronous transfer: gousb's ReadContext or
// WriteContext. It must call ctx.Done() for the first time only once the
// transfer has been submitted to the OS and before waiting for it (gousb's
// usbTransfer.wait does exactly that); the endpoint queue uses that call to
// keep the bus order of transfers equal to their submission order.
type pipe interface {
	transfer(ctx context.Context, buf []byte) (int, error)
}
