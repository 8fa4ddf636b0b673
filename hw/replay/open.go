package replay

import (
	"fmt"
	"path/filepath"
	"slices"

	"dongle/hw"
	"dongle/hw/record"
	"dongle/hw/usbmon"
)

// Open reads a capture file and returns a strict replay if dongle's
// recorder wrote it (every URB id carries record.IDTag) and a model replay
// otherwise. opts applies to the model replay; Name defaults to the file's
// base name.
func Open(path string, opts ModelOptions) (hw.Device, error) {
	recs, _, err := usbmon.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("replay: %w", err)
	}
	if opts.Name == "" {
		opts.Name = filepath.Base(path)
	}
	return New(recs, opts)
}

// New is Open for records already read.
func New(recs []usbmon.Record, opts ModelOptions) (hw.Device, error) {
	if opts.Device != nil {
		recs = Only(recs, *opts.Device)
		if len(recs) == 0 {
			return nil, fmt.Errorf("replay %s: device %d.%d: %w", opts.Name, opts.Device.Bus, opts.Device.Address, ErrNoSuchDevice)
		}
	} else if devs := Devices(recs); len(devs) > 1 {
		return nil, fmt.Errorf("replay %s: %w: %v", opts.Name, ErrSeveralDevices, devs)
	}
	if record.Recorded(recs) {
		return NewStrict(recs, StrictOptions{Name: opts.Name})
	}
	return NewModel(recs, opts)
}

// DeviceAddr names one device of a capture: its bus and address.
type DeviceAddr struct {
	Bus     uint16
	Address uint8
}

func (a DeviceAddr) String() string { return fmt.Sprintf("%d.%d", a.Bus, a.Address) }

// Devices lists the devices a capture's records come from, in order of
// appearance, address 0 left out: it is the address of whichever device
// is being enumerated before SET_ADDRESS, not a device of its own.
func Devices(recs []usbmon.Record) []DeviceAddr {
	var out []DeviceAddr
	for i := range recs {
		a := DeviceAddr{recs[i].Bus, recs[i].Device}
		if a.Address == 0 || slices.Contains(out, a) {
			continue
		}
		out = append(out, a)
	}
	return out
}

// Only returns the records of device a (a capture of a busy bus holds
// every device's: root hubs, keyboards, other adapters), address 0's
// included when the capture holds no other device (see Devices).
func Only(recs []usbmon.Record, a DeviceAddr) []usbmon.Record {
	keep0 := len(Devices(recs)) <= 1
	out := make([]usbmon.Record, 0, len(recs))
	for i := range recs {
		r := &recs[i]
		if r.Bus == a.Bus && (r.Device == a.Address || keep0 && r.Device == 0) {
			out = append(out, *r)
		}
	}
	return out
}
