// Package recordtest holds what the recorder's and the replayers' tests
// share: a small echo device (built on hw/sim) and a fixed driver session
// that touches every kind of URB the recorder logs.
package recordtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"dongle/hw"
	"dongle/hw/sim"
)

// Device descriptor: 1d6b:0104, one configuration.
var DeviceDescriptor = []byte{18, hw.DescDevice, 0x00, 0x02, 0, 0, 0, 64, 0x6b, 0x1d, 0x04, 0x01, 0x00, 0x01, 1, 2, 3, 1}

// Config is configuration 1: interface 0 with interrupt IN 0x81, bulk IN
// 0x82 and bulk OUT 0x02, all 64-byte (full speed).
var Config = []byte{
	9, hw.DescConfig, 39, 0, 1, 1, 0, 0x80, 50,
	9, hw.DescInterface, 0, 0, 3, 0xff, 0, 0, 0,
	7, hw.DescEndpoint, 0x81, hw.XferInterrupt, 8, 0, 8,
	7, hw.DescEndpoint, 0x82, hw.XferBulk, 64, 0, 0,
	7, hw.DescEndpoint, 0x02, hw.XferBulk, 64, 0, 0,
}

// Vendor requests of the echo device.
const (
	ReqRead  = 0x10 // IN: answers 4 bytes 0xde 0xad 0xbe 0xef
	ReqWrite = 0x11 // OUT: accepted
	ReqStall = 0x12 // stalls
)

// NewEcho returns a device that sends every bulk OUT transfer back on bulk
// IN 0x82 and answers the vendor requests above.
func NewEcho() *sim.Device {
	m := &sim.Static{Device: DeviceDescriptor, Configs: [][]byte{Config}, Strings: map[uint8]string{1: "dongle", 2: "echo", 3: "0001"}}
	m.ControlFunc = func(s hw.Setup, data []byte) (int, error) {
		switch {
		case s.RequestType == hw.DirIn|hw.TypeVendor|hw.RecipDevice && s.Request == ReqRead:
			return copy(data, []byte{0xde, 0xad, 0xbe, 0xef}), nil
		case s.RequestType == hw.DirOut|hw.TypeVendor|hw.RecipDevice && s.Request == ReqWrite:
			return len(data), nil
		}
		return 0, hw.ErrStall
	}
	m.OutFunc = func(ep uint8, data []byte) {
		if ep == 0x02 {
			m.Host().SendInZLP(0x82, append([]byte(nil), data...)) // a ZLP ends a full-packet frame
		}
	}
	return sim.New(m, hw.Info{Bus: 3, Address: 7, Backend: "sim:echo"})
}

// Frames are what Session sends: a short frame, a full-packet one (a ZLP
// follows it) and a two-packet one.
var Frames = [][]byte{bytes.Repeat([]byte{1}, 60), bytes.Repeat([]byte{2}, 64), bytes.Repeat([]byte{3}, 100)}

// Result is what a Session saw.
type Result struct {
	VID, PID uint16
	Product  string
	Vendor   []byte   // ReqRead answer
	Echoed   [][]byte // bulk IN transfers, in order
	Stalled  bool     // ReqStall stalled
	Cancel   error    // the cancelled interrupt transfer's error
}

// Session is a deterministic driver conversation, single goroutine:
// descriptors, SET_CONFIGURATION, claim, SET_INTERFACE, vendor requests (one
// stalling), three bulk IN transfers queued, the frames sent (with a ZLP
// after the 64-byte one), their echoes reaped, an interrupt IN cancelled,
// CLEAR_FEATURE(halt), and everything closed.
func Session(ctx context.Context, d hw.Device) (*Result, error) {
	res := &Result{}
	dd, err := hw.ReadDeviceDescriptor(ctx, d)
	if err != nil {
		return nil, err
	}
	res.VID, res.PID = dd.Vendor, dd.Product
	cfg, err := hw.ReadConfig(ctx, d, 0)
	if err != nil {
		return nil, err
	}
	if res.Product, err = hw.ReadString(ctx, d, dd.ProductStr); err != nil {
		return nil, err
	}
	if err := d.SetConfiguration(int(cfg.Value)); err != nil {
		return nil, err
	}
	if err := d.Claim(0); err != nil {
		return nil, err
	}
	defer d.Release(0)
	if err := d.SetAlt(0, 0); err != nil {
		return nil, err
	}
	buf := make([]byte, 8)
	n, err := d.Control(ctx, hw.Setup{RequestType: hw.DirIn | hw.TypeVendor, Request: ReqRead}, buf)
	if err != nil {
		return nil, err
	}
	res.Vendor = buf[:n]
	if _, err := d.Control(ctx, hw.Setup{RequestType: hw.DirOut | hw.TypeVendor, Request: ReqWrite, Value: 0x1234}, []byte{9, 8, 7}); err != nil {
		return nil, err
	}
	_, err = d.Control(ctx, hw.Setup{RequestType: hw.DirIn | hw.TypeVendor, Request: ReqStall}, buf)
	res.Stalled = errors.Is(err, hw.ErrStall)

	in, err := d.OpenEndpoint(0x82)
	if err != nil {
		return nil, err
	}
	defer in.Close()
	out, err := d.OpenEndpoint(0x02)
	if err != nil {
		return nil, err
	}
	defer out.Close()
	intr, err := d.OpenEndpoint(0x81)
	if err != nil {
		return nil, err
	}
	defer intr.Close()
	for range Frames {
		if err := in.Submit(&hw.Transfer{Buf: make([]byte, 512)}); err != nil {
			return nil, err
		}
	}
	sends := [][]byte{Frames[0], Frames[1], {}, Frames[2]}
	for _, f := range sends {
		if err := out.Submit(&hw.Transfer{Buf: f}); err != nil {
			return nil, err
		}
	}
	for range sends {
		t, err := out.Wait(ctx)
		if err != nil {
			return nil, err
		}
		if t.Err != nil {
			return nil, fmt.Errorf("bulk OUT: %w", t.Err)
		}
	}
	for range Frames {
		t, err := in.Wait(ctx)
		if err != nil {
			return nil, err
		}
		if t.Err != nil {
			return nil, fmt.Errorf("bulk IN: %w", t.Err)
		}
		res.Echoed = append(res.Echoed, append([]byte(nil), t.Data()...))
	}
	if err := intr.Submit(&hw.Transfer{Buf: make([]byte, 8)}); err != nil {
		return nil, err
	}
	intr.Cancel()
	t, err := intr.Wait(ctx)
	if err != nil {
		return nil, err
	}
	res.Cancel = t.Err
	if err := d.ClearHalt(0x82); err != nil {
		return nil, err
	}
	return res, nil
}
