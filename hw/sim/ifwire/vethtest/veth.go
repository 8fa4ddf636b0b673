// Package vethtest makes veth pairs for tests that need a real Ethernet
// interface on each end of a cable (ifwire, the specs' iface peer).
package vethtest

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// Veth creates a veth pair for t and returns its two ends, both up, with
// IPv6 off (so the host stack puts no ND or MLD frames on this test cable),
// and deletes it when t ends. It skips t, with the reason, where it cannot:
// not root, or no veth support in the kernel.
func Veth(t testing.TB) (a, b string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: creates a veth pair (CAP_NET_ADMIN) and AF_PACKET sockets (CAP_NET_RAW)")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("no ip(8) (iproute2) to create a veth pair")
	}
	a = fmt.Sprintf("dgl%da", os.Getpid()%1000000)
	b = fmt.Sprintf("dgl%db", os.Getpid()%1000000)
	if out, err := exec.Command("ip", "link", "add", a, "type", "veth", "peer", "name", b).CombinedOutput(); err != nil {
		t.Skipf("no veth pair here (kernel without veth, or no CAP_NET_ADMIN): ip link add: %v: %s", err, out)
	}
	t.Cleanup(func() {
		// Deleting one end deletes the pair.
		if out, err := exec.Command("ip", "link", "del", a).CombinedOutput(); err != nil {
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
	// discipline is noop and drops every frame.
	deadline := time.Now().Add(5 * time.Second)
	for _, n := range []string{a, b} {
		for {
			st, _ := os.ReadFile("/sys/class/net/" + n + "/operstate")
			if strings.TrimSpace(string(st)) == "up" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: operstate %q 5 s after ip link set up", n, strings.TrimSpace(string(st)))
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	return a, b
}
