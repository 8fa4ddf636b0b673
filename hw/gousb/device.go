package gousb

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"dongle/hw"
)

var _ hw.Device = (*Device)(nil)

// Device is an open USB device (hw.Device over libusb).
//
// It keeps the bookkeeping hw's ownership rules need, which libusb does not:
//
//	claimed: interface → current alternate setting
//	eps:     endpoint address → open *Endpoint (of a claimed interface)
//
// Control transfers are serialised (endpoint 0 carries one request at a
// time anyway) so that each one gets its own timeout.
type Device struct {
	ctx  *Context
	h    handle
	info hw.Info
	name string
	opts Options

	ctrlMu sync.Mutex // one control transfer at a time

	mu      sync.Mutex
	claimed map[int]int
	eps     map[uint8]*Endpoint
	configs map[int]*hw.Config // parsed configuration descriptors by bConfigurationValue
	closed  bool
}

// Info identifies the device; Backend is "usb".
func (d *Device) Info() hw.Info { return d.info }

// Node is the device's usbfs node, /dev/bus/usb/BBB/DDD.
func (d *Device) Node() string { return DevNode(d.info.Bus, d.info.Address) }

func (d *Device) checkOpen() error {
	if d.closed {
		return hw.Errorf(d.name, hw.ErrClosed)
	}
	return nil
}

// Control performs a control transfer. libusb's control transfer is
// synchronous and cannot be cancelled, so ctx bounds it through its
// deadline (the timeout is the sooner of the deadline and
// Options.ControlTimeout) and is checked before the transfer starts.
func (d *Device) Control(ctx context.Context, setup hw.Setup, data []byte) (int, error) {
	d.mu.Lock()
	err := d.checkOpen()
	d.mu.Unlock()
	if err != nil {
		return 0, err
	}
	if err := ctx.Err(); err != nil {
		return 0, wrap(d.name+": control "+setup.String(), err)
	}
	timeout := d.opts.ControlTimeout
	if dl, ok := ctx.Deadline(); ok {
		if left := time.Until(dl); left < timeout {
			timeout = max(left, time.Millisecond)
		}
	}
	setup.Length = uint16(len(data))
	d.ctrlMu.Lock()
	n, err := d.h.control(timeout, setup.RequestType, setup.Request, setup.Value, setup.Index, data)
	d.ctrlMu.Unlock()
	if err != nil {
		return max(n, 0), wrap(d.name+": control "+setup.String(), err)
	}
	return n, nil
}

// Configuration returns the active configuration value.
func (d *Device) Configuration() (int, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.checkOpen(); err != nil {
		return 0, err
	}
	v, err := d.h.activeConfig()
	return v, wrap(d.name+": get configuration", err)
}

// SetConfiguration selects a configuration. Every kernel driver bound to
// the old configuration's interfaces is detached first (Linux refuses the
// change otherwise); they are re-attached on Close.
func (d *Device) SetConfiguration(value int) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	obj := fmt.Sprintf("%s: set configuration %d", d.name, value)
	if err := d.checkOpen(); err != nil {
		return err
	}
	if len(d.claimed) > 0 {
		return hw.Errorf(obj, fmt.Errorf("%w: interfaces %v are claimed", hw.ErrBusy, d.claimedList()))
	}
	return wrapHint(obj, d.h.setConfig(value), "")
}

func (d *Device) claimedList() []int {
	var l []int
	for i := range d.claimed {
		l = append(l, i)
	}
	slices.Sort(l)
	return l
}

// Claim claims an interface, detaching its kernel driver (libusb
// auto-detach; the driver is re-attached by Release).
func (d *Device) Claim(iface int) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	obj := fmt.Sprintf("%s: claim interface %d", d.name, iface)
	if err := d.checkOpen(); err != nil {
		return err
	}
	if _, ok := d.claimed[iface]; ok {
		return hw.Errorf(obj, fmt.Errorf("%w: already claimed", hw.ErrBusy))
	}
	if err := d.h.claim(iface); err != nil {
		return wrapHint(obj, err, claimHint(Errno(err), d.Node()))
	}
	d.claimed[iface] = 0
	return nil
}

