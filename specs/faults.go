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

// driversBack waits until a device with info's VID:PID is enumerated again
// (after a replug it has a new address) with the kernel drivers it had
// before the spec.
func driversBack(c *gousb.Context, info hw.Info, before []string) error {
	deadline := time.Now().Add(replugWait)
	var last []string
	for {
		list, err := c.List(func(x gousb.Candidate) bool { return x.Vendor == info.Vendor && x.Product == info.Product })
		if err == nil && len(list) == 1 {
			if last = list[0].Drivers(); slices.Equal(before, last) {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%04x:%04x: %v after the replug, not the kernel drivers %v it had before the spec (waited %v)", info.Vendor, info.Product, last, before, replugWait)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
