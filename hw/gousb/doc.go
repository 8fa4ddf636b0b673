// Package gousb is dongle's real-hardware backend: hw.Device and hw.Endpoint
// over libusb-1.0 through github.com/google/gousb (cgo).
//
// Import it under a name that does not clash with Google's package, for
// example
//
//	import usbhw "dongle/hw/gousb"
//
//	ctx, err := usbhw.Open()
//	sel, err := usbhw.ParseSelector("0b95:1790") // or "1.4", "serial=00A1B2"
//	dev, err := ctx.OpenDevice(sel)
//
// # Layers
//
// Everything with logic in it (enumeration and matching, selectors, claim
// bookkeeping, the transfer queue, error mapping) talks to libusb through a
// small unexported seam (lib, handle, pipe, xfers in seam.go). libusb.go is the only
// file that implements the seam with gousb and a few direct libusb calls; the
// unit tests run the rest against a fake of the seam, so `go test` needs no
// device (the real path is exercised in the virtual lab, see integration_test.go).
//
//	Context ──List/OpenDevice──► Device ──OpenEndpoint──► Endpoint ──► transfers
//	   │                          │                          │           │
//	   └──────── lib ─────────────┴──────── handle ──────────┴── pipe ───┘  (seam)
//	                              libusb.go: gousb + libusb_* via cgo
//
// # Why some calls bypass gousb
//
// gousb v1.1.3 has no ClearHalt, changes alternate settings only by
// releasing and re-claiming an interface (which, with auto-detach, lets the
// kernel driver bind in between), refuses Reset while a configuration is
// claimed, and formats claim/SetConfiguration errors with %v so the libusb
// status is lost. Those operations call libusb directly on gousb's device
// handle (read once from the unexported gousb.Device.handle field; a test
// pins that layout). Enumeration, open, control transfers and the event loop
// are gousb's.
//
// # Bulk and interrupt transfers
//
// gousb's ReadContext/WriteContext allocate a libusb_transfer, a C buffer, a
// channel and a finaliser per call, and arm a libusb timer for each. The
// default path (xfer.go, async.go) does neither: every endpoint owns
// Options.Workers persistent libusb_transfers with C buffers (data is
// copied in and out, so C never holds a Go pointer), submits them with
// timeout 0 (cancellation is libusb_cancel_transfer), and the transfer
// callback, on the thread that handles libusb's events (gousb's event
// goroutine, or a synchronous control transfer's caller while it waits),
// records each finished transfer in a C ring of the endpoint's. Whoever
// waits for or submits to the endpoint reaps the ring from Go with atomic
// loads, no cgo call; the callback calls into Go only for the first
// completion after the endpoint has taken everything, to wake it
// (Notify's fn, or Wait).
// No thread of the endpoint's own is woken. Submit holds the endpoint's
// lock across libusb_submit_transfer, so bus order is submission order;
// Wait returns transfers in that order. Options.Sync keeps the old path (a
// goroutine per in-flight transfer calling gousb).
//
// Why the callback stays in C: per transfer, the submit ioctl and libusb's
// event handling are the costs nothing can remove, and the rest is
// crossings and wake-ups. gousb's event goroutine sits in a cgo call
// (libusb_handle_events) whose P the scheduler hands to other goroutines,
// so a call from the callback into Go has to get a P back first; under
// the lab's TCG guests that costs more than usbfs's work for the transfer
// (the libusb floor, cmd/dongleblast, measures a C loop without it). One
// call per batch, not per transfer, and no goroutine between the event
// thread and the reaper: the reaper's own poll is where the work happens.
//
// The price is lock order. The event thread holds libusb's event and
// device-list locks while the wake-up waits for an endpoint's lock, so
// whoever holds an endpoint's lock must not handle libusb events: no
// synchronous libusb call under it, and no Device lock (whose holder may be
// in a control transfer, handling events). And a Submit that holds its
// endpoint's lock across the submit ioctl, or a reap that copies IN data
// under it, holds back the event thread meanwhile if that endpoint's
// wake-up comes then (once a batch). Transfers
// queued behind Workers busy ones start when a reap frees an xfer, not
// from the callback.
//
// # Kernel drivers
//
// Auto-detach is enabled on every handle (libusb_set_auto_detach_kernel_driver):
// claiming an interface detaches its kernel driver (cdc_ether, asix,
// ax88179_178a) and releasing it re-attaches it, as libusb documents for
// libusb_release_interface. That re-attaches only the released interface,
// so once the last claimed interface is released the backend also
// re-attaches every other interface that lost its driver meanwhile (a
// driver like cdc_ether binds the control and data interfaces together;
// claiming the data interface alone unbinds both). Changing the configuration needs every interface
// of the old one free, so SetConfiguration detaches all of them explicitly;
// those are re-attached on Close. Whether a driver is attached is read from
// sysfs (/sys/bus/usb/devices/<port>:<config>.<iface>/driver) during List,
// because libusb_kernel_driver_active needs an open handle, and opening
// every device on the bus needs permissions List should not.
//
// # USB/IP
//
// An adapter on another host reaches this one through the kernel's USB/IP:
// the other host exports it (usbip-host, usbipd), this one attaches it
// (usbip attach, vhci_hcd), and libusb sees it as any other device. List
// says which devices those are (Candidate.USBIP, read from sysfs and the
// records usbip attach leaves in /var/run/vhci_hcd; usbip.go): one behind
// vhci_hcd is Imported, with its vhci port and, where the tools recorded
// it, the exporting host, usbipd's TCP port and its bus ID there. A device
// of this host bound to usbip-host is Exported: it keeps its VID:PID here
// but belongs to the host that attaches it, so Find never chooses it (a
// lab that exports and attaches on one host, as the virtual lab does,
// sees the same VID:PID twice).
package gousb