// Release releases a claimed interface and re-attaches its kernel driver.
func (d *Device) Release(iface int) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	obj := fmt.Sprintf("%s: release interface %d", d.name, iface)
	if err := d.checkOpen(); err != nil {
		return err
	}
	if _, ok := d.claimed[iface]; !ok {
		return hw.Errorf(obj, fmt.Errorf("%w: not claimed", hw.ErrNotFound))
	}
	if eps := d.openEndpoints(iface); len(eps) > 0 {
		return hw.Errorf(obj, fmt.Errorf("%w: endpoints % x still open", hw.ErrBusy, eps))
	}
	err := d.h.release(iface)
	delete(d.claimed, iface) // libusb forgets the claim even when the device is gone
	return wrap(obj, err)
}

func (d *Device) openEndpoints(iface int) []byte {
	var l []byte
	for a, e := range d.eps {
		if e.iface == iface {
			l = append(l, a)
		}
	}
	slices.Sort(l)
	return l
}

// SetAlt selects an alternate setting of a claimed interface. It fails
// with ErrBusy while an endpoint of the interface is open.
func (d *Device) SetAlt(iface, alt int) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	obj := fmt.Sprintf("%s: interface %d alt %d", d.name, iface, alt)
	if err := d.checkOpen(); err != nil {
		return err
	}
	if _, ok := d.claimed[iface]; !ok {
		return hw.Errorf(obj, fmt.Errorf("%w: interface not claimed", hw.ErrInvalid))
	}
	if eps := d.openEndpoints(iface); len(eps) > 0 {
		return hw.Errorf(obj, fmt.Errorf("%w: endpoints % x still open", hw.ErrBusy, eps))
	}
	if err := d.h.setAlt(iface, alt); err != nil {
		return wrap(obj, err)
	}
	d.claimed[iface] = alt
	return nil
}

// OpenEndpoint opens a bulk or interrupt endpoint of a claimed interface's
// current alternate setting. Its descriptor is read from the device
// (GET_DESCRIPTOR(configuration)) the first time, like every backend does.
func (d *Device) OpenEndpoint(addr uint8) (hw.Endpoint, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	obj := fmt.Sprintf("%s: endpoint %#02x", d.name, addr)
	if err := d.checkOpen(); err != nil {
		return nil, err
	}
	if _, ok := d.eps[addr]; ok {
		return nil, hw.Errorf(obj, fmt.Errorf("%w: already open", hw.ErrBusy))
	}
	cfg, err := d.activeConfigDesc()
	if err != nil {
		return nil, hw.Errorf(obj, err)
	}
	iface, alt, desc, ok := d.findEndpoint(cfg, addr)
	if !ok {
		return nil, hw.Errorf(obj, fmt.Errorf("%w: not in the current alternate setting of a claimed interface (claimed: %s)", hw.ErrNotFound, d.claimedDesc(cfg)))
	}
	if t := desc.Type(); t != hw.XferBulk && t != hw.XferInterrupt {
		return nil, hw.Errorf(obj, fmt.Errorf("%w: %s endpoints are not supported", hw.ErrNotSupported, desc))
	}
	e := newEndpoint(d, desc, iface)
	if d.opts.Sync {
		p, err := d.h.pipe(iface, alt, addr)
		if err != nil {
			return nil, wrap(obj, err)
		}
		e.startSync(p, d.opts.Workers)
	} else {
		a := e.newAsync(d.opts.Workers)
		x, err := d.h.xfers(iface, alt, desc, d.opts.Workers, a.wake)
		if err != nil {
			return nil, wrap(obj, err)
		}
		a.x = x
	}
	d.eps[addr] = e
	return e, nil
}

func (d *Device) findEndpoint(cfg *hw.Config, addr uint8) (iface, alt int, desc hw.EndpointDesc, ok bool) {
	for _, in := range cfg.Interfaces {
		cur, claimed := d.claimed[int(in.Number)]
		if !claimed {
			continue
		}
		for _, a := range in.Alts {
			if int(a.Alternate) != cur {
				continue
			}
			for _, e := range a.Endpoints {
				if e.Address == addr {
					return int(in.Number), cur, e, true
				}
			}
		}
	}
	return 0, 0, hw.EndpointDesc{}, false
}

func (d *Device) claimedDesc(cfg *hw.Config) string {
	s := ""
	for _, n := range d.claimedList() {
		s += fmt.Sprintf("[interface %d alt %d:", n, d.claimed[n])
		if in := cfg.Interface(uint8(n)); in != nil {
			for _, a := range in.Alts {
				if int(a.Alternate) == d.claimed[n] {
					for _, e := range a.Endpoints {
						s += fmt.Sprintf(" %#02x", e.Address)
					}
				}
			}
		}
		s += "]"
	}
	if s == "" {
		return "none"
	}
	return s
}

