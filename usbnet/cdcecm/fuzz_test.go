package cdcecm_test

import (
	"errors"
	"math"
	"testing"

	"dongle/hw"
	"dongle/hw/sim/ecm"
	"dongle/usbnet"
	"dongle/usbnet/cdcecm"
)

// FuzzParse feeds arbitrary configuration descriptor sets to Parse: it must
// never panic, and whatever it accepts must be usable (bulk IN and OUT with
// a packet size, a sane segment size, a status endpoint only if interrupt
// IN).
func FuzzParse(f *testing.F) {
	dev, m := ecm.NewDevice(ecm.Options{})
	defer dev.Close()
	_, configs, _ := m.Descriptors()
	for _, c := range configs {
		f.Add(c)
	}
	gadget := ecm.New(ecm.Options{Flavor: ecm.Gadget})
	_, configs, _ = gadget.Descriptors()
	f.Add(configs[0])
	f.Fuzz(func(t *testing.T, b []byte) {
		cfg, err := hw.ParseConfig(b)
		if err != nil {
			return
		}
		for _, in := range cfg.Interfaces {
			fn, err := cdcecm.Parse(cfg, in.Number)
			if err != nil {
				continue
			}
			if fn.In.Type() != hw.XferBulk || !fn.In.In() || fn.In.MaxPacketSize == 0 {
				t.Fatalf("accepted IN endpoint %v (wMaxPacketSize %d)", fn.In, fn.In.MaxPacketSize)
			}
			if fn.Out.Type() != hw.XferBulk || fn.Out.In() || fn.Out.MaxPacketSize == 0 {
				t.Fatalf("accepted OUT endpoint %v (wMaxPacketSize %d)", fn.Out, fn.Out.MaxPacketSize)
			}
			if fn.MaxSegmentSize < cdcecm.MinMaxSegment {
				t.Fatalf("accepted wMaxSegmentSize %d", fn.MaxSegmentSize)
			}
			if fn.Status.Address != 0 && (fn.Status.Type() != hw.XferInterrupt || !fn.Status.In() || fn.Status.MaxPacketSize < 8 || fn.Status.Interval == 0) {
				t.Fatalf("accepted status endpoint %v", fn.Status)
			}
		}
	})
}

// FuzzStatus feeds arbitrary interrupt transfers to Status on a bound
// device: errors are fine, panics are not, and a speed, once set, is a
// whole number of Mbit/s from a rate field.
func FuzzStatus(f *testing.F) {
	dev, _ := ecm.NewDevice(ecm.Options{})
	d, err := usbnet.Probe(dev, cdcecm.New())
	if err != nil {
		f.Fatal(err)
	}
	defer func() { _ = d.Disconnect(); _ = dev.Close() }()
	f.Add([]byte{0xa1, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00})
	f.Add([]byte{0xa1, 0x2a, 0, 0, 0, 0, 8, 0, 0, 0xe1, 0xf5, 0x05, 0, 0xe1, 0xf5, 0x05})
	f.Add([]byte{0xa1, 0x2a, 0, 0, 0, 0, 8, 0})
	f.Add([]byte{0xa1})
	drv := cdcecm.New()
	f.Fuzz(func(t *testing.T, b []byte) {
		speed, carrier := d.Net.Speed(), d.Net.Carrier()
		err := drv.Status(d, b)
		if err != nil {
			// A refused notification is a typed error and changes nothing.
			if !errors.Is(err, cdcecm.ErrNotification) {
				t.Fatalf("Status(% x): error %v does not wrap ErrNotification", b, err)
			}
			if d.Net.Speed() != speed || d.Net.Carrier() != carrier {
				t.Fatalf("Status(% x) failed (%v) but changed speed %d→%d, carrier %v→%v",
					b, err, speed, d.Net.Speed(), carrier, d.Net.Carrier())
			}
		}
		// The speed comes from a 32-bit bit/s field divided down to Mbit/s
		// (CDC 1.2 ConnectionSpeedChange), so it cannot exceed 4294.
		if s := d.Net.Speed(); s < 0 || s > math.MaxUint32/1_000_000 {
			t.Fatalf("speed %d Mbit/s is not from a 32-bit rate field", s)
		}
	})
}
