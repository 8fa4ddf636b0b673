package main

import (
	"os"
	"testing"

	"dongle/hw/sim/ifwire/vethtest"
	"dongle/hw/vmlab/guest"
)

// TestMain runs the tests, as root, in a network namespace of their own:
// the veth pairs and TAPs of `dongle tap`'s tests vanish with it. In the
// lab's guest they run where the lab's devices are.
func TestMain(m *testing.M) {
	if guest.InLab() {
		os.Exit(m.Run())
	}
	vethtest.Main(m)
}
