package specs

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"dongle/hw"
	"dongle/hw/gousb"
)

// asixAt is an 0b95:772b device at bus 5 address addr with the given
// kernel drivers on its interface 0.
func asixAt(addr int, drivers ...string) gousb.Candidate {
	c := gousb.Candidate{Info: hw.Info{Bus: 5, Address: addr, Vendor: 0x0b95, Product: 0x772b}, ActiveConfig: 1}
	for i, d := range drivers {
		c.Interfaces = append(c.Interfaces, gousb.Iface{Config: 1, Number: i, Driver: d})
	}
	return c
}

// listing answers each call with the next of steps (the last one for ever)
// and counts the calls.
type listing struct {
	steps [][]gousb.Candidate
	err   error
	calls int
}

func (l *listing) list() ([]gousb.Candidate, error) {
	i := min(l.calls, len(l.steps)-1)
	l.calls++
	return l.steps[i], l.err
}

var asixBefore = hw.Info{Bus: 5, Address: 3, Vendor: 0x0b95, Product: 0x772b}

// TestDriversBackWaitsForTheReplug: after an unplug, the device the spec
// opened (still listed while the kernel has yet to drop it) does not pass
// for the replugged one; driversBack returns once the device is listed
// once at a new address with the drivers it had, and not before.
func TestDriversBackWaitsForTheReplug(t *testing.T) {
	other := gousb.Candidate{Info: hw.Info{Bus: 1, Address: 2, Vendor: 0x0525, Product: 0xa4a2}}
	l := &listing{steps: [][]gousb.Candidate{
		{other, asixAt(3, "asix")}, // the old device, not yet gone
		{other},                    // gone
		{other, asixAt(4)},         // back, the kernel driver not bound yet
		{other, asixAt(4, "asix")}, // as found
	}}
	if err := driversBack(l.list, asixBefore, gousb.USBIP{}, []string{"asix"}, true, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if l.calls != 4 {
		t.Errorf("driversBack returned after %d listings, want 4 (the first with the drivers bound at a new address)", l.calls)
	}
}

// TestDriversBackLeavesOutTheExported: over USB/IP the exporting side's
// device (bound to usbip-host) keeps the VID:PID; it is not a second copy
// of the device, so the replug through vhci_hcd is "listed once".
func TestDriversBackLeavesOutTheExported(t *testing.T) {
	exported := asixAt(2)
	exported.Bus, exported.USBIP = 3, gousb.USBIP{Role: gousb.Exported, InUse: true}
	l := &listing{steps: [][]gousb.Candidate{
		{exported},                    // detached
		{exported, asixAt(4, "asix")}, // attached again
	}}
	if err := driversBack(l.list, asixBefore, gousb.USBIP{}, []string{"asix"}, true, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if l.calls != 2 {
		t.Errorf("driversBack returned after %d listings, want 2", l.calls)
	}
}

// TestDriversBackTellsRemoteAdaptersApart: adapters of one model attached
// from several hosts share the VID:PID; the one the spec unplugged is back
// when the one from its host's bus ID is, whatever the others do.
func TestDriversBackTellsRemoteAdaptersApart(t *testing.T) {
	from := func(addr int, host, busID string, drivers ...string) gousb.Candidate {
		c := asixAt(addr, drivers...)
		c.USBIP = gousb.USBIP{Role: gousb.Imported, Host: host, TCPPort: "3240", BusID: busID}
		return c
	}
	mine := gousb.USBIP{Role: gousb.Imported, Host: "10.0.0.7", TCPPort: "3240", BusID: "1-2"}
	other := from(9, "10.0.0.8", "1-2", "asix")
	l := &listing{steps: [][]gousb.Candidate{
		{other},                             // detached; another host's adapter stays
		{other, from(4, "10.0.0.7", "1-2")}, // attached again, no driver yet
		{other, from(4, "10.0.0.7", "1-2", "asix")}, // as found
	}}
	if err := driversBack(l.list, asixBefore, mine, []string{"asix"}, true, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if l.calls != 3 {
		t.Errorf("driversBack returned after %d listings, want 3", l.calls)
	}
	// A local device of the same model does not pass for it either.
	l = &listing{steps: [][]gousb.Candidate{{other, asixAt(4, "asix")}}}
	if err := driversBack(l.list, asixBefore, mine, []string{"asix"}, true, 250*time.Millisecond); !errors.Is(err, ErrNotRestored) {
		t.Errorf("only a local device and another host's: %v, want ErrNotRestored", err)
	}
}

// TestDriversBackWithoutUnplug: a spec that unplugged nothing leaves the
// device where it was, which is then as found.
func TestDriversBackWithoutUnplug(t *testing.T) {
	l := &listing{steps: [][]gousb.Candidate{{asixAt(3, "asix")}}}
	if err := driversBack(l.list, asixBefore, gousb.USBIP{}, []string{"asix"}, false, time.Second); err != nil {
		t.Fatal(err)
	}
	if l.calls != 1 {
		t.Errorf("%d listings, want 1", l.calls)
	}
}

// TestDriversBackFails: what is not the device as found fails after the
// wait, with ErrNotRestored and what was listed.
func TestDriversBackFails(t *testing.T) {
	for _, c := range []struct {
		name      string
		list      []gousb.Candidate
		err       error
		unplugged bool
		says      []string
	}{
		{"never back", nil, nil, true, []string{"none", "bus 5 addr 3"}},
		{"old address only", []gousb.Candidate{asixAt(3, "asix")}, nil, true, []string{"bus 5 addr 3 drivers [asix]", "new address"}},
		{"listed twice", []gousb.Candidate{asixAt(3, "asix"), asixAt(4, "asix")}, nil, true, []string{"bus 5 addr 3", "bus 5 addr 4"}},
		{"listed twice, no unplug", []gousb.Candidate{asixAt(3, "asix"), asixAt(4, "asix")}, nil, false, []string{"listed once", "bus 5 addr 4"}},
		{"other driver", []gousb.Candidate{asixAt(4, "usbfs")}, nil, true, []string{"drivers [usbfs]", "[asix]"}},
		{"no driver", []gousb.Candidate{asixAt(4)}, nil, true, []string{"drivers []"}},
		{"list fails", []gousb.Candidate{asixAt(4, "asix")}, errors.New("libusb_init: no usbfs"), true, []string{"no usbfs"}},
	} {
		l := &listing{steps: [][]gousb.Candidate{c.list}, err: c.err}
		t0 := time.Now()
		err := driversBack(l.list, asixBefore, gousb.USBIP{}, []string{"asix"}, c.unplugged, 250*time.Millisecond)
		if !errors.Is(err, ErrNotRestored) {
			t.Errorf("%s: %v, want ErrNotRestored", c.name, err)
			continue
		}
		if d := time.Since(t0); d < 250*time.Millisecond {
			t.Errorf("%s: failed after %v, before the wait of 250ms was up", c.name, d)
		}
		for _, s := range c.says {
			if !strings.Contains(err.Error(), s) {
				t.Errorf("%s: %q does not say %q", c.name, err, s)
			}
		}
		if !strings.Contains(err.Error(), "0b95:772b") {
			t.Errorf("%s: %q does not name the device", c.name, err)
		}
	}
}

// stubFaults is a FaultConn whose Unplug answers err.
type stubFaults struct{ err error }

func (s stubFaults) Stall(uint8) error            { return nil }
func (s stubFaults) Unplug() error                { return s.err }
func (s stubFaults) TimeoutNext(uint8, int) error { return nil }
func (s stubFaults) Restore() error               { return nil }
func (s stubFaults) Close() error                 { return nil }

// TestUnplugWatch: only an unplug that succeeded makes the target's Close
// wait for a new address; a failed one is passed on as it was.
func TestUnplugWatch(t *testing.T) {
	w := &unplugWatch{FaultConn: stubFaults{}}
	if w.unplugged.Load() {
		t.Fatal("unplugged before any Unplug")
	}
	if err := w.Unplug(); err != nil || !w.unplugged.Load() {
		t.Errorf("Unplug: %v, unplugged %v; want nil, true", err, w.unplugged.Load())
	}
	bad := fmt.Errorf("ffsmodel: %w", ErrFaults)
	w = &unplugWatch{FaultConn: stubFaults{err: bad}}
	if err := w.Unplug(); err != bad || w.unplugged.Load() {
		t.Errorf("failed Unplug: %v, unplugged %v; want %v, false", err, w.unplugged.Load(), bad)
	}
}

// TestCheckUSBIP: DONGLE_EXPECT_USBIP passes only the device at the opened
// bus and address that is attached from that host's bus ID.
func TestCheckUSBIP(t *testing.T) {
	imported := asixAt(3, "asix")
	imported.USBIP = gousb.USBIP{Role: gousb.Imported, VHCIPort: 0, Host: "127.0.0.1", TCPPort: "3240", BusID: "3-1"}
	other := asixAt(4, "asix")
	other.USBIP = gousb.USBIP{Role: gousb.Imported, VHCIPort: 1, Host: "127.0.0.1", TCPPort: "3240", BusID: "4-1"}
	local := asixAt(5, "asix")
	list := func() ([]gousb.Candidate, error) { return []gousb.Candidate{other, imported, local}, nil }
	at := func(addr int) hw.Info { return hw.Info{Bus: 5, Address: addr, Vendor: 0x0b95, Product: 0x772b} }
	if err := checkUSBIP(list, at(3), "127.0.0.1/3-1"); err != nil {
		t.Errorf("the attached device: %v", err)
	}
	if err := checkUSBIP(list, at(5), ""); err != nil {
		t.Errorf("no expectation: %v", err)
	}
	for _, c := range []struct {
		addr       int
		want, says string
		listErr    error
	}{
		{4, "127.0.0.1/3-1", "it is remote: usbip://127.0.0.1:3240/4-1 on vhci port 1", nil},
		{3, "10.0.0.7/3-1", "it is remote: usbip://127.0.0.1:3240/3-1", nil},
		{5, "127.0.0.1/3-1", "it is a device on a local host controller", nil},
		{6, "127.0.0.1/3-1", "no longer listed", nil},
		{3, "127.0.0.1/3-1", "no usbfs", errors.New("no usbfs")},
	} {
		l := list
		if c.listErr != nil {
			l = func() ([]gousb.Candidate, error) { return nil, c.listErr }
		}
		err := checkUSBIP(l, at(c.addr), c.want)
		if !errors.Is(err, ErrNotUSBIP) || !strings.Contains(err.Error(), c.says) {
			t.Errorf("addr %d want %s: %v; want ErrNotUSBIP saying %q", c.addr, c.want, err, c.says)
		}
	}
}
