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
	// pipe returns the synchronous transfer path of endpoint addr of
	// claimed interface iface in its current alternate setting alt
	// (Options.Sync).
	pipe(iface, alt int, addr uint8) (pipe, error)
	// xfers returns n persistent asynchronous transfers on endpoint ep of
	// claimed interface iface in its current alternate setting alt (the
	// default path), whose completions call wake as xfers says.
	xfers(iface, alt int, ep hw.EndpointDesc, n int, wake func()) (xfers, error)
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

// xfers is one endpoint's set of n persistent asynchronous transfers
// (libusb_transfer objects with their own buffers), numbered 0..n-1. The
// endpoint queue decides which transfer carries which hw.Transfer; xfers
// only moves bytes and keeps completions until the endpoint reaps them:
//
//	submit(i, buf) ──► OS ──► completion: kept ─┬─ reap(done) ──► done(i, n, err)   (the endpoint's
//	                                             └─ wake(), if armed                  caller, its lock held)
//	                                                (the backend's event thread)
//
// submit, cancel, reap and arm are called with the endpoint's lock held
// (so bus order is submission order, and one caller reaps at a time). wake
// runs on whatever thread handles the backend's events (libusb's: gousb's
// event goroutine, or a synchronous control transfer's caller, inside the
// transfer callback), with libusb's locks held, and takes the endpoint's
// lock, so none of the four may wait for or handle events. It is called
// for the first completion after arm, and not again until the next arm:
// the endpoint arms when it has reaped everything and waits for more, so
// the event thread calls into Go once per batch, not once per transfer.
type xfers interface {
	// submit starts transfer i, which is idle, with buf: OUT data is sent
	// (an empty buf is a zero-length packet); IN data is received into buf
	// by the time reap reports i (buf is the backend's until then). A
	// non-nil error means nothing was submitted and reap will not report
	// i; errors are gousb.Error values.
	submit(i int, buf []byte) error
	// cancel asks the OS to cancel transfer i; reap reports it as usual
	// (cancelled, or with its real status if it finished first).
	// Cancelling an idle or finished transfer does nothing.
	cancel(i int)
	// reap calls done for every completion kept since the last reap, in the
	// order the OS reported them; done may call submit and cancel. Each
	// submitted transfer is reported exactly once, and is idle from then on.
	reap(done func(xferDone))
	// arm makes the next completion call wake. It reports whether none is
	// kept already: false means one came before the arm, maybe with no
	// call (reap it now).
	arm() bool
	// free releases the transfers. The caller frees only once reap has
	// reported every transfer it submitted; free waits for a wake still
	// being made.
	free()
}

// xferDone is one completion: transfer i moved n bytes and ended with err.
type xferDone struct {
	i   int
	n   int
	err error
}
