package specs

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"dongle/hw"
	"dongle/hw/gousb"
)

// Real faults for the usb backend: what a device in front of us can be made
// to do for real (a halted endpoint, an unplug), chosen by
// DONGLE_FAULTS=SPEC ("scheme" or "scheme:arg"), or, without it, by the
// peer: a wire-side peer scheme with a fault scheme of the same name (the
// lab's usbnet-host, ffsmodel) gives both through one connection.
//
// Each scheme declares the fault caps it has (FaultCaps); the backend then
// has CapFaults and those, and the error-recovery specs that need another
// fault skip with the scheme's reason.

// FaultScheme is one source of real faults.
type FaultScheme struct {
	// Name is the scheme: "udc" for DONGLE_FAULTS=udc:ecm.
	Name string
	// Usage is one line for the help: "udc:GADGET  unbind/bind the gadget's UDC".
	Usage string
	// Caps are the fault caps (of FaultCaps) its FaultConns have.
	Caps []Cap
	// Why says why it lacks a fault cap (c is one of FaultCaps not in Caps).
	Why func(c Cap) string
	// Open makes the faults of one spec from the arg after "scheme:" and the
	// spec's peer (nil without one; a scheme named as the peer's may drive
	// the peer's connection). Errors wrap ErrFaults.
	Open func(ctx context.Context, arg string, peer PeerConn) (FaultConn, error)
}

// FaultConn is the faults of one spec.
type FaultConn interface {
	Faults
	// Restore undoes what outlives a fault: an unplugged device is plugged
	// back in. The backend then waits until the device is enumerated and
	// its kernel driver bound again, as the spec found it.
	Restore() error
	// Close releases what Open made (not the peer it was given).
	Close() error
}

var (
	// ErrFaults is the root of every fault-source error.
	ErrFaults = errors.New("faults")
	// ErrNoFault: the fault asked for is not one this source has.
	ErrNoFault = fmt.Errorf("%w: not available", ErrFaults)
	// ErrUnknownFaults: DONGLE_FAULTS names no registered scheme.
	ErrUnknownFaults = fmt.Errorf("%w: unknown scheme", ErrFaults)
)

var (
	faultMu      sync.Mutex
	faultSchemes = map[string]FaultScheme{}
)

// RegisterFaults adds a scheme; call it from an init function. A scheme
// without a name or Open, with a cap outside FaultCaps, or registered
// twice is a programming error and panics.
func RegisterFaults(s FaultScheme) {
	faultMu.Lock()
	defer faultMu.Unlock()
	if s.Name == "" || strings.Contains(s.Name, ":") || s.Open == nil || s.Why == nil {
		panic(fmt.Sprintf("specs.RegisterFaults(%q): needs a name without ':', Open and Why", s.Name))
	}
	for _, c := range s.Caps {
		if !slices.Contains(FaultCaps, c) {
			panic(fmt.Sprintf("specs.RegisterFaults(%q): %s is not a fault cap", s.Name, c))
		}
	}
	if _, dup := faultSchemes[s.Name]; dup {
		panic(fmt.Sprintf("specs.RegisterFaults(%q): registered twice", s.Name))
	}
	faultSchemes[s.Name] = s
}

// selectFaults is the fault scheme for this run: DONGLE_FAULTS's, else the
// one named as the peer scheme (with the peer's arg), else none (ok false).
func selectFaults(peerScheme, peerArg string) (s FaultScheme, arg string, ok bool, err error) {
	faultMu.Lock()
	defer faultMu.Unlock()
	if spec := strings.TrimSpace(os.Getenv("DONGLE_FAULTS")); spec != "" {
		name, arg, _ := strings.Cut(spec, ":")
		s, ok := faultSchemes[name]
		if !ok {
			var known []string
			for _, k := range faultSchemes {
				known = append(known, k.Usage)
			}
			sort.Strings(known)
			return FaultScheme{}, "", false, fmt.Errorf("DONGLE_FAULTS=%q: %w %q (known: %s)", spec, ErrUnknownFaults, name, strings.Join(known, "; "))
		}
		return s, arg, true, nil
	}
	if s, ok := faultSchemes[peerScheme]; ok && peerScheme != "" {
		return s, peerArg, true, nil
	}
	return FaultScheme{}, "", false, nil
}

// noRealFaults is why a real adapter without a fault source has no faults.
const noRealFaults = "stalls and unplugs cannot be injected into a real device without a source of real faults (DONGLE_FAULTS, or a peer that has them: the lab's usbnet-host and ffsmodel)"

// noRealTimeout is why no real device here times out a bulk transfer.
const noRealTimeout = "no real device can time out a bulk transfer here: gousb submits bulk transfers with no timeout (as Linux's usbnet submits its URBs), so a device that NAKs is only ever slow; the timeout path runs against the device models"

