package record

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"dongle/hw"
	"dongle/hw/usbmon"
)

// IDTag is the high half of every URB id dongle writes (see the package doc).
const IDTag uint64 = 0x646f6e67 << 32

// IsTagged reports whether id carries dongle's mark.
func IsTagged(id uint64) bool { return id&0xffffffff00000000 == IDTag && id != IDTag }

// Recorded reports whether a trace was written by dongle's recorder: it has
// records and every one carries the mark.
func Recorded(recs []usbmon.Record) bool {
	if len(recs) == 0 {
		return false
	}
	for i := range recs {
		if !IsTagged(recs[i].ID) {
			return false
		}
	}
	return true
}

// Options tune a recorder.
type Options struct {
	// Now is the clock for timestamps; time.Now if nil (tests pin it).
	Now func() time.Time
}

// Device records every transfer of the hw.Device it wraps. It is itself an
// hw.Device, safe for concurrent use like any.
type Device struct {
	dev  hw.Device
	info hw.Info
	now  func() time.Time

	mu     sync.Mutex // guards everything below; records are written in order under it
	w      *usbmon.Writer
	bw     *bufio.Writer
	file   io.Closer // closed by Close if Create opened it
	nextID uint64
	err    error // first write error, sticky
	closed bool
}

var _ hw.Device = (*Device)(nil)

// New starts recording dev to w (a pcap header is written at once).
func New(dev hw.Device, w io.Writer, opts Options) (*Device, error) {
	bw := bufio.NewWriter(w)
	uw, err := usbmon.NewWriter(bw)
	if err != nil {
		return nil, fmt.Errorf("record: %w", err)
	}
	d := &Device{dev: dev, info: dev.Info(), now: opts.Now, w: uw, bw: bw}
	if d.now == nil {
		d.now = time.Now
	}
	return d, d.Flush()
}

// Create starts recording dev to a new file at path; Close closes it.
func Create(dev hw.Device, path string, opts Options) (*Device, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("record: %w", err)
	}
	d, err := New(dev, f, opts)
	if err != nil {
		f.Close()
		return nil, err
	}
	d.file = f
	return d, nil
}

// Unwrap returns the recorded device.
func (d *Device) Unwrap() hw.Device { return d.dev }

// Flush writes buffered records out.
func (d *Device) Flush() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.flushLocked()
}

func (d *Device) flushLocked() error {
	if d.err == nil && !d.closed {
		if err := d.bw.Flush(); err != nil {
			d.err = fmt.Errorf("record: %w", err)
		}
	}
	return d.err
}

// Err is the first error writing the trace, if any. Recording errors never
// fail the driver's transfers; they are reported here and by Flush/Close.
func (d *Device) Err() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.err
}

// emit writes a record; called with d.mu held.
func (d *Device) emit(r *usbmon.Record) {
	if d.err != nil || d.closed {
		return
	}
	r.Device, r.Bus = uint8(d.info.Address), uint16(d.info.Bus)
	r.SetTime(d.now())
	if err := d.w.Write(r); err != nil {
		d.err = fmt.Errorf("record: %w", err)
	}
}

// submit logs an 'S' and returns the URB's id.
func (d *Device) submit(r *usbmon.Record) uint64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.nextID++
	r.ID = IDTag | d.nextID&0xffffffff
	r.Type = usbmon.Submit
	d.emit(r)
	return r.ID
}

// complete logs the 'C' (or 'E') of URB id.
func (d *Device) complete(r *usbmon.Record) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.emit(r)
}

// controlURB logs and performs one control transfer; do runs it.
func (d *Device) controlURB(s hw.Setup, data []byte, do func() (int, error)) (int, error) {
	in := s.In()
	ep := uint8(0)
	if in {
		ep = 0x80
	}
	sub := usbmon.Record{XferType: usbmon.XferControl, Endpoint: ep, FlagSetup: usbmon.FlagPresent, Setup: s.Bytes(), Length: uint32(s.Length)}
	if in {
		sub.FlagData = usbmon.FlagDataIn
	} else {
		sub.Data = data
	}
	id := d.submit(&sub)
	n, err := do()
	c := usbmon.Record{ID: id, Type: usbmon.Complete, XferType: usbmon.XferControl, Endpoint: ep, FlagSetup: usbmon.FlagNoSetup,
		Status: usbmon.StatusOf(err), Length: uint32(max(n, 0))}
	if in && n > 0 && n <= len(data) {
		c.Data = data[:n]
	} else if !in {
		c.FlagData = usbmon.FlagDataOut
	}
	d.complete(&c)
	return n, err
}

