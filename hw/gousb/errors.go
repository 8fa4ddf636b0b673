package gousb

import (
	"context"
	"errors"
	"fmt"

	libusb "github.com/google/gousb"

	"dongle/hw"
)

// Errno maps a libusb status (a gousb.Error from a synchronous call or a
// gousb.TransferStatus from a completed transfer) onto the backend-neutral
// hw.Errno. A context error maps to ErrCancelled (cancel) or ErrTimeout
// (deadline); anything else is ErrIO.
//
//	libusb                         hw
//	TRANSFER_STALL, ERROR_PIPE     ErrStall
//	TRANSFER_NO_DEVICE, ERROR_NO_DEVICE  ErrNoDevice
//	TRANSFER_TIMED_OUT, ERROR_TIMEOUT    ErrTimeout
//	TRANSFER_OVERFLOW, ERROR_OVERFLOW    ErrOverflow
//	TRANSFER_CANCELLED             ErrCancelled
//	TRANSFER_ERROR, ERROR_IO, ERROR_OTHER ErrIO
//	ERROR_ACCESS / BUSY / NOT_FOUND / NOT_SUPPORTED / INVALID_PARAM /
//	INTERRUPTED / NO_MEM           ErrAccess / ErrBusy / ErrNotFound / ...
func Errno(err error) hw.Errno {
	if err == nil {
		return 0
	}
	var he hw.Errno
	if errors.As(err, &he) {
		return he
	}
	var ts libusb.TransferStatus
	if errors.As(err, &ts) {
		switch ts {
		case libusb.TransferStall:
			return hw.ErrStall
		case libusb.TransferNoDevice:
			return hw.ErrNoDevice
		case libusb.TransferTimedOut:
			return hw.ErrTimeout
		case libusb.TransferOverflow:
			return hw.ErrOverflow
		case libusb.TransferCancelled:
			return hw.ErrCancelled
		}
		return hw.ErrIO
	}
	var le libusb.Error
	if errors.As(err, &le) {
		switch le {
		case libusb.ErrorInvalidParam:
			return hw.ErrInvalid
		case libusb.ErrorAccess:
			return hw.ErrAccess
		case libusb.ErrorNoDevice:
			return hw.ErrNoDevice
		case libusb.ErrorNotFound:
			return hw.ErrNotFound
		case libusb.ErrorBusy:
			return hw.ErrBusy
		case libusb.ErrorTimeout:
			return hw.ErrTimeout
		case libusb.ErrorOverflow:
			return hw.ErrOverflow
		case libusb.ErrorPipe:
			return hw.ErrStall
		case libusb.ErrorInterrupted:
			return hw.ErrInterrupted
		case libusb.ErrorNoMem:
			return hw.ErrNoMem
		case libusb.ErrorNotSupported:
			return hw.ErrNotSupported
		}
		return hw.ErrIO
	}
	switch {
	case errors.Is(err, context.Canceled):
		return hw.ErrCancelled
	case errors.Is(err, context.DeadlineExceeded):
		return hw.ErrTimeout
	}
	return hw.ErrIO
}

// usbError is the cause inside an *hw.Error: the hw.Errno every backend
// reports, the libusb error it came from, and what a person can do about it.
// errors.Is(err, hw.ErrStall) and errors.As(err, &gousb.Error) both work.
type usbError struct {
	errno hw.Errno
	cause error  // libusb's own error, or nil
	hint  string // "install the udev rule ...", or ""
}

func (e *usbError) Error() string {
	s := e.errno.Error()
	if e.cause != nil && e.cause.Error() != s {
		s += " (" + e.cause.Error() + ")"
	}
	if e.hint != "" {
		s += ": " + e.hint
	}
	return s
}

func (e *usbError) Unwrap() []error {
	if e.cause == nil {
		return []error{e.errno}
	}
	return []error{e.errno, e.cause}
}

// wrap names object and maps err; nil stays nil.
func wrap(object string, err error) error {
	return wrapHint(object, err, "")
}

func wrapHint(object string, err error, hint string) error {
	if err == nil {
		return nil
	}
	en := Errno(err)
	var cause error
	if _, ok := err.(hw.Errno); !ok {
		cause = err
	}
	return hw.Errorf(object, &usbError{errno: en, cause: cause, hint: hint})
}

// DevNode is the usbfs node of a device: /dev/bus/usb/BBB/DDD. Permission
// problems are about this file.
func DevNode(bus, addr int) string {
	return fmt.Sprintf("/dev/bus/usb/%03d/%03d", bus, addr)
}

// openHint says what to do about a failed open.
func openHint(info hw.Info, en hw.Errno) string {
	switch en {
	case hw.ErrAccess:
		return fmt.Sprintf("no permission to open %s; install dongle's udev rule "+
			"(`dongle udev | sudo tee /etc/udev/rules.d/70-dongle.rules && sudo udevadm control --reload && sudo udevadm trigger`), "+
			"make sure you are in group plugdev, and replug the adapter (or run as root)", DevNode(info.Bus, info.Address))
	case hw.ErrBusy:
		return "the device is in use by another program"
	case hw.ErrNoDevice:
		return "the device was unplugged or re-enumerated; list devices again"
	}
	return ""
}

// claimHint says what to do about a failed claim.
func claimHint(en hw.Errno, node string) string {
	switch en {
	case hw.ErrBusy:
		return "another process has claimed this interface (another dongle, or a libusb program such as a VM's USB passthrough); " +
			"find it with `fuser -v " + node + "`"
	case hw.ErrAccess:
		return "no permission on " + node + "; install dongle's udev rule (`dongle udev`)"
	}
	return ""
}
