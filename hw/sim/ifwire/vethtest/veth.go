// Package vethtest makes veth pairs for tests that need a real Ethernet
// interface on each end of a cable (ifwire, the specs' iface peer).
//
// A package using Veth runs its tests through Main, which, as root, runs
// them again in a network namespace of their own: the pairs live there and
// vanish with the process, even when it is killed before its cleanup (a
// timeout, a mutation tester), and nothing on the host's own interfaces
// can disturb them.
package vethtest

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// pairs numbers the pairs this process made, for their names.
var pairs atomic.Int32

// envNetns marks the test process Main started inside the namespace.
const envNetns = "DONGLE_VETHTEST_NETNS"

// Main runs m: as root, in a child process in a new network namespace
// (which dies with this process), else here. Call it from TestMain.
func Main(m *testing.M) {
	if os.Geteuid() == 0 && os.Getenv(envNetns) == "" {
		if code, err := runInNetns(); err == nil {
			os.Exit(code)
		} else {
			// No namespace here (a container without CAP_SYS_ADMIN):
			// the pairs go into this one, and cleanups remove them.
			fmt.Fprintf(os.Stderr, "vethtest: tests run in this network namespace: %v\n", err)
		}
	}
	os.Exit(m.Run())
}

// runInNetns runs this test binary again, with the same arguments, in a
// new network namespace, and returns its exit code; err only when it
// could not be started.
func runInNetns() (int, error) {
	// Pdeathsig follows the thread that started the child: keep it.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	cmd := exec.Command("/proc/self/exe", os.Args[1:]...)
	cmd.Env = append(os.Environ(), envNetns+"=1")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNET, Pdeathsig: syscall.SIGKILL}
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0, nil
	case errors.As(err, &ee):
		if ee.ExitCode() < 0 {
			return 1, nil // killed by a signal
		}
		return ee.ExitCode(), nil
	}
	return 0, err
}

// Veth creates a veth pair for t and returns its two ends, both up and
// operational, with IPv6 off (so the kernel puts no ND or MLD frames on
// this test cable), and deletes it when t ends. It skips t, with the
// reason, where it cannot: not root, or no veth support in the kernel.
// With DONGLE_REQUIRE_VETH=1 (CI sets it) each of those fails t instead:
// there, a skipped cable would leave the real-adapter path untested while
// the run still passed.
func Veth(t testing.TB) (a, b string) {
	t.Helper()
	if os.Geteuid() != 0 {
		Cannot(t, "needs root: creates a veth pair (CAP_NET_ADMIN) and AF_PACKET sockets (CAP_NET_RAW)")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		Cannot(t, "no ip(8) (iproute2) to create a veth pair")
	}
	n := pairs.Add(1)
	a = fmt.Sprintf("dgl%dx%da", os.Getpid()%1000000, n%100)
	b = fmt.Sprintf("dgl%dx%db", os.Getpid()%1000000, n%100)
	if out, err := exec.Command("ip", "link", "add", a, "type", "veth", "peer", "name", b).CombinedOutput(); err != nil {
		Cannot(t, fmt.Sprintf("no veth pair here (kernel without veth, or no CAP_NET_ADMIN): ip link add: %v: %s", err, out))
	}
	t.Cleanup(func() {
		// Deleting one end deletes the pair; so does the end of a
		// namespace an end was moved into (Netns.Take), which the kernel
		// carries out in the background: the pair may vanish under ip.
		if _, err := net.InterfaceByName(a); err != nil {
			return
		}
		if out, err := exec.Command("ip", "link", "del", a).CombinedOutput(); err != nil {
			if _, gone := net.InterfaceByName(a); gone != nil {
				return
			}
			t.Errorf("ip link del %s: %v: %s", a, err, out)
		}
	})
	for _, n := range []string{a, b} {
		// Best effort: a kernel without IPv6 has nothing to turn off.
		_ = os.WriteFile("/proc/sys/net/ipv6/conf/"+n+"/disable_ipv6", []byte("1"), 0o644)
		if out, err := exec.Command("ip", "link", "set", n, "up").CombinedOutput(); err != nil {
			t.Fatalf("ip link set %s up: %v: %s", n, err, out)
		}
	}
	// Up is not yet operational: until the kernel's link watch has seen
	// the carrier (it may take a second on a busy machine), the queue
	// discipline is noop and drops every frame. (Flags, not sysfs: sysfs
	// shows the interfaces of the namespace it was mounted in.)
	for _, n := range []string{a, b} {
		if !WaitRunning(n, true, 5*time.Second) {
			t.Fatalf("%s not operational 5 s after ip link set up", n)
		}
	}
	return a, b
}

// WaitRunning waits up to d until name's IFF_RUNNING (operationally up:
// up, with carrier) is running, and reports whether it came.
func WaitRunning(name string, running bool, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for {
		ifi, err := net.InterfaceByName(name)
		if err == nil && (ifi.Flags&net.FlagRunning != 0) == running {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// EnvRequire makes a missing veth pair a failure rather than a skip.
const EnvRequire = "DONGLE_REQUIRE_VETH"

// Cannot skips t with why, or fails it where EnvRequire says the host's
// network devices (veth pairs, TAPs) must be there.
func Cannot(t testing.TB, why string) {
	t.Helper()
	if os.Getenv(EnvRequire) == "1" {
		t.Fatalf("%s=1, but: %s", EnvRequire, why)
	}
	t.Skip(why)
}
