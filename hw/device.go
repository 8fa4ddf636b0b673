package hw

import (
	"context"
	"fmt"
)

// Speed is the speed the device enumerated at.
type Speed int

const (
	SpeedUnknown   Speed = iota
	SpeedLow             // 1.5 Mbit/s
	SpeedFull            // 12 Mbit/s, 64-byte bulk packets
	SpeedHigh            // 480 Mbit/s, 512-byte bulk packets
	SpeedSuper           // 5 Gbit/s, 1024-byte bulk packets
	SpeedSuperPlus       // 10 Gbit/s
)

func (s Speed) String() string {
	switch s {
	case SpeedLow:
		return "low"
	case SpeedFull:
		return "full"
	case SpeedHigh:
		return "high"
	case SpeedSuper:
		return "super"
	case SpeedSuperPlus:
		return "super+"
	}
	return "unknown"
}

// Info identifies a device on its bus. It is known before the device is
// opened and never changes while it is open.
type Info struct {
	Bus     int    // bus number (0 where the backend has none, as in QEMU's captures)
	Address int    // device address on the bus
	Port    string // port path, "1-2.3", where known
	Vendor  uint16
	Product uint16
	Speed   Speed
	Serial  string // iSerialNumber, where cheaply known
	Backend string // "usb", "sim:ecm", "trace:FILE", ...
}

// Name is how errors and logs refer to the device: "bus 1 addr 2 (0b95:1790)".
func (i Info) Name() string {
	return fmt.Sprintf("bus %d addr %d (%04x:%04x)", i.Bus, i.Address, i.Vendor, i.Product)
}

// Device is an open USB device. All methods are safe for concurrent use.
//
// Descriptors are read with Control (GET_DESCRIPTOR), like any other request,
// so that every backend (including a replayed trace) answers them the same
// way; see ReadDeviceDescriptor, ReadConfig and ReadString.
type Device interface {
	// Info identifies the device.
	Info() Info

	// Control performs a control transfer on endpoint 0. For an IN request
	// (setup.RequestType&0x80 != 0) data receives at most len(data) bytes
	// and n is how many arrived; for OUT, data is sent. setup.Length is
	// ignored: len(data) is used.
	Control(ctx context.Context, setup Setup, data []byte) (n int, err error)

	// Configuration returns the active configuration value (0: unconfigured).
	Configuration() (int, error)
	// SetConfiguration selects a configuration. It fails with ErrBusy while
	// any interface is claimed.
	SetConfiguration(value int) error

	// Claim claims an interface of the active configuration, detaching a
	// kernel driver first where the backend has one (it is reattached when
	// the interface is released).
	Claim(iface int) error
	// Release releases a claimed interface. It fails with ErrBusy while an
	// endpoint of the interface is open.
	Release(iface int) error
	// SetAlt selects an alternate setting of a claimed interface.
	SetAlt(iface, alt int) error

	// OpenEndpoint opens an endpoint of a claimed interface's current
	// alternate setting by address (bit 7 set for IN).
	OpenEndpoint(addr uint8) (Endpoint, error)

	// ClearHalt clears a halt (stall) condition on an endpoint.
	ClearHalt(addr uint8) error

	// Reset performs a USB port reset. Claimed interfaces stay claimed.
	Reset() error

	// Close closes the device. It fails with ErrBusy, closing nothing, while
	// an interface is claimed.
	Close() error
}

// Endpoint is an open bulk or interrupt endpoint.
type Endpoint interface {
	// Desc is the endpoint's descriptor.
	Desc() EndpointDesc

	// Submit queues t. The backend owns t (and t.Buf) until Wait returns it.
	// For IN, up to len(t.Buf) bytes are read; for OUT, t.Buf is sent, and
	// a zero-length t.Buf sends a zero-length packet. Submit fails (and the
	// caller keeps t) if the endpoint is closed or the device is gone.
	Submit(t *Transfer) error

	// Wait returns the oldest submitted transfer once it has completed,
	// with t.N and t.Err set. It returns ctx.Err() if ctx ends first (the
	// transfer stays in flight), and ErrNotFound if nothing is in flight.
	// It is WaitBatch with room for one.
	Wait(ctx context.Context) (*Transfer, error)

	// WaitBatch is Wait for every transfer already done: it blocks until
	// the oldest submitted transfer has completed, then puts it and each
	// following transfer that has completed too, up to len(out), in
	// out[:n], oldest first, and stops at the first one still pending.
	// Its errors are Wait's (n is 0 then, and nothing is reaped). It
	// panics if out is empty (a programming error). A wrapper forwards it
	// to the endpoint it wraps, so that what that endpoint completed in
	// one go reaches the caller in one go (see the package doc).
	//
	// A ctx that is already done makes WaitBatch a poll: it never blocks,
	// returning the done run at the head, or ctx.Err() while the oldest
	// transfer is still pending (and ErrNotFound with nothing in flight).
	WaitBatch(ctx context.Context, out []*Transfer) (n int, err error)

	// Notify makes the endpoint call fn when transfers complete: the
	// completion handler of Linux's URBs, handing nothing over. fn is
	// called when the done run at the head of the queue grows (the
	// oldest transfer completes, or Cancel completes it) after the caller
	// has taken all there was: after a WaitBatch that left the head
	// pending or nothing in flight, the next completion calls fn, so a
	// poll (WaitBatch with a done ctx) made after the call returns that
	// run. An endpoint may call fn for every completion, or only for the
	// first of a batch (hw/gousb: the event thread calls into Go once a
	// batch), so the caller relies on neither: after each call of fn it
	// polls until a poll returns nothing (a wrapper may return fewer than
	// out holds while more is done). A transfer that completes behind a
	// pending one calls fn when the pending one does, provided the caller
	// polled after the last call; fn may also be called when there is
	// nothing new. What completed before fn was set went to the old fn (or
	// to nobody): a caller that sets fn with transfers in flight polls once
	// after it (hw/gousb calls the new fn at once if something is there to
	// take). fn runs on whatever completes the transfer (libusb's event
	// thread, a synchronous control transfer's caller handling libusb's
	// events, a model's goroutine, the caller of Submit, Cancel, WaitBatch
	// or Notify) with the endpoint's or the device's lock held, so it must
	// not block and must not call the endpoint or its device: it only
	// wakes the caller's reaper (see the package doc). nil stops the calls. A wrapper that holds completions
	// back from WaitBatch must hold back the call too, and call fn when it
	// lets them go.
	Notify(fn func())

	// Cancel asks the backend to complete every transfer in flight as soon
	// as possible; those not yet done complete with ErrCancelled. It does
	// not wait: call Wait to reap them.
	Cancel()

	// InFlight is the number of submitted transfers not yet returned by Wait.
	InFlight() int

	// Close closes the endpoint. It fails with ErrBusy while transfers are
	// in flight.
	Close() error
}

// Transfer is one bulk or interrupt transfer (an URB). The caller allocates
// it and may reuse it once Wait has returned it; nothing in it is retained
// by the backend after that.
type Transfer struct {
	// Buf is the data to send (OUT) or the space to receive into (IN).
	Buf []byte
	// N is the number of bytes transferred, set on completion.
	N int
	// Err is the completion status: nil, or an error wrapping an Errno.
	Err error
	// Cookie is the caller's, untouched by the backend.
	Cookie any
}

// Data returns the bytes transferred: Buf[:N].
func (t *Transfer) Data() []byte { return t.Buf[:t.N] }
