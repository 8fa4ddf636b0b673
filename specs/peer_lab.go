package specs

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/onsi/ginkgo/v2"

	"dongle/hw/vmlab/guest"
)

// The virtual lab's wire-side peers that speak the wire protocol of
// hw/vmlab/guest (wire.go), and the real faults they offer:
//
//	usbnet-host     QEMU usb-net's host peer, through the guest's serial port
//	                (guest.DialPeer): frames injected and captured on the host
//	                side of -netdev dgram; unplug/replug are QEMU's
//	                device_del/device_add
//	ffsmodel:SOCK   an ASIX model's wire inside cmd/ffsmodel (-sock SOCK):
//	                frames, its cable (link), a halted bulk IN endpoint
//	                (FunctionFS), unplug/replug (the gadget's UDC)
//
// Each spec's peer puts the far side in wire mode (nothing echoed, every
// frame kept) and sets it back to echo on Close; a spec that needs a
// reflector and not a peer (needs-echo without needs-peer: "come back
// through an echoing far side") finds it echoing instead, so the backend
// has CapEcho too and both kinds of spec run against the real far side.

func init() {
	RegisterPeer(PeerScheme{
		Name:  "usbnet-host",
		Usage: "usbnet-host  QEMU usb-net's host peer in the virtual lab (through /dev/ttyS2)",
		Echo:  true,
		Open: func(ctx context.Context, arg string) (PeerConn, error) {
			if arg != "" {
				return nil, fmt.Errorf("usbnet-host:%s: %w: it takes no argument", arg, ErrPeerArg)
			}
			p, err := guest.DialPeer()
			if err != nil {
				return nil, fmt.Errorf("usbnet-host: %w: %w", ErrPeerNotFound, err)
			}
			return openLabWire("usbnet-host", p)
		},
	})
	RegisterPeer(PeerScheme{
		Name:  "ffsmodel",
		Usage: "ffsmodel:SOCK  an ASIX model's wire in the virtual lab (ffsmodel -sock SOCK)",
		Echo:  true,
		Link:  true,
		Open: func(ctx context.Context, arg string) (PeerConn, error) {
			if arg == "" {
				return nil, fmt.Errorf("ffsmodel: %w: the model's control socket (ffsmodel:/run/ffsmodel.sock)", ErrPeerArg)
			}
			p, err := guest.DialWire(arg)
			if err != nil {
				return nil, fmt.Errorf("ffsmodel:%s: %w: %w", arg, ErrPeerNotFound, err)
			}
			return openLabWire("ffsmodel:"+arg, p)
		},
	})
	RegisterPeer(PeerScheme{
		Name:  "usbipmodel",
		Usage: "usbipmodel:SOCK  a model's wire in the virtual lab, the model on vhci_hcd over USB/IP (ffsmodel -usbip -sock SOCK)",
		Echo:  true,
		Link:  true,
		Open: func(ctx context.Context, arg string) (PeerConn, error) {
			if arg == "" {
				return nil, fmt.Errorf("usbipmodel: %w: the model's control socket (usbipmodel:/run/ffsmodel.sock)", ErrPeerArg)
			}
			p, err := guest.DialWire(arg)
			if err != nil {
				return nil, fmt.Errorf("usbipmodel:%s: %w: %w", arg, ErrPeerNotFound, err)
			}
			return openLabWire("usbipmodel:"+arg, p)
		},
	})
	RegisterFaults(FaultScheme{
		Name:  "usbipmodel",
		Usage: "usbipmodel:SOCK  a USB/IP model's endpoints halted (the sim engine's STALL, either direction) and its vhci port detached",
		Caps:  []Cap{CapStallIn, CapStallOut, CapUnplug},
		Why: func(c Cap) string {
			return noRealTimeout
		},
		Open: openLabFaults,
	})
	RegisterFaults(FaultScheme{
		Name:  "usbnet-host",
		Usage: "usbnet-host  QEMU usb-net unplugged and replugged (device_del/device_add) by its host peer",
		Caps:  []Cap{CapUnplug},
		Why: func(c Cap) string {
			if c == CapTimeout {
				return noRealTimeout
			}
			return "QEMU's usb-net cannot halt its endpoints on command: its USB side is QEMU's device model, which stalls only requests it does not know"
		},
		Open: openLabFaults,
	})
	RegisterFaults(FaultScheme{
		Name:  "ffsmodel",
		Usage: "ffsmodel:SOCK  an ASIX model's bulk IN halted (FunctionFS) and its gadget unplugged (UDC)",
		Caps:  []Cap{CapStallIn, CapUnplug},
		Why: func(c Cap) string {
			if c == CapTimeout {
				return noRealTimeout
			}
			return "a limitation of dongle's FunctionFS bridge (hw/ffs), not of the chip the model stands for: the bridge keeps a read pending on the bulk OUT file for the host's next packet, and FunctionFS halts an OUT endpoint only through a write to that file, which waits for the mutex the read holds (f_fs.c ffs_epfile_io), so the halt would come after the host's next frame was accepted, not before it"
		},
		Open: openLabFaults,
	})
}

