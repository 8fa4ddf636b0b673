package decode

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"dongle/usbnet"
)

// Errors of choosing the device.
var (
	// ErrSeveralDevices: the trace holds more than one network adapter
	// and Options.Device picks none.
	ErrSeveralDevices = errors.New("the trace holds several network adapters: pick one with --device BUS.ADDR")
	// ErrNoSuchDevice: Options.Device names a device the trace does not hold.
	ErrNoSuchDevice = errors.New("no such device in the trace")
	// ErrBadDevice: Options.Device is not BUS.ADDR.
	ErrBadDevice = errors.New("device is not BUS.ADDR")
)

// ParseDevice reads "BUS.ADDR" (as lsusb and tshark's usb.bus_id and
// usb.device_address print them: "1.3").
func ParseDevice(s string) (bus uint16, addr uint8, err error) {
	b, a, ok := strings.Cut(s, ".")
	bv, err1 := strconv.ParseUint(b, 10, 16)
	av, err2 := strconv.ParseUint(a, 10, 8)
	if !ok || err1 != nil || err2 != nil {
		return 0, 0, fmt.Errorf("%q: %w", s, ErrBadDevice)
	}
	return uint16(bv), uint8(av), nil
}

// describe says what a device of the trace is, from its descriptors.
func describe(d *devSurvey, cands []usbnet.Minidriver) (info DeviceInfo, adapter bool) {
	info = DeviceInfo{Bus: d.key.bus, Address: d.key.addr, Records: d.records}
	if d.key.addr == 0 {
		// The default address: whichever device is being enumerated
		// before its SET_ADDRESS, never a device of its own.
		info.Function = "address 0 (enumeration before SET_ADDRESS)"
		return info, false
	}
	if d.device == nil {
		return info, false
	}
	info.Vendor, info.Product, info.Class = d.device.Vendor, d.device.Product, d.device.Class
	if d.device.Class == 9 {
		info.Function = "hub"
		return info, false
	}
	b, err := usbnet.Match(devName(d), d.device, d.configs, 0, cands)
	if err == nil {
		info.Function = b.Driver.Name()
		return info, true
	}
	var ue *usbnet.UnsupportedError
	if errors.As(err, &ue) {
		info.Function = ue.Function
		return info, true
	}
	return info, false
}

func devName(d *devSurvey) string {
	if d.device == nil {
		return fmt.Sprintf("trace device %d.%d", d.key.bus, d.key.addr)
	}
	return fmt.Sprintf("trace device %04x:%04x", d.device.Vendor, d.device.Product)
}

// choose picks the device to decode (see Options.Device): the one named;
// else the one network adapter (a driver or a known function matches its
// descriptors; with Options.Driver, the one that driver matches); else,
// for a trace without descriptors, the one device with bulk traffic.
func choose(devs map[devKey]*devSurvey, order []devKey, opts Options, cands []usbnet.Minidriver, infos []DeviceInfo, adapters []bool) (*devSurvey, error) {
	list := func() string {
		var s []string
		for _, i := range infos {
			s = append(s, i.String())
		}
		return strings.Join(s, "; ")
	}
	if opts.Device != "" {
		bus, addr, err := ParseDevice(opts.Device)
		if err != nil {
			return nil, err
		}
		d := devs[devKey{bus, addr}]
		if d == nil {
			return nil, fmt.Errorf("device %d.%d: %w (it holds: %s)", bus, addr, ErrNoSuchDevice, list())
		}
		return d, nil
	}
	var picked []*devSurvey
	for i, k := range order {
		if !adapters[i] {
			continue
		}
		if opts.Driver != "" && infos[i].Function != opts.Driver {
			continue
		}
		picked = append(picked, devs[k])
	}
	if opts.Driver != "" && len(picked) == 0 {
		// A forced driver on a device it does not claim: every adapter,
		// else every device with bulk traffic.
		for i, k := range order {
			if adapters[i] {
				picked = append(picked, devs[k])
			}
		}
		if len(picked) == 0 {
			for _, k := range order {
				if d := devs[k]; d.bulk > 0 && d.key.addr != 0 && (d.device == nil || d.device.Class != 9) {
					picked = append(picked, d)
				}
			}
		}
	}
	switch len(picked) {
	case 1:
		return picked[0], nil
	case 0:
		// No adapter: the device with descriptors and the most traffic
		// tells why (its Match error), else there is nothing to match by.
		var best *devSurvey
		for _, k := range order {
			d := devs[k]
			if d.device != nil && d.device.Class != 9 && d.key.addr != 0 && (best == nil || d.bulk > best.bulk) {
				best = d
			}
		}
		if best != nil {
			return best, nil
		}
		if len(order) > 0 {
			return nil, fmt.Errorf("%w to pick a driver from: pass --driver (the trace holds: %s)", ErrNoDescriptors, list())
		}
		return nil, fmt.Errorf("%w to pick a driver from: pass --driver (the trace holds no records)", ErrNoDescriptors)
	}
	return nil, fmt.Errorf("%w (it holds: %s)", ErrSeveralDevices, list())
}

func itoa(i int) string { return strconv.Itoa(i) }
