// Package hw is the one seam between dongle's drivers and a USB device.
//
// Every backend (the real libusb backend in hw/gousb, the trace replayers in
// hw/replay, the device models in hw/sim, and the same gousb backend inside
// the virtual lab) implements Device and Endpoint. The seam is deliberately
// as thin as gousb's libusb.go: it moves bytes and reports status, and holds
// no policy. Retrying, clearing halts, ZLP decisions and framing all live in
// usbnet and its minidrivers, so that every backend is exercised by exactly
// the same driver code.
//
// # Ownership
//
// Ownership is visible and nested, as in gousb:
//
//	Device ──Claim──► interface number ──OpenEndpoint──► Endpoint ──Submit──► *Transfer
//	  Close            Release                          Close                Wait
//
// Closing an owner while something it owns is still open or in flight is a
// programming error reported as ErrBusy (Device.Close with a claimed
// interface, Endpoint.Close with transfers in flight): nothing is torn down
// behind a driver's back.
//
// # Transfers
//
// A Transfer is an URB: the caller owns Buf, hands it to the backend with
// Submit, and gets it back from Wait in submission order. Several transfers
// may be in flight per endpoint. Transfer boundaries are kept: one completed
// IN transfer is exactly what the device sent up to a short packet (or a
// full Buf), so framing parsers can see where each transfer ended.
//
// # Errors
//
// Transfer and request failures are reported as *Error values that wrap one
// of the Errno sentinels (ErrStall, ErrNoDevice, ...), so errors.Is works on
// every backend, and that name the object (device, endpoint, request) that
// failed.
package hw