// standardURB logs the control URB a SetConfiguration, SetAlt or ClearHalt
// that has already returned err put on the bus. Refusals the host makes
// without sending anything (usbfs' -EBUSY while interfaces are claimed, an
// unknown configuration or interface, a closed device) are not logged:
// the kernel would not have logged them either, and a replay must not
// expect them on the wire.
func (d *Device) standardURB(s hw.Setup, err error) error {
	if err != nil {
		switch hw.StatusOf(err) {
		case hw.ErrBusy, hw.ErrNotFound, hw.ErrClosed, hw.ErrInvalid, hw.ErrAccess, hw.ErrNotSupported:
			return err
		}
	}
	d.controlURB(s, nil, func() (int, error) { return 0, err })
	return err
}

// Info is the wrapped device's.
func (d *Device) Info() hw.Info { return d.info }

// Control performs and logs a control transfer.
func (d *Device) Control(ctx context.Context, s hw.Setup, data []byte) (int, error) {
	s.Length = uint16(len(data))
	return d.controlURB(s, data, func() (int, error) { return d.dev.Control(ctx, s, data) })
}

// Configuration is passed through (libusb answers it from its cache; no URB).
func (d *Device) Configuration() (int, error) { return d.dev.Configuration() }

// SetConfiguration is logged as SET_CONFIGURATION.
func (d *Device) SetConfiguration(value int) error {
	s := hw.Setup{RequestType: hw.DirOut | hw.TypeStandard | hw.RecipDevice, Request: hw.ReqSetConfiguration, Value: uint16(value)}
	return d.standardURB(s, d.dev.SetConfiguration(value))
}

// Claim is passed through: claiming puts nothing on the bus.
func (d *Device) Claim(iface int) error { return d.dev.Claim(iface) }

// Release is passed through.
func (d *Device) Release(iface int) error { return d.dev.Release(iface) }

// SetAlt is logged as SET_INTERFACE.
func (d *Device) SetAlt(iface, alt int) error {
	s := hw.Setup{RequestType: hw.DirOut | hw.TypeStandard | hw.RecipInterface, Request: hw.ReqSetInterface, Value: uint16(alt), Index: uint16(iface)}
	return d.standardURB(s, d.dev.SetAlt(iface, alt))
}

// FeatureEndpointHalt is the ENDPOINT_HALT feature selector (USB 2.0 table 9-6).
const FeatureEndpointHalt = 0

// ClearHalt is logged as CLEAR_FEATURE(ENDPOINT_HALT).
func (d *Device) ClearHalt(addr uint8) error {
	s := hw.Setup{RequestType: hw.DirOut | hw.TypeStandard | hw.RecipEndpoint, Request: hw.ReqClearFeature, Value: FeatureEndpointHalt, Index: uint16(addr)}
	return d.standardURB(s, d.dev.ClearHalt(addr))
}

// Reset is passed through (a port reset is not an URB).
func (d *Device) Reset() error { return d.dev.Reset() }

// OpenEndpoint opens the endpoint on the wrapped device and returns a
// recording Endpoint around it.
func (d *Device) OpenEndpoint(addr uint8) (hw.Endpoint, error) {
	ep, err := d.dev.OpenEndpoint(addr)
	if err != nil {
		return nil, err
	}
	return &Endpoint{d: d, ep: ep, desc: ep.Desc(), xt: usbmon.XferTypeOf(ep.Desc().Type())}, nil
}

// Close closes the wrapped device; if that succeeds it flushes the trace
// and closes the file Create opened. A failed Close (ErrBusy) leaves the
// recording going.
func (d *Device) Close() error {
	if err := d.dev.Close(); err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	err := d.flushLocked()
	d.closed = true
	if d.file != nil {
		if cerr := d.file.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("record: %w", cerr)
		}
		d.file = nil
	}
	return err
}
