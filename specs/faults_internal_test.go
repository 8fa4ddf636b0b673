package specs

import (
	"errors"
	"strings"
	"testing"

	"dongle/hw/gousb"
)

// TestUSBBackendFaultCaps: a real adapter gains exactly the fault caps its
// source declares (from DONGLE_FAULTS, or from the peer scheme of the same
// name), CapFaults with them, and the reason for each one it lacks.
func TestUSBBackendFaultCaps(t *testing.T) {
	stubEnumerate(t, func(string) (gousb.Candidate, bool) { return gousb.Candidate{}, false })
	for _, c := range []struct {
		peer, faults string
		has, not     []Cap
		why          map[Cap]string // a missing cap's reason contains this
	}{
		{"", "", nil, []Cap{CapFaults, CapStallIn, CapStallOut, CapTimeout, CapUnplug},
			map[Cap]string{CapUnplug: "DONGLE_FAULTS", CapFaults: "DONGLE_FAULTS"}},
		{"", "udc:ecm", []Cap{CapFaults, CapUnplug}, []Cap{CapStallIn, CapStallOut, CapTimeout},
			map[Cap]string{CapStallIn: "configfs", CapTimeout: "no timeout"}},
		{"usbnet-host", "", []Cap{CapFaults, CapUnplug}, []Cap{CapStallIn, CapStallOut, CapTimeout},
			map[Cap]string{CapStallOut: "QEMU's device model"}},
		{"ffsmodel:/run/x.sock", "", []Cap{CapFaults, CapStallIn, CapUnplug}, []Cap{CapStallOut, CapTimeout},
			map[Cap]string{CapStallOut: "ffs_epfile_io", CapTimeout: "NAKs"}},
		// DONGLE_FAULTS wins over the peer's own.
		{"ffsmodel:/run/x.sock", "udc:ecm", []Cap{CapUnplug}, []Cap{CapStallIn}, nil},
		// A peer with no fault scheme of its name brings none.
		{"echo", "", nil, []Cap{CapFaults, CapUnplug}, nil},
	} {
		t.Setenv("DONGLE_PEER", c.peer)
		t.Setenv("DONGLE_FAULTS", c.faults)
		b, err := USBBackend("usb:0b95:1790")
		if err != nil {
			t.Fatalf("DONGLE_PEER=%q DONGLE_FAULTS=%q: %v", c.peer, c.faults, err)
		}
		for _, x := range c.has {
			if !has(b, x) {
				t.Errorf("peer %q faults %q: no %s (caps %v)", c.peer, c.faults, x, b.Caps())
			}
		}
		for _, x := range c.not {
			if has(b, x) {
				t.Errorf("peer %q faults %q: has %s (caps %v)", c.peer, c.faults, x, b.Caps())
			}
		}
		for x, want := range c.why {
			if got := b.Why(x); !strings.Contains(got, want) {
				t.Errorf("peer %q faults %q: Why(%s) = %q, want it to mention %q", c.peer, c.faults, x, got, want)
			}
		}
	}
	t.Setenv("DONGLE_PEER", "")
	t.Setenv("DONGLE_FAULTS", "nope:1")
	if _, err := USBBackend("usb:0b95:1790"); !errors.Is(err, ErrUnknownFaults) || !strings.Contains(err.Error(), "udc:GADGET") {
		t.Errorf("DONGLE_FAULTS=nope:1: %v, want ErrUnknownFaults listing the known schemes", err)
	}
}

func TestRegisterFaultsMisuse(t *testing.T) {
	ok := FaultScheme{Name: "x", Open: openLabFaults, Why: func(Cap) string { return "" }}
	for name, s := range map[string]FaultScheme{
		"no name":     {Open: ok.Open, Why: ok.Why},
		"colon":       {Name: "a:b", Open: ok.Open, Why: ok.Why},
		"no open":     {Name: "x", Why: ok.Why},
		"no why":      {Name: "x", Open: ok.Open},
		"not a fault": {Name: "x", Open: ok.Open, Why: ok.Why, Caps: []Cap{CapPeer}},
		"twice (udc)": {Name: "udc", Open: ok.Open, Why: ok.Why},
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: RegisterFaults did not panic", name)
				}
			}()
			RegisterFaults(s)
		}()
	}
}

// TestSimFaultCaps: the models have every fault.
func TestSimFaultCaps(t *testing.T) {
	for _, b := range SimBackends() {
		for _, c := range append([]Cap{CapFaults}, FaultCaps...) {
			if !has(b, c) {
				t.Errorf("%s lacks %s", b.Name(), c)
			}
		}
	}
}