// activeConfigDesc reads (once per configuration) the descriptor set of the
// active configuration. Called with d.mu held.
func (d *Device) activeConfigDesc() (*hw.Config, error) {
	v, err := d.h.activeConfig()
	if err != nil {
		return nil, wrap("get configuration", err)
	}
	if v == 0 {
		return nil, errNoConfig
	}
	if c, ok := d.configs[v]; ok {
		return c, nil
	}
	ctx := context.Background()
	dd, err := hw.ReadDeviceDescriptor(ctx, (*unlocked)(d))
	if err != nil {
		return nil, err
	}
	for i := 0; i < int(dd.NumConfigurations); i++ {
		c, err := hw.ReadConfig(ctx, (*unlocked)(d), uint8(i))
		if err != nil {
			return nil, err
		}
		if d.configs == nil {
			d.configs = make(map[int]*hw.Config)
		}
		d.configs[int(c.Value)] = c
	}
	if c, ok := d.configs[v]; ok {
		return c, nil
	}
	return nil, fmt.Errorf("%w: active configuration %d has no descriptor", hw.ErrNotFound, v)
}

// unlocked lets the descriptor readers in package hw call Control while
// d.mu is held (Control itself takes only ctrlMu and a brief d.mu; this
// view skips the latter).
type unlocked Device

func (u *unlocked) Info() hw.Info { return u.info }
func (u *unlocked) Control(ctx context.Context, s hw.Setup, data []byte) (int, error) {
	d := (*Device)(u)
	d.ctrlMu.Lock()
	defer d.ctrlMu.Unlock()
	n, err := d.h.control(d.opts.ControlTimeout, s.RequestType, s.Request, s.Value, s.Index, data)
	return max(n, 0), wrap(d.name+": control "+s.String(), err)
}
func (u *unlocked) Configuration() (int, error)             { return 0, hw.ErrNotSupported }
func (u *unlocked) SetConfiguration(int) error              { return hw.ErrNotSupported }
func (u *unlocked) Claim(int) error                         { return hw.ErrNotSupported }
func (u *unlocked) Release(int) error                       { return hw.ErrNotSupported }
func (u *unlocked) SetAlt(int, int) error                   { return hw.ErrNotSupported }
func (u *unlocked) OpenEndpoint(uint8) (hw.Endpoint, error) { return nil, hw.ErrNotSupported }
func (u *unlocked) ClearHalt(uint8) error                   { return hw.ErrNotSupported }
func (u *unlocked) Reset() error                            { return hw.ErrNotSupported }
func (u *unlocked) Close() error                            { return hw.ErrNotSupported }

// ClearHalt clears a halt on an endpoint (libusb_clear_halt: CLEAR_FEATURE
// ENDPOINT_HALT and the host side's data toggle reset, which a bare control
// request would not do).
func (d *Device) ClearHalt(addr uint8) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.checkOpen(); err != nil {
		return err
	}
	return wrap(fmt.Sprintf("%s: clear halt %#02x", d.name, addr), d.h.clearHalt(addr))
}

// Reset performs a USB port reset (libusb_reset_device). Claimed interfaces
// stay claimed and return to alternate setting 0. If the device comes back
// different (new descriptors), libusb reports it gone: reopen it.
func (d *Device) Reset() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.checkOpen(); err != nil {
		return err
	}
	err := d.h.reset()
	for i := range d.claimed {
		d.claimed[i] = 0
	}
	d.configs = nil
	return wrap(d.name+": reset", err)
}

// Close closes the device. It fails with ErrBusy while an interface is
// claimed.
func (d *Device) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.checkOpen(); err != nil {
		return err
	}
	if len(d.claimed) > 0 {
		return hw.Errorf(d.name+": close", fmt.Errorf("%w: interfaces %v are claimed", hw.ErrBusy, d.claimedList()))
	}
	d.closed = true
	err := d.h.close()
	d.ctx.forget(d)
	return wrap(d.name+": close", err)
}

func (d *Device) endpointClosed(e *Endpoint) {
	d.mu.Lock()
	if d.eps[e.desc.Address] == e {
		delete(d.eps, e.desc.Address)
	}
	d.mu.Unlock()
}
