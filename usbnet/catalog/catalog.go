package catalog

import (
	"fmt"
	"net"
	"slices"
	"strings"

	"dongle/hw"
	"dongle/hw/sim"
	"dongle/usbnet"
)

// Entry is one minidriver and what stands in for its chips.
type Entry struct {
	// Name is the driver's Linux name, as Minidriver.Name returns it.
	Name string
	// Aliases are the short names a person may type ("ecm", "ax88179").
	Aliases []string
	// New returns the minidriver for real hardware: it waits as long as
	// the chips need after resets.
	New func() usbnet.Minidriver
	// ForModels returns it with the settling delays dropped, for device
	// models and replayed traces, which answer at once.
	ForModels func() usbnet.Minidriver
	// Models are the device models of its chips, in the order the suite
	// runs them.
	Models []Model
}

// Model is one device model: a selector, what it is, how to build it and
// what the conformance suite expects of it.
type Model struct {
	// Selector picks it on a command line: "sim:ax88772".
	Selector string
	// Describe is one line for help texts: "hw/sim/ax88772: AX88772B at high speed".
	Describe string
	// Chips are the names cmd/ffsmodel's -model takes for it ("ax88772b");
	// empty for a model ffsmodel does not serve (a speed variant, or
	// a function the kernel serves itself).
	Chips []string
	// Build makes a fresh device and model.
	Build func(o Options) *Instance
	// Expect is what the suite checks against it.
	Expect Expect
}

// Options vary a model at build time (zero: the model as the suite runs it).
type Options struct {
	MAC   net.HardwareAddr // the station address the chip holds
	Speed hw.Speed         // the USB speed to enumerate at (0: the model's)
	Chip  string           // one of Model.Chips, for a chip variant
}

// Instance is a built model.
type Instance struct {
	Dev *sim.Device
	// Plug connects the model's Ethernet side to one end of a sim.Wire.
	Plug func(e *sim.End)
	// SetLink takes the link partner away and back (the cable).
	SetLink func(up bool)
	// Counters are the model's own counters the suite checks (frames it
	// refused, ...), by name.
	Counters func() map[string]int
	// BulkIn is the model's bulk IN endpoint address.
	BulkIn uint8
	// RxFull reports the chip's own RX FIFO above its PAUSE mark (nil:
	// the chip keeps no FIFO of its own beyond the engine's queue).
	RxFull func() bool
	// Requests is the model's control request log.
	Requests func() []Request
	// Stats is the model's counters, one line, for logs.
	Stats func() string
	// RxOverflow counts the frames from the wire the device dropped for
	// want of room toward the host (its FIFO or the engine's IN queue
	// full): the device's share of RX losses, as a chip's
	// missed-frame counter is.
	RxOverflow func() uint64
	// OversizeNext makes the next RX NTB extra bytes longer than the
	// host negotiated (hw/sim/ncm Model.OversizeNext); nil for a model
	// that sends no NTBs.
	OversizeNext func(extra int)
	// GateLinkOnFilter holds the model's link-up notifications until the
	// host's next SET_ETHERNET_PACKET_FILTER (hw/sim/ncm); nil for the
	// other models.
	GateLinkOnFilter func(on bool)
}

// Paused reports the model's PAUSE (802.3x): its RX side is full, so a
// link partner that obeys flow control waits. That is the chip's own FIFO
// above its mark (RxFull), or half the sim engine's bulk IN queue taken:
// the wire of a model is instant and its bus is not, and a partner that
// never waited would overflow what a real chip would have paused it for.
// The kernel drivers and dongle's enable flow control (MEDIUM_MODE's RFC
// and TFC on the ASIX chips); a partner on the wire honours it.
func (in *Instance) Paused() bool {
	return in.Dev.Host().Queued(in.BulkIn) >= sim.InQueueDepth/2 || (in.RxFull != nil && in.RxFull())
}

// Request is one control request a model answered.
type Request struct {
	Setup   hw.Setup
	Data    []byte
	Stalled bool
}

// Expect is what the conformance suite expects of a model.
type Expect struct {
	Driver          string
	Vendor, Product uint16
	MAC             net.HardwareAddr
	USBSpeed        hw.Speed
	MaxPacket       int
	LinkMbps        int // 0: the link speed is not checked
	// NoLinkControl says why the link cannot be taken down ("" when it can).
	NoLinkControl string
	// Filter is what the device's receive filter really drops (the zero
	// value: everything the host asks it to).
	Filter FilterFinding
}

// Entries returns the catalog, in Probe's order. The slice is the
// caller's; the entries are shared and must not be changed.
func Entries() []Entry { return slices.Clone(entries) }