// labWire is a spec's handle on a lab peer (usbnet-host, ffsmodel).
type labWire struct {
	name string
	mu   sync.Mutex // one command at a time on p
	p    *guest.Peer

	// The peer keeps what the device sent since its last reset, so an
	// answer holds every non-test frame of the current window: ignored is
	// that count in the last answer, and ignoredBefore the windows Reset
	// closed (Ignored counts since open, as PeerConn says).
	ignored, ignoredBefore uint64
	resetErr               error // Reset's failure, reported by the next Received
	closed                 bool
	unplug                 bool // unplugged by the spec, not plugged back yet
}

var (
	_ PeerConn  = (*labWire)(nil)
	_ PeerLink  = (*labWire)(nil)
	_ FaultConn = (*labFaults)(nil)
)

func openLabWire(name string, p *guest.Peer) (*labWire, error) {
	mode := guest.PeerWire
	if specWantsEcho() {
		mode = guest.PeerEcho
	}
	if err := errors.Join(p.SetMode(mode), p.Reset()); err != nil {
		p.Close()
		return nil, fmt.Errorf("%s: %w: %w", name, ErrPeer, err)
	}
	return &labWire{name: name, p: p}, nil
}

func (w *labWire) do(f func() error) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return fmt.Errorf("%s: %w", w.name, ErrPeerClosed)
	}
	if err := f(); err != nil {
		return fmt.Errorf("%s: %w", w.name, err)
	}
	return nil
}

func (w *labWire) Inject(frame []byte) error { return w.do(func() error { return w.p.Inject(frame) }) }

// Received asks the peer for what it kept and keeps this run's test
// frames; other frames on the wire count as ignored, and as many more are
// asked for.
func (w *labWire) Received(ctx context.Context, n int) ([][]byte, error) {
	var test [][]byte
	err := w.do(func() error {
		if err := w.resetErr; err != nil {
			w.resetErr = nil
			return fmt.Errorf("reset before: %w", err)
		}
		want := n
		for {
			wait := time.Until(deadlineOf(ctx))
			got, err := w.p.Frames(want, max(wait, time.Millisecond))
			test = test[:0]
			for _, f := range got {
				if IsTestFrame(f) {
					test = append(test, f)
				}
			}
			w.ignored = uint64(len(got) - len(test))
			switch {
			case len(test) >= n:
				return nil
			case err != nil:
				return fmt.Errorf("%d of %d frames on the wire: %w", len(test), n, err)
			}
			want = n + int(w.ignored) // other frames took places: ask for more
		}
	})
	return test, err
}

// specWantsEcho reports whether the running spec needs a reflector and
// not a peer it drives.
func specWantsEcho() bool {
	labels := ginkgo.CurrentSpecReport().Labels()
	return slices.Contains(labels, string(CapEcho)) && !slices.Contains(labels, string(CapPeer))
}

