package gousb

/*
#cgo pkg-config: libusb-1.0
#include <libusb.h>
*/
import "C"

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"time"

	libusb "github.com/google/gousb"

	"dongle/hw"
)

// realLib implements the seam with gousb, plus libusb calls gousb lacks
// (see the package doc).
type realLib struct{ ctx *libusb.Context }

func newRealLib() (l *realLib, err error) {
	defer func() {
		// gousb.NewContext panics when libusb_init fails (no usbfs).
		if r := recover(); r != nil {
			if e, ok := r.(error); ok {
				err = fmt.Errorf("libusb_init: %w", e)
			} else {
				err = fmt.Errorf("libusb_init: %v", r)
			}
		}
	}()
	return &realLib{ctx: libusb.NewContext()}, nil
}

func (l *realLib) close() error { return l.ctx.Close() }

func (l *realLib) devices() ([]devInfo, error) {
	var out []devInfo
	_, err := l.ctx.OpenDevices(func(d *libusb.DeviceDesc) bool {
		out = append(out, convDesc(d))
		return false // open nothing
	})
	if err != nil && len(out) == 0 {
		return nil, err
	}
	return out, nil // a device whose descriptor could not be read is skipped
}

func convSpeed(s libusb.Speed) hw.Speed {
	switch s {
	case libusb.SpeedLow:
		return hw.SpeedLow
	case libusb.SpeedFull:
		return hw.SpeedFull
	case libusb.SpeedHigh:
		return hw.SpeedHigh
	case libusb.SpeedSuper:
		return hw.SpeedSuper
	case libusb.SpeedSuper + 1: // LIBUSB_SPEED_SUPER_PLUS, which gousb does not name
		return hw.SpeedSuperPlus
	}
	return hw.SpeedUnknown
}

func convDesc(d *libusb.DeviceDesc) devInfo {
	di := devInfo{Bus: d.Bus, Address: d.Address, Path: slices.Clone(d.Path),
		Vendor: uint16(d.Vendor), Product: uint16(d.Product), Speed: convSpeed(d.Speed),
		Class: uint8(d.Class), SubClass: uint8(d.SubClass), Protocol: uint8(d.Protocol)}
	for _, c := range d.Configs {
		ci := cfgInfo{Value: c.Number}
		for _, in := range c.Interfaces {
			for _, a := range in.AltSettings {
				ci.Interfaces = append(ci.Interfaces, ifaceInfo{Number: a.Number, Alt: a.Alternate,
					Class: uint8(a.Class), SubClass: uint8(a.SubClass), Protocol: uint8(a.Protocol)})
			}
		}
		di.Configs = append(di.Configs, ci)
	}
	slices.SortFunc(di.Configs, func(a, b cfgInfo) int { return cmp.Compare(a.Value, b.Value) })
	return di
}

func (l *realLib) open(bus, addr int) (handle, error) {
	devs, err := l.ctx.OpenDevices(func(d *libusb.DeviceDesc) bool { return d.Bus == bus && d.Address == addr })
	if len(devs) == 0 {
		if err == nil {
			err = libusb.ErrorNoDevice // unplugged since List
		}
		return nil, err
	}
	for _, extra := range devs[1:] {
		extra.Close()
	}
	d := devs[0]
	h, err := handleOf(d)
	if err != nil {
		d.Close()
		return nil, err
	}
	// Detach on claim, re-attach on release. NOT_SUPPORTED (not Linux) is fine.
	C.libusb_set_auto_detach_kernel_driver(h, 1)
	return &realHandle{dev: d, h: h, ifs: make(map[int]*libusb.Interface)}, nil
}

// handleOf reads gousb.Device's unexported libusb handle, for the libusb
// calls gousb does not wrap. TestGousbLayout pins the field.
func handleOf(d *libusb.Device) (*C.libusb_device_handle, error) {
	f := reflect.ValueOf(d).Elem().FieldByName("handle")
	if !f.IsValid() || f.Kind() != reflect.Pointer || f.IsNil() {
		return nil, errors.New("gousb.Device has no libusb handle field (gousb version changed?)")
	}
	return (*C.libusb_device_handle)(f.UnsafePointer()), nil
}

func cerr(rc C.int) error {
	if rc == 0 {
		return nil
	}
	return libusb.Error(rc)
}

