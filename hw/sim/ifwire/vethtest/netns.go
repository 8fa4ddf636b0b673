package vethtest

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// Netns is a network namespace of a test's own: the far end of a cable,
// whose addresses are not the test's, so that traffic between them
// crosses the cable instead of the loopback.
//
// It is held by one OS thread that made it (unshare) and waits until the
// test ends; then the thread exits and the namespace goes with it: a veth
// end in it is deleted, a device that belongs to hardware (a gadget's
// u_ether interface) returns to the initial namespace. No iproute2 is
// needed (busybox's ip and nsenter do), so it works in the lab's guest.
type Netns struct {
	tid  int
	path string // /proc/PID/task/TID/ns/net
	stop chan struct{}
}

// NewNetns makes a network namespace for t, gone when t ends.
func NewNetns(t testing.TB) *Netns {
	t.Helper()
	if os.Geteuid() != 0 {
		Cannot(t, "needs root: creates a network namespace")
	}
	n := &Netns{stop: make(chan struct{})}
	ready := make(chan error, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		// Locked and never unlocked: when this goroutine returns, the
		// runtime ends the thread, and with it the namespace.
		runtime.LockOSThread()
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			ready <- err
			return
		}
		n.tid = unix.Gettid()
		n.path = fmt.Sprintf("/proc/%d/task/%d/ns/net", os.Getpid(), n.tid)
		ready <- nil
		<-n.stop
	}()
	if err := <-ready; err != nil {
		Cannot(t, fmt.Sprintf("no network namespace here: unshare: %v", err))
	}
	t.Cleanup(func() {
		close(n.stop)
		<-done
	})
	n.IP(t, "link", "set", "lo", "up")
	return n
}

// IP runs ip(8) in the namespace (nsenter --net) and returns its output;
// a failure fails t.
func (n *Netns) IP(t testing.TB, args ...string) string {
	t.Helper()
	out, err := exec.Command("nsenter", append([]string{"--net=" + n.path, "ip"}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("ip %v in the namespace: %v: %s", args, err, out)
	}
	return string(out)
}

// Run runs a command in the namespace and returns its combined output.
func (n *Netns) Run(name string, args ...string) ([]byte, error) {
	return exec.Command("nsenter", append([]string{"--net=" + n.path, name}, args...)...).CombinedOutput()
}

// Take moves the interface iface into the namespace, with IPv6 off there
// too: a move re-registers the interface, which takes the namespace's
// defaults, and its ND and MLD frames would cross the cable.
func (n *Netns) Take(t testing.TB, iface string) {
	t.Helper()
	if out, err := exec.Command("ip", "link", "set", iface, "netns", strconv.Itoa(n.tid)).CombinedOutput(); err != nil {
		t.Fatalf("ip link set %s netns %d: %v: %s", iface, n.tid, err, out)
	}
	n.Do(t, func() error {
		err := os.WriteFile("/proc/sys/net/ipv6/conf/"+iface+"/disable_ipv6", []byte("1"), 0)
		if errors.Is(err, os.ErrNotExist) {
			return nil // no IPv6 in this kernel
		}
		return err
	})
}

// Do runs fn on a thread inside the namespace; the thread never leaves
// it (it ends with fn's goroutine). /proc/sys/net and
// /proc/thread-self/net are the namespace's there; sysfs is not.
func (n *Netns) Do(t testing.TB, fn func() error) {
	t.Helper()
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		f, err := os.Open(n.path)
		if err != nil {
			errc <- err
			return
		}
		defer f.Close()
		if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("setns: %w", err)
			return
		}
		errc <- fn()
	}()
	if err := <-errc; err != nil {
		t.Fatalf("in the namespace: %v", err)
	}
}

// Listen opens a listener inside the namespace. The socket stays in it
// whichever goroutine uses it afterwards.
func (n *Netns) Listen(t testing.TB, network, addr string) net.Listener {
	t.Helper()
	var l net.Listener
	n.Do(t, func() (err error) {
		l, err = net.Listen(network, addr)
		return err
	})
	t.Cleanup(func() { l.Close() })
	return l
}

// LinkCounts are an interface's packet counters.
type LinkCounts struct {
	RxPackets, TxPackets uint64
}

// Counts reads iface's counters in the namespace.
func (n *Netns) Counts(t testing.TB, iface string) LinkCounts {
	t.Helper()
	var c LinkCounts
	n.Do(t, func() (err error) {
		c, err = ReadCounts(iface)
		return err
	})
	return c
}

// ReadCounts reads iface's counters in the calling thread's namespace,
// from /proc/thread-self/net/dev (not /proc/net/dev: that is the main
// thread's namespace; not sysfs: that is the namespace it was mounted in).
func ReadCounts(iface string) (LinkCounts, error) {
	b, err := os.ReadFile("/proc/thread-self/net/dev")
	if err != nil {
		return LinkCounts{}, err
	}
	return parseNetDev(b, iface)
}

// parseNetDev finds iface in /proc/net/dev's format: "name: rx_bytes
// rx_packets ... (8 receive fields) tx_bytes tx_packets ...".
func parseNetDev(b []byte, iface string) (LinkCounts, error) {
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		name, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok || strings.TrimSpace(name) != iface {
			continue
		}
		f := strings.Fields(rest)
		if len(f) < 10 {
			return LinkCounts{}, fmt.Errorf("/proc/net/dev: %s: %d fields", iface, len(f))
		}
		rx, err1 := strconv.ParseUint(f[1], 10, 64)
		tx, err2 := strconv.ParseUint(f[9], 10, 64)
		if err := errors.Join(err1, err2); err != nil {
			return LinkCounts{}, fmt.Errorf("/proc/net/dev: %s: %w", iface, err)
		}
		return LinkCounts{RxPackets: rx, TxPackets: tx}, nil
	}
	return LinkCounts{}, fmt.Errorf("/proc/net/dev: no interface %s", iface)
}