// deadlineOf is ctx's deadline, or the spec timeout from now.
func deadlineOf(ctx context.Context) time.Time {
	if d, ok := ctx.Deadline(); ok {
		return d
	}
	return time.Now().Add(specTimeout)
}

func (w *labWire) Reset() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.closed {
		w.resetErr = w.p.Reset()
		w.ignoredBefore += w.ignored
		w.ignored = 0
	}
}

func (w *labWire) Ignored() uint64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.ignoredBefore + w.ignored
}

func (w *labWire) SetLink(up bool) error { return w.do(func() error { return w.p.SetLink(up) }) }

// Close sets the far side back to echo (what the lab starts with) and
// closes the connection. A command still in flight (a spec that timed out
// while waiting for frames) is cut off by closing the connection under it:
// its late answer must not become the next spec's.
func (w *labWire) Close() error {
	if !w.mu.TryLock() {
		err := w.p.Close()
		w.mu.Lock()
		defer w.mu.Unlock()
		w.closed = true
		return errors.Join(fmt.Errorf("%s: closed with a command in flight", w.name), err)
	}
	defer w.mu.Unlock()
	if w.closed {
		return fmt.Errorf("%s: %w", w.name, ErrPeerClosed)
	}
	w.closed = true
	return errors.Join(w.p.SetMode(guest.PeerEcho), w.p.Close())
}

// labFaults are a lab peer's faults, through the peer's own connection.
type labFaults struct{ w *labWire }

func openLabFaults(ctx context.Context, arg string, peer PeerConn) (FaultConn, error) {
	w, ok := peer.(*labWire)
	if !ok {
		return nil, fmt.Errorf("%w: the lab's faults come through its peer (DONGLE_PEER=usbnet-host, ffsmodel:SOCK or usbipmodel:SOCK), not with --peer=%T", ErrFaults, peer)
	}
	return &labFaults{w: w}, nil
}

func (f *labFaults) Stall(ep uint8) error {
	return f.w.do(func() error { return f.w.p.Stall(ep) })
}

func (f *labFaults) Unplug() error {
	return f.w.do(func() error {
		if err := f.w.p.Unplug(); err != nil {
			return err
		}
		f.w.unplug = true
		return nil
	})
}

func (f *labFaults) TimeoutNext(ep uint8, n int) error {
	return fmt.Errorf("%s: %w: %s", f.w.name, ErrNoFault, noRealTimeout)
}

func (f *labFaults) Restore() error {
	return f.w.do(func() error {
		if !f.w.unplug {
			return nil
		}
		f.w.unplug = false
		return f.w.p.Replug()
	})
}

// Close leaves the connection to the peer, which closes it.
func (f *labFaults) Close() error { return nil }

// udcFaults unplug a configfs gadget by unbinding it from its UDC, as
// pulling its cable would: DONGLE_FAULTS=udc:GADGET (the lab's ECM gadget:
// udc:ecm).
//
// A bus-powered device that is unplugged loses power and comes back
// fresh; a gadget unbound from its UDC keeps its functions' state. For
// f_ecm that state is nothing that outlives the unbind; Linux f_ncm keeps
// the NTB it had open (ncm_unbind cancels its flush timer, and neither
// ncm_disable nor the next ncm_set_alt frees it), so every frame its
// netdev sends after the replug joins that NTB and is held until later
// frames fill it (lab_ncm_hold.go; measured: an unplug under traffic left
// one frame held, which took 30 more to release; ten frames held before
// an unplug came out after it, with 21 more). Restore therefore
// powers f_ncm up afresh, as the replug of a real device does: while the
// UDC is unbound, each ncm function is unlinked from its configuration
// and linked again (configfs frees the old struct f_ncm and allocates a
// new one; its netdev, which belongs to the function instance, stays).
type udcFaults struct {
	gadget string // /sys/kernel/config/usb_gadget/GADGET
	udc    string // the UDC it was bound to
	mu     sync.Mutex
	off    bool
}