type realHandle struct {
	dev      *libusb.Device
	h        *C.libusb_device_handle
	cfg      *libusb.Config // gousb's claim bookkeeping; needed for endpoints
	ifs      map[int]*libusb.Interface
	detached []int // interfaces whose kernel driver SetConfiguration detached
	// bound lists the interfaces of the active configuration that had a
	// kernel driver when the first of them was claimed (nil while none is
	// claimed); see rebind.
	bound []int
}

func (r *realHandle) control(timeout time.Duration, rType, req uint8, val, idx uint16, data []byte) (int, error) {
	r.dev.ControlTimeout = timeout // callers serialise control transfers
	return r.dev.Control(rType, req, val, idx, data)
}

func (r *realHandle) activeConfig() (int, error) { return r.dev.ActiveConfigNum() }

func (r *realHandle) setConfig(value int) error {
	if r.cfg != nil {
		if err := r.cfg.Close(); err != nil {
			return err
		}
		r.cfg = nil
	}
	if active, err := r.dev.ActiveConfigNum(); err == nil && active != 0 {
		if c, ok := r.dev.Desc.Configs[active]; ok {
			for _, in := range c.Interfaces {
				switch rc := C.libusb_detach_kernel_driver(r.h, C.int(in.Number)); rc {
				case 0:
					r.detached = append(r.detached, in.Number)
				case C.LIBUSB_ERROR_NOT_FOUND, C.LIBUSB_ERROR_NOT_SUPPORTED:
				default:
					return fmt.Errorf("detaching the kernel driver of interface %d: %w", in.Number, cerr(rc))
				}
			}
		}
	}
	return cerr(C.libusb_set_configuration(r.h, C.int(value)))
}

func (r *realHandle) claim(iface int) (err error) {
	if r.cfg == nil {
		active, err := r.dev.ActiveConfigNum()
		if err != nil {
			return err
		}
		if active == 0 {
			return fmt.Errorf("%w: %w", libusb.ErrorNotFound, errNoConfig)
		}
		if r.cfg, err = r.dev.Config(active); err != nil { // active already: bookkeeping only
			return err
		}
	}
	if len(r.ifs) == 0 {
		r.bound = r.bound[:0]
		for _, in := range r.cfg.Desc.Interfaces {
			if C.libusb_kernel_driver_active(r.h, C.int(in.Number)) == 1 {
				r.bound = append(r.bound, in.Number)
			}
		}
	}
	// libusb directly, so that BUSY/ACCESS survive (gousb formats them with %v).
	if err := cerr(C.libusb_claim_interface(r.h, C.int(iface))); err != nil {
		return err
	}
	defer func() {
		// gousb indexes Interfaces by number and panics on sparse numbering.
		if p := recover(); p != nil {
			err = fmt.Errorf("gousb: interface %d: %v", iface, p)
		}
		if err != nil {
			C.libusb_release_interface(r.h, C.int(iface))
		}
	}()
	// Already claimed: gousb's claim is a no-op; it selects alt 0 when the
	// interface has several (as Linux cdc_ether does at bind).
	in, err := r.cfg.Interface(iface, 0)
	if err != nil {
		return err
	}
	r.ifs[iface] = in
	return nil
}

func (r *realHandle) release(iface int) error {
	in, ok := r.ifs[iface]
	if !ok {
		return libusb.ErrorNotFound
	}
	in.Close() // libusb_release_interface; auto-detach re-attaches the kernel driver
	delete(r.ifs, iface)
	if len(r.ifs) == 0 {
		r.rebind()
	}
	return nil
}

// rebind re-attaches, once the last claimed interface is released, the
// kernel driver of every interface that had one at the first claim and has
// none now. libusb's auto-detach re-attaches only the interface released,
// which is not enough for a driver that binds several interfaces from one
// of them: cdc_ether binds the control interface and claims the data
// interface itself, so claiming just the data interface unbinds it from
// both, and re-probing the data interface alone binds nothing
// (USBDEVFS_CONNECT probes that interface only, and no driver matches a
// CDC data interface).
//
//	claim 1:   1.0 cdc_ether, 1.1 cdc_ether  →  1.0 -, 1.1 usbfs
//	release 1: auto-detach re-probes 1.1     →  1.0 -, 1.1 -
//	rebind:    re-probe 1.0                  →  1.0 cdc_ether, 1.1 cdc_ether
//
// Doing it after the last release, not after each, also covers a release
// order the driver cannot bind in (control before data: cdc_ether's probe
// of 1.0 fails while 1.1 is still claimed). Best effort, like libusb's.
func (r *realHandle) rebind() {
	for _, n := range r.bound {
		if C.libusb_kernel_driver_active(r.h, C.int(n)) == 0 {
			C.libusb_attach_kernel_driver(r.h, C.int(n))
		}
	}
	r.bound = r.bound[:0]
}

