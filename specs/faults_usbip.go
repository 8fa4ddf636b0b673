package specs

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"

	"dongle/hw/gousb"
)

// usbipFaults unplug an adapter attached over USB/IP the way the test host
// of a remote lab can: `usbip detach -p PORT` takes the device off this
// host's bus, as pulling its cable would (the stack sees a disconnect on
// the vhci port; the exporter keeps it bound to usbip-host, ready to be
// attached again), and `usbip attach -r HOST -b BUSID` plugs it back (it
// enumerates again, at a new address). DONGLE_FAULTS=usbip:HOST[:TCPPORT]/BUSID.
//
// Not a UDC unbind at the exporter: that needs a hand on the exporting
// host, which a test host does not have, and what it does to this host is
// the same disconnect, followed by an export that is gone until someone
// binds it there again. The detach is the fault the test host can make
// and undo by itself.
type usbipFaults struct {
	host, tcpPort, busID string
	mu                   sync.Mutex
	off                  bool
}

func init() {
	RegisterFaults(FaultScheme{
		Name:  "usbip",
		Usage: "usbip:HOST[:TCPPORT]/BUSID  a device attached over USB/IP from HOST's BUSID: unplugged with usbip detach, plugged back with usbip attach (the lab: usbip:127.0.0.1/3-1)",
		Caps:  []Cap{CapUnplug},
		Why: func(c Cap) string {
			if c == CapTimeout {
				return noRealTimeout
			}
			return "USB/IP carries a device's STALLs but has no request that makes the device halt an endpoint: the halt must come from the device, and a kernel gadget function's endpoints are the kernel's (f_ecm): configfs offers no way to halt one on command"
		},
		Open: func(ctx context.Context, arg string, _ PeerConn) (FaultConn, error) {
			u, err := parseUSBIPFaults(arg)
			if err != nil {
				return nil, err
			}
			if _, err := u.port(); err != nil {
				return nil, err
			}
			return u, nil
		},
	})
}

// parseUSBIPFaults reads "HOST[:TCPPORT]/BUSID" (an IPv6 HOST with a port
// in brackets: "[fe80::1]:3240/1-1").
func parseUSBIPFaults(arg string) (*usbipFaults, error) {
	bad := func(why string) error {
		return fmt.Errorf("usbip:%s: %w: %s (want usbip:HOST[:TCPPORT]/BUSID, e.g. usbip:127.0.0.1/3-1)", arg, ErrFaults, why)
	}
	hp, busID, ok := strings.Cut(arg, "/")
	if !ok || hp == "" || busID == "" || strings.ContainsAny(busID, "/ \t") {
		return nil, bad("no HOST/BUSID")
	}
	u := &usbipFaults{host: hp, busID: busID}
	if h, p, err := net.SplitHostPort(hp); err == nil {
		n, err := strconv.ParseUint(p, 10, 16)
		if err != nil || n == 0 || h == "" {
			return nil, bad(fmt.Sprintf("TCP port %q is not a number from 1 to 65535", p))
		}
		u.host, u.tcpPort = h, p
	} else if strings.HasPrefix(hp, "[") {
		return nil, bad("a bracketed host without a port")
	}
	return u, nil
}

func (u *usbipFaults) String() string {
	hp := u.host
	if u.tcpPort != "" {
		hp = net.JoinHostPort(u.host, u.tcpPort)
	}
	return "usbip:" + hp + "/" + u.busID
}

// usbipImports is how the faults find the vhci port; a variable for tests.
var usbipImports = gousb.Imports

// port is the vhci port the device is attached on now (it changes with
// every attach).
func (u *usbipFaults) port() (int, error) {
	imps, err := usbipImports()
	if err != nil {
		return 0, fmt.Errorf("%s: %w: %w", u, ErrFaults, err)
	}
	for _, i := range imps {
		if i.Host == u.host && i.BusID == u.busID && (u.tcpPort == "" || i.TCPPort == u.tcpPort) {
			return i.VHCIPort, nil
		}
	}
	return 0, fmt.Errorf("%s: %w: not attached (no vhci port with a usbip attach record for it; attach it with usbip attach -r %s -b %s)", u, ErrFaults, u.host, u.busID)
}

// usbipRun runs the usbip tool; a variable for tests.
var usbipRun = func(args ...string) error {
	bin, err := exec.LookPath("usbip")
	if err != nil {
		// /usr/sbin is not in every user's PATH.
		if _, serr := os.Stat("/usr/sbin/usbip"); serr != nil {
			return fmt.Errorf("the usbip tool (Debian package usbip): %w", err)
		}
		bin = "/usr/sbin/usbip"
	}
	ctx, cancel := context.WithTimeout(context.Background(), usbipToolWait)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("usbip %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// usbipToolWait bounds one usbip command (attach connects to the exporter).
const usbipToolWait = 30 * time.Second

func (u *usbipFaults) Stall(ep uint8) error {
	return fmt.Errorf("%s: %w: USB/IP has no request that halts an endpoint", u, ErrNoFault)
}

func (u *usbipFaults) TimeoutNext(ep uint8, n int) error {
	return fmt.Errorf("%s: %w: %s", u, ErrNoFault, noRealTimeout)
}

func (u *usbipFaults) Unplug() error {
	u.mu.Lock()
	defer u.mu.Unlock()
	p, err := u.port()
	if err != nil {
		return err
	}
	if err := usbipRun("detach", "-p", strconv.Itoa(p)); err != nil {
		return fmt.Errorf("%s: unplug: %w", u, err)
	}
	u.off = true
	return nil
}

func (u *usbipFaults) Restore() error {
	u.mu.Lock()
	defer u.mu.Unlock()
	if !u.off {
		return nil
	}
	args := []string{"attach", "-r", u.host, "-b", u.busID}
	if u.tcpPort != "" {
		args = append([]string{"--tcp-port", u.tcpPort}, args...)
	}
	if err := usbipRun(args...); err != nil {
		return fmt.Errorf("%s: plug back: %w", u, err)
	}
	u.off = false
	return nil
}

func (u *usbipFaults) Close() error { return nil }