// faultCaps are the fault caps the usb backend has.
func (b *usbBackend) faultCaps() []Cap {
	if !b.hasFaults {
		return nil
	}
	return append([]Cap{CapFaults}, b.faults.Caps...)
}

// faultWhy explains a missing fault cap.
func (b *usbBackend) faultWhy(c Cap) string {
	if !b.hasFaults {
		return noRealFaults
	}
	return fmt.Sprintf("faults from %s: %s", b.faults.Name, b.faults.Why(c))
}

// openFaults opens the spec's faults, if the backend has a source.
func (b *usbBackend) openFaults(ctx context.Context, peer PeerConn) (FaultConn, error) {
	if !b.hasFaults {
		return nil, nil
	}
	fc, err := b.faults.Open(ctx, b.faultArg, peer)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	return fc, nil
}

// replugWait is how long a device restored after an unplug has to come
// back with its kernel driver bound.
const replugWait = 30 * time.Second

// replugPoll is how often driversBack enumerates while it waits.
const replugPoll = 100 * time.Millisecond

// ErrNotRestored: after the spec, the device was not back as the spec found
// it (listed once, at a new address after an unplug, with the same kernel
// drivers bound).
var ErrNotRestored = errors.New("device not restored as found")

// unplugWatch is a spec's FaultConn as the usb backend hands it to the spec:
// it notes a successful Unplug, so that the target's Close knows the device
// it opened is gone and must come back at a new address.
type unplugWatch struct {
	FaultConn
	unplugged atomic.Bool
}

var _ FaultConn = (*unplugWatch)(nil)

func (w *unplugWatch) Unplug() error {
	err := w.FaultConn.Unplug()
	if err == nil {
		w.unplugged.Store(true)
	}
	return err
}

// listNow enumerates the host's USB devices through a libusb context of its
// own. A context opened before a replug cannot see the device come back:
// libusb drops an unplugged device from its list when an open handle to it
// fails, but learns of new devices only from its hotplug monitor, which
// listens to udevd's events, and the lab has no udevd. A fresh context
// scans sysfs when it opens.
func listNow() ([]gousb.Candidate, error) {
	c, err := gousb.Open()
	if err != nil {
		return nil, err
	}
	defer c.Close()
	return c.List(nil)
}

// driversBack waits, for up to wait, until list shows exactly one device
// with info's VID:PID, bound to the kernel drivers it had before the spec
// (before); after an unplug (unplugged), one at another bus and address
// than info's, so that the old device still being listed while the kernel
// has yet to take it off the bus does not pass for the replugged one. The
// next spec opens that device by its VID:PID. The error wraps
// ErrNotRestored and names what was listed last.
//
// A device attached over USB/IP (link Imported) is the one attached from
// the same host's bus ID: adapters of one model on several hosts share a
// VID:PID, and each suite run waits for its own.
func driversBack(list func() ([]gousb.Candidate, error), info hw.Info, link gousb.USBIP, before []string, unplugged bool, wait time.Duration) error {
	deadline := time.Now().Add(wait)
	for {
		all, err := list()
		var seen []gousb.Candidate
		for _, x := range all {
			// A device exported over USB/IP keeps its VID:PID here but is
			// the remote host's (the same device attached through
			// vhci_hcd is the one the spec had): never the one counted.
			if x.Vendor == info.Vendor && x.Product == info.Product && x.USBIP.Role != gousb.Exported &&
				(link.Role != gousb.Imported || x.USBIP.Role == gousb.Imported && x.USBIP.Host == link.Host && x.USBIP.BusID == link.BusID) {
				seen = append(seen, x)
			}
		}
		if err == nil && len(seen) == 1 && slices.Equal(before, seen[0].Drivers()) &&
			!(unplugged && seen[0].Bus == info.Bus && seen[0].Address == info.Address) {
			return nil
		}
		if time.Now().After(deadline) {
			want := "listed once"
			if unplugged {
				want = fmt.Sprintf("listed once at a new address (it was bus %d addr %d)", info.Bus, info.Address)
			}
			got := "none"
			if len(seen) > 0 {
				var s []string
				for _, x := range seen {
					s = append(s, fmt.Sprintf("bus %d addr %d drivers %v", x.Bus, x.Address, x.Drivers()))
				}
				got = strings.Join(s, "; ")
			}
			if err != nil {
				got = err.Error()
			}
			return fmt.Errorf("%04x:%04x: %w: want it %s with the kernel drivers %v it had before the spec; after %v: %s",
				info.Vendor, info.Product, ErrNotRestored, want, before, wait, got)
		}
		time.Sleep(replugPoll)
	}
}