func (r *realHandle) altSetting(iface, alt int) (libusb.InterfaceSetting, bool) {
	for _, in := range r.cfg.Desc.Interfaces {
		if in.Number != iface {
			continue
		}
		for _, a := range in.AltSettings {
			if a.Alternate == alt {
				return a, true
			}
		}
	}
	return libusb.InterfaceSetting{}, false
}

func (r *realHandle) setAlt(iface, alt int) error {
	in, ok := r.ifs[iface]
	if !ok {
		return libusb.ErrorNotFound
	}
	s, ok := r.altSetting(iface, alt)
	if !ok {
		return fmt.Errorf("%w: interface %d has no alternate setting %d", libusb.ErrorNotFound, iface, alt)
	}
	// USBDEVFS_SETINTERFACE without releasing the interface (gousb would
	// release and re-claim, letting the kernel driver bind in between).
	if err := cerr(C.libusb_set_interface_alt_setting(r.h, C.int(iface), C.int(alt))); err != nil {
		return err
	}
	in.Setting = s // what gousb's InEndpoint/OutEndpoint look endpoints up in
	return nil
}

func (r *realHandle) clearHalt(ep uint8) error {
	return cerr(C.libusb_clear_halt(r.h, C.uchar(ep)))
}

func (r *realHandle) reset() error {
	err := cerr(C.libusb_reset_device(r.h))
	for n, in := range r.ifs {
		if s, ok := r.altSetting(n, 0); ok {
			in.Setting = s
		}
	}
	return err
}

func (r *realHandle) pipe(iface, alt int, addr uint8) (pipe, error) {
	in, ok := r.ifs[iface]
	if !ok || in.Setting.Alternate != alt {
		return nil, fmt.Errorf("%w: interface %d alt %d is not claimed", libusb.ErrorNotFound, iface, alt)
	}
	if addr&0x80 != 0 {
		ep, err := in.InEndpoint(int(addr & 0x0f))
		if err != nil {
			return nil, fmt.Errorf("%w: %v", libusb.ErrorNotFound, err)
		}
		return inPipe{ep}, nil
	}
	ep, err := in.OutEndpoint(int(addr & 0x0f))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", libusb.ErrorNotFound, err)
	}
	return outPipe{ep}, nil
}

func (r *realHandle) xfers(iface, alt int, ep hw.EndpointDesc, n int, wake func()) (xfers, error) {
	in, ok := r.ifs[iface]
	if !ok || in.Setting.Alternate != alt {
		return nil, fmt.Errorf("%w: interface %d alt %d is not claimed", libusb.ErrorNotFound, iface, alt)
	}
	// The buffers start at a full Ethernet frame plus framing headroom and
	// grow on the first larger transfer (RX transfers of 16 KiB, say).
	return newLibusbXfers(r.h, ep, n, 2048, wake)
}

func (r *realHandle) serial() (string, error) { return r.dev.SerialNumber() }

func (r *realHandle) close() error {
	for n, in := range r.ifs {
		in.Close()
		delete(r.ifs, n)
	}
	r.rebind()
	if r.cfg != nil {
		r.cfg.Close()
		r.cfg = nil
	}
	for _, n := range r.detached {
		C.libusb_attach_kernel_driver(r.h, C.int(n)) // best effort: the config may have changed
	}
	return r.dev.Close()
}

// inPipe and outPipe are gousb's synchronous transfers. gousb calls
// ctx.Done() right after submitting (usbTransfer.wait), which the endpoint
// queue relies on. A zero-length OUT is WriteContext(ctx, nil): gousb
// allocates a 0-byte buffer (malloc(0) is non-NULL in glibc) and libusb
// submits a zero-length bulk URB (measured in the virtual lab).
type inPipe struct{ ep *libusb.InEndpoint }

func (p inPipe) transfer(ctx context.Context, buf []byte) (int, error) {
	return p.ep.ReadContext(ctx, buf)
}

type outPipe struct{ ep *libusb.OutEndpoint }

func (p outPipe) transfer(ctx context.Context, buf []byte) (int, error) {
	return p.ep.WriteContext(ctx, buf)
}
