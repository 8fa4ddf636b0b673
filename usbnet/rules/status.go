package rules

import (
	"fmt"

	"dongle/hw/usbmon"
)

// Linux URB statuses, negated errnos (see hw/usbmon).
const (
	stENOENT     = -usbmon.ENOENT
	stECONNRESET = -usbmon.ECONNRESET
	stENODEV     = -usbmon.ENODEV
	stESHUTDOWN  = -usbmon.ESHUTDOWN
	stEPIPE      = -usbmon.EPIPE
	stEPROTO     = -usbmon.EPROTO
	stEILSEQ     = -usbmon.EILSEQ
	stEOVERFLOW  = -usbmon.EOVERFLOW
	stETIMEDOUT  = -usbmon.ETIMEDOUT
	stETIME      = -usbmon.ETIME
	stEREMOTEIO  = -usbmon.EREMOTEIO
)

// cancelled: usb_kill_urb's -ENOENT or usb_unlink_urb's -ECONNRESET.
func cancelled(st int32) bool { return st == stENOENT || st == stECONNRESET }

// gone: the device or its host controller went away.
func gone(st int32) bool { return st == stENODEV || st == stESHUTDOWN }

// statusName reads "-71 EPROTO".
func statusName(st int32) string {
	n := map[int32]string{
		stENOENT: "ENOENT", stECONNRESET: "ECONNRESET", stENODEV: "ENODEV", stESHUTDOWN: "ESHUTDOWN",
		stEPIPE: "EPIPE", stEPROTO: "EPROTO", stEILSEQ: "EILSEQ", stEOVERFLOW: "EOVERFLOW",
		stETIMEDOUT: "ETIMEDOUT", stETIME: "ETIME", stEREMOTEIO: "EREMOTEIO",
	}[st]
	if n == "" {
		return fmt.Sprintf("%d", st)
	}
	return fmt.Sprintf("%d %s", st, n)
}