func init() {
	RegisterFaults(FaultScheme{
		Name:  "udc",
		Usage: "udc:GADGET  a configfs gadget unplugged by unbinding its UDC (the lab's ECM gadget: udc:ecm)",
		Caps:  []Cap{CapUnplug},
		Why: func(c Cap) string {
			if c == CapTimeout {
				return noRealTimeout
			}
			return "a kernel gadget function's endpoints are the kernel's (f_ecm): configfs offers no way to halt one on command"
		},
		Open: func(ctx context.Context, arg string, _ PeerConn) (FaultConn, error) {
			if arg == "" || strings.ContainsAny(arg, "/.") {
				return nil, fmt.Errorf("udc:%s: %w: want a gadget's name under %s", arg, ErrFaults, gadgetRoot)
			}
			dir := filepath.Join(gadgetRoot, arg)
			b, err := os.ReadFile(filepath.Join(dir, "UDC"))
			if err != nil {
				return nil, fmt.Errorf("udc:%s: %w: %w", arg, ErrFaults, err)
			}
			udc := strings.TrimSpace(string(b))
			if udc == "" {
				return nil, fmt.Errorf("udc:%s: %w: the gadget is not bound to a UDC", arg, ErrFaults)
			}
			return &udcFaults{gadget: dir, udc: udc}, nil
		},
	})
}

const gadgetRoot = "/sys/kernel/config/usb_gadget"

func (u *udcFaults) Stall(ep uint8) error {
	return fmt.Errorf("%s: %w: no endpoint halt through configfs", u.gadget, ErrNoFault)
}

func (u *udcFaults) TimeoutNext(ep uint8, n int) error {
	return fmt.Errorf("%s: %w: %s", u.gadget, ErrNoFault, noRealTimeout)
}

func (u *udcFaults) Unplug() error {
	u.mu.Lock()
	defer u.mu.Unlock()
	if err := os.WriteFile(filepath.Join(u.gadget, "UDC"), []byte("\n"), 0); err != nil {
		return fmt.Errorf("%s: unbind from %s: %w", u.gadget, u.udc, err)
	}
	u.off = true
	return nil
}

func (u *udcFaults) Restore() error {
	u.mu.Lock()
	defer u.mu.Unlock()
	if !u.off {
		return nil
	}
	if err := relinkFunctions(u.gadget, "ncm."); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(u.gadget, "UDC"), []byte(u.udc), 0); err != nil {
		return fmt.Errorf("%s: bind to %s again: %w", u.gadget, u.udc, err)
	}
	u.off = false
	return nil
}

func (u *udcFaults) Close() error { return nil }

// relinkFunctions unlinks every function whose name starts with prefix
// from the configurations of the (unbound) gadget at dir and links it
// again: the gadget framework frees the function and allocates it anew
// from its instance, as at power-up.
func relinkFunctions(dir, prefix string) error {
	links, err := filepath.Glob(filepath.Join(dir, "configs", "*", prefix+"*"))
	if err != nil {
		return fmt.Errorf("%s: %w", dir, err)
	}
	for _, l := range links {
		fn := filepath.Join(dir, "functions", filepath.Base(l))
		if err := os.Remove(l); err != nil {
			return fmt.Errorf("%s: unlink %s: %w", dir, l, err)
		}
		if err := os.Symlink(fn, l); err != nil {
			return fmt.Errorf("%s: link %s again: %w", dir, l, err)
		}
	}
	return nil
}

// withoutPeer is b without its wire-side peer and its faults, for specs
// that drive the far side themselves (lab_specs.go's farSide: the host
// peer's serial channel carries one conversation at a time).
func withoutPeer(b Backend) Backend {
	ub, ok := b.(*usbBackend)
	if !ok {
		return b
	}
	c := *ub
	c.peer, c.peerArg = PeerScheme{}, ""
	c.faults, c.faultArg, c.hasFaults = FaultScheme{}, "", false
	return &c
}
