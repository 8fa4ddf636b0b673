package replay

import (
	"encoding/binary"
	"fmt"

	"dongle/hw"
	"dongle/hw/usbmon"
)

// trace is what both replays learn from a capture before serving it.
type trace struct {
	name    string
	recs    []usbmon.Record
	urbs    []usbmon.URB
	dev     *hw.DeviceDescriptor
	configs []*hw.Config // parsed configuration descriptor sets, by index
	bus     int
	addr    int
	eps     map[uint8]hw.EndpointDesc // endpoints seen in records (for traces without descriptors)
	// initial is the configuration the device starts in: the first one
	// the recorded driver selected with SET_CONFIGURATION, else the first
	// descriptor set's (QEMU's usb-net lists RNDIS, value 2, first, and
	// cdc_ether selects value 1).
	initial int
}

func newTrace(name string, recs []usbmon.Record) *trace {
	t := &trace{name: name, recs: recs, urbs: usbmon.Pair(recs), eps: map[uint8]hw.EndpointDesc{}}
	best := map[uint8][]byte{} // config index → longest answer
	for i := range t.urbs {
		u := &t.urbs[i]
		f := u.Submit
		if f == nil {
			f = u.Complete
		}
		t.bus, t.addr = int(f.Bus), int(f.Device)
		if u.XferType() != usbmon.XferControl {
			if _, ok := t.eps[u.Endpoint()]; !ok && (u.XferType() == usbmon.XferBulk || u.XferType() == usbmon.XferInterrupt) {
				attr := hw.XferBulk
				if u.XferType() == usbmon.XferInterrupt {
					attr = hw.XferInterrupt
				}
				t.eps[u.Endpoint()] = hw.EndpointDesc{Address: u.Endpoint(), Attributes: attr, MaxPacketSize: 64}
			}
			continue
		}
		s, ok := u.Setup()
		if ok && s.RequestType == hw.RecipDevice && s.Request == hw.ReqSetConfiguration && u.Status() == 0 && t.initial == 0 {
			t.initial = int(s.Value)
		}
		if !ok || s.RequestType != hw.DirIn|hw.TypeStandard|hw.RecipDevice || s.Request != hw.ReqGetDescriptor || u.Complete == nil || u.Status() != 0 {
			continue
		}
		data := u.Data()
		switch uint8(s.Value >> 8) {
		case hw.DescDevice:
			if d, err := hw.ParseDeviceDescriptor(data); err == nil {
				t.dev = d
			}
		case hw.DescConfig:
			idx := uint8(s.Value)
			if len(data) > len(best[idx]) {
				best[idx] = data
			}
		}
	}
	for i := 0; i < 256; i++ {
		b, ok := best[uint8(i)]
		if !ok {
			break
		}
		if len(b) < 4 || int(binary.LittleEndian.Uint16(b[2:])) > len(b) {
			continue // only the header was read
		}
		if c, err := hw.ParseConfig(append([]byte(nil), b...)); err == nil {
			t.configs = append(t.configs, c)
		}
	}
	if t.config(t.initial) == nil && len(t.configs) > 0 {
		t.initial = int(t.configs[0].Value)
	}
	if len(t.configs) > 0 {
		// With descriptors, endpoint sizes come from them.
		for _, c := range t.configs {
			for _, in := range c.Interfaces {
				for _, a := range in.Alts {
					for _, ep := range a.Endpoints {
						t.eps[ep.Address] = ep
					}
				}
			}
		}
	}
	return t
}

func (t *trace) config(value int) *hw.Config {
	for _, c := range t.configs {
		if int(c.Value) == value {
			return c
		}
	}
	return nil
}

func (t *trace) altSetting(config, iface, alt int) *hw.AltSetting {
	c := t.config(config)
	if c == nil || iface < 0 || iface > 255 {
		return nil
	}
	in := c.Interface(uint8(iface))
	if in == nil {
		return nil
	}
	for i := range in.Alts {
		if int(in.Alts[i].Alternate) == alt {
			return &in.Alts[i]
		}
	}
	return nil
}

func (t *trace) seenEndpoint(addr uint8) (hw.EndpointDesc, bool) {
	d, ok := t.eps[addr]
	return d, ok
}

// maxPacket is the endpoint's wMaxPacketSize (64 if the trace has no
// descriptor for it: full speed, the commonest for these adapters).
func (t *trace) maxPacket(addr uint8) int {
	if d, ok := t.eps[addr]; ok && d.MaxPacketSize > 0 {
		return int(d.MaxPacketSize)
	}
	return 64
}

// info is the device identity the trace shows: VID:PID from the recorded
// device descriptor, speed from the largest bulk wMaxPacketSize.
func (t *trace) info(backend string) hw.Info {
	i := hw.Info{Bus: t.bus, Address: t.addr, Backend: backend}
	if t.dev != nil {
		i.Vendor, i.Product = t.dev.Vendor, t.dev.Product
	}
	maxBulk := 0
	for _, ep := range t.eps {
		if ep.Type() == hw.XferBulk && int(ep.MaxPacketSize) > maxBulk {
			maxBulk = int(ep.MaxPacketSize)
		}
	}
	switch {
	case maxBulk >= 1024:
		i.Speed = hw.SpeedSuper
	case maxBulk >= 512:
		i.Speed = hw.SpeedHigh
	case maxBulk > 0 && len(t.configs) > 0:
		i.Speed = hw.SpeedFull
	}
	return i
}

func xferName(x usbmon.XferType, ep uint8) string {
	dir := "OUT"
	if ep&0x80 != 0 {
		dir = "IN"
	}
	return fmt.Sprintf("%s %s %#02x", x, dir, ep)
}
