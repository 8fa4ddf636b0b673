package hw

import (
	"errors"
	"fmt"
)

// Errno is a transfer or request status, the same on every backend. The
// values are stable so that they can be logged and compared; they follow the
// libusb status codes where one exists.
type Errno int

// The statuses a backend reports. A backend maps its native status onto
// exactly one of these; anything it cannot map is ErrIO.
const (
	ErrIO           Errno = 1  // input/output error (LIBUSB_ERROR_IO)
	ErrInvalid      Errno = 2  // invalid parameter
	ErrAccess       Errno = 3  // access denied (insufficient permissions)
	ErrNoDevice     Errno = 4  // no such device: unplugged or gone
	ErrNotFound     Errno = 5  // entity not found
	ErrBusy         Errno = 6  // resource busy (claimed elsewhere, or still in use)
	ErrTimeout      Errno = 7  // operation timed out
	ErrOverflow     Errno = 8  // overflow/babble: the device sent more than asked
	ErrStall        Errno = 9  // pipe error: endpoint halted or request stalled
	ErrInterrupted  Errno = 10 // system call interrupted
	ErrNoMem        Errno = 11 // out of memory
	ErrNotSupported Errno = 12 // operation not supported by this backend or device
	ErrCancelled    Errno = 13 // transfer cancelled
	ErrShort        Errno = 14 // control IN returned fewer bytes than the caller needs
	ErrClosed       Errno = 15 // object already closed
)

var errnoText = map[Errno]string{
	ErrIO:           "input/output error",
	ErrInvalid:      "invalid parameter",
	ErrAccess:       "access denied",
	ErrNoDevice:     "no such device (unplugged?)",
	ErrNotFound:     "not found",
	ErrBusy:         "resource busy",
	ErrTimeout:      "timed out",
	ErrOverflow:     "overflow (babble)",
	ErrStall:        "stall (pipe error)",
	ErrInterrupted:  "interrupted",
	ErrNoMem:        "out of memory",
	ErrNotSupported: "not supported",
	ErrCancelled:    "cancelled",
	ErrShort:        "short control read",
	ErrClosed:       "already closed",
}

func (e Errno) Error() string {
	if s, ok := errnoText[e]; ok {
		return s
	}
	return fmt.Sprintf("usb error %d", int(e))
}

// Error is a failure on a named object: "1-2 0b95:1790: bulk IN 0x82: stall".
type Error struct {
	Object string // the device, endpoint or request that failed
	Err    error  // usually an Errno
}

func (e *Error) Error() string { return e.Object + ": " + e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// Errorf wraps err (usually an Errno) with the name of the object that failed.
func Errorf(object string, err error) error {
	if err == nil {
		return nil
	}
	return &Error{Object: object, Err: err}
}

// StatusOf returns the Errno carried by err, or 0 if err is nil, or ErrIO if
// err carries none.
func StatusOf(err error) Errno {
	if err == nil {
		return 0
	}
	var e Errno
	if errors.As(err, &e) {
		return e
	}
	return ErrIO
}
