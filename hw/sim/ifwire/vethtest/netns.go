package vethtest

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"sync/atomic"
	"testing"

	"golang.org/x/sys/unix"
)

// Netns is a named network namespace of a test's own (ip netns add): the
// far end of a cable, whose addresses are not the test's, so that traffic
// between them crosses the cable instead of the loopback.
type Netns struct {
	Name string
}

var netnses atomic.Int32

// NewNetns makes a network namespace for t and deletes it when t ends.
func NewNetns(t testing.TB) *Netns {
	t.Helper()
	if os.Geteuid() != 0 {
		Cannot(t, "needs root: creates a network namespace")
	}
	n := &Netns{Name: fmt.Sprintf("dglns%d-%d", os.Getpid()%1000000, netnses.Add(1))}
	if out, err := exec.Command("ip", "netns", "add", n.Name).CombinedOutput(); err != nil {
		Cannot(t, fmt.Sprintf("no network namespace here: ip netns add: %v: %s", err, out))
	}
	t.Cleanup(func() {
		if out, err := exec.Command("ip", "netns", "del", n.Name).CombinedOutput(); err != nil {
			t.Errorf("ip netns del %s: %v: %s", n.Name, err, out)
		}
	})
	return n
}

// IP runs ip(8) in the namespace (ip -n NAME ARGS...) and returns its
// output; a failure fails t.
func (n *Netns) IP(t testing.TB, args ...string) string {
	t.Helper()
	out, err := exec.Command("ip", append([]string{"-n", n.Name}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("ip -n %s %v: %v: %s", n.Name, args, err, out)
	}
	return string(out)
}

// Take moves the interface iface into the namespace, with IPv6 off there
// too: a move re-registers the interface, which takes the namespace's
// defaults, and its ND and MLD frames would cross the cable.
func (n *Netns) Take(t testing.TB, iface string) {
	t.Helper()
	if out, err := exec.Command("ip", "link", "set", iface, "netns", n.Name).CombinedOutput(); err != nil {
		t.Fatalf("ip link set %s netns %s: %v: %s", iface, n.Name, err, out)
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
// it (it ends with fn's goroutine). /proc/sys/net is the namespace's
// there, sysfs is not.
func (n *Netns) Do(t testing.TB, fn func() error) {
	t.Helper()
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		if err := n.enter(); err != nil {
			errc <- err
			return
		}
		errc <- fn()
	}()
	if err := <-errc; err != nil {
		t.Fatalf("in %s: %v", n.Name, err)
	}
}

// enter moves the calling thread into the namespace.
func (n *Netns) enter() error {
	f, err := os.Open("/run/netns/" + n.Name)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
		return fmt.Errorf("setns: %w", err)
	}
	return nil
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