// All returns the minidrivers for real hardware, in Probe's order.
func All() []usbnet.Minidriver {
	out := make([]usbnet.Minidriver, len(entries))
	for i := range entries {
		out[i] = entries[i].New()
	}
	return out
}

// ForModels returns the minidrivers for models and traces (no settling
// delays), in Probe's order.
func ForModels() []usbnet.Minidriver {
	out := make([]usbnet.Minidriver, len(entries))
	for i := range entries {
		out[i] = entries[i].ForModels()
	}
	return out
}

// Lookup returns the entry called name (its Linux name or an alias).
func Lookup(name string) (Entry, bool) {
	for _, e := range entries {
		if e.Name == name || slices.Contains(e.Aliases, name) {
			return e, true
		}
	}
	return Entry{}, false
}

// Names lists every driver name and alias, for messages:
// "cdc_ether (ecm), asix, ax88179_178a (ax88179)".
func Names() string {
	var parts []string
	for _, e := range entries {
		s := e.Name
		if len(e.Aliases) > 0 {
			s += " (" + strings.Join(e.Aliases, ", ") + ")"
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, ", ")
}

// ErrUnknown is wrapped by the errors of ByName and ModelBySelector.
var ErrUnknown = fmt.Errorf("not in the catalog: %w", hw.ErrNotFound)

// ByName returns the minidriver called name (see Lookup), for models and
// traces when models is true; an error naming the known ones otherwise.
func ByName(name string, models bool) (usbnet.Minidriver, error) {
	e, ok := Lookup(name)
	if !ok {
		return nil, fmt.Errorf("driver %q (have %s): %w", name, Names(), ErrUnknown)
	}
	if models {
		return e.ForModels(), nil
	}
	return e.New(), nil
}

// Models lists every model, in the suite's order.
func Models() []Model {
	var out []Model
	for _, e := range entries {
		out = append(out, e.Models...)
	}
	return out
}

// Selectors lists every model's selector, in the suite's order.
func Selectors() []string {
	var out []string
	for _, m := range Models() {
		out = append(out, m.Selector)
	}
	return out
}

// ModelBySelector returns the model sel names ("sim:ax88772").
func ModelBySelector(sel string) (Model, error) {
	for _, m := range Models() {
		if m.Selector == sel {
			return m, nil
		}
	}
	return Model{}, fmt.Errorf("device model %q (have %s): %w", sel, strings.Join(Selectors(), ", "), ErrUnknown)
}

// Chips lists the names cmd/ffsmodel serves (every model's Chips).
func Chips() []string {
	var out []string
	for _, m := range Models() {
		out = append(out, m.Chips...)
	}
	return out
}

// ModelByChip returns the model cmd/ffsmodel serves as chip ("ax88772b").
func ModelByChip(chip string) (Model, error) {
	for _, m := range Models() {
		if slices.Contains(m.Chips, chip) {
			return m, nil
		}
	}
	return Model{}, fmt.Errorf("chip model %q (have %s): %w", chip, strings.Join(Chips(), ", "), ErrUnknown)
}

// VendorIDs lists every VID:PID a minidriver claims by ID (class matches,
// Vendor 0, are left out): what the udev rule grants, and what
// enumeration looks for besides the class functions.
func VendorIDs() []hw.ID {
	var ids []hw.ID
	for _, e := range entries {
		for _, id := range e.New().IDs() {
			if id.Vendor != 0 {
				ids = append(ids, hw.ID{Vendor: id.Vendor, Product: id.Product})
			}
		}
	}
	return ids
}

// ByID is the name of the minidriver that claims vid:pid by ID, or ""
// when none does (the device may still match a class driver).
func ByID(vid, pid uint16) string {
	for _, e := range entries {
		for _, id := range e.New().IDs() {
			if id.Vendor != 0 && id.Vendor == vid && id.Product == pid {
				return e.Name
			}
		}
	}
	return ""
}

// DriverEnv names the environment variable that forces one driver
// (`--driver` wins over it where a command has the flag).
const DriverEnv = "DONGLE_DRIVER"

// Drivers is the list to probe with: every driver (All, or ForModels when
// models is true) when choice is "", else only the one choice names (its
// Linux name or an alias). Forcing a driver is how a device with two
// functions is driven through the other one: a Realtek adapter probed with
// "cdc_ether" alone binds its CDC ECM configuration, since nothing then
// claims its vendor configuration (usbnet.Match).
func Drivers(choice string, models bool) ([]usbnet.Minidriver, error) {
	if choice == "" {
		if models {
			return ForModels(), nil
		}
		return All(), nil
	}
	d, err := ByName(choice, models)
	if err != nil {
		return nil, err
	}
	return []usbnet.Minidriver{d}, nil
}
