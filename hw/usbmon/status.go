package usbmon

import "dongle/hw"

// Linux errno values usbmon statuses carry (negated), from
// include/uapi/asm-generic/errno*.h and Documentation/driver-api/usb/error-codes.rst.
const (
	ENOENT      = 2   // URB killed (usb_kill_urb)
	EINTR       = 4   //
	ENOMEM      = 12  //
	EACCES      = 13  //
	EBUSY       = 16  //
	ENODEV      = 19  // device gone (submission)
	EINVAL      = 22  //
	EPIPE       = 32  // endpoint stalled
	ETIME       = 62  // no response (host controller timeout)
	EPROTO      = 71  // bitstuff / CRC / protocol error
	EILSEQ      = 84  // CRC mismatch
	EOVERFLOW   = 75  // babble: more data than the buffer
	EOPNOTSUPP  = 95  //
	ECONNRESET  = 104 // URB unlinked (usb_unlink_urb)
	ESHUTDOWN   = 108 // device or host controller gone
	ETIMEDOUT   = 110 // usb_control_msg / libusb timeout
	EREMOTEIO   = 121 // short read with URB_SHORT_NOT_OK; QEMU: any failure
	EAGAIN      = 11
	EXDEV       = 18  // iso partially completed
	EINPROGRESS = 115 // a submission in flight (usbmon logs it on every 'S')
)

// StatusOf is the usbmon status (0 or a negative errno) a Linux host would
// log for a transfer that ended with err. Cancellation is -ENOENT, as after
// usb_kill_urb; anything without a closer match is -EPROTO.
func StatusOf(err error) int32 {
	if err == nil {
		return 0
	}
	switch hw.StatusOf(err) {
	case hw.ErrStall:
		return -EPIPE
	case hw.ErrNoDevice:
		return -ENODEV
	case hw.ErrTimeout:
		return -ETIMEDOUT
	case hw.ErrOverflow:
		return -EOVERFLOW
	case hw.ErrCancelled:
		return -ENOENT
	case hw.ErrInterrupted:
		return -EINTR
	case hw.ErrNoMem:
		return -ENOMEM
	case hw.ErrInvalid:
		return -EINVAL
	case hw.ErrAccess:
		return -EACCES
	case hw.ErrBusy:
		return -EBUSY
	case hw.ErrNotSupported:
		return -EOPNOTSUPP
	case hw.ErrShort:
		return -EREMOTEIO
	case hw.ErrClosed:
		return -ESHUTDOWN
	case hw.ErrNotFound:
		return -ENOENT
	}
	return -EPROTO
}

// ErrnoOf maps a usbmon status back onto hw's statuses (0 for success).
// -EREMOTEIO is read as a stall because QEMU logs every failure, the
// stall of an unsupported request included, with that status; -ENOENT and
// -ECONNRESET are cancellations; -ESHUTDOWN and -ENODEV a gone device.
func ErrnoOf(status int32) hw.Errno {
	switch -status {
	case 0:
		return 0
	case EPIPE, EREMOTEIO:
		return hw.ErrStall
	case ENODEV, ESHUTDOWN:
		return hw.ErrNoDevice
	case ETIMEDOUT, ETIME:
		return hw.ErrTimeout
	case EOVERFLOW:
		return hw.ErrOverflow
	case ENOENT, ECONNRESET:
		return hw.ErrCancelled
	case EINTR:
		return hw.ErrInterrupted
	case ENOMEM:
		return hw.ErrNoMem
	case EINVAL:
		return hw.ErrInvalid
	case EACCES:
		return hw.ErrAccess
	case EBUSY:
		return hw.ErrBusy
	case EOPNOTSUPP:
		return hw.ErrNotSupported
	}
	return hw.ErrIO
}
