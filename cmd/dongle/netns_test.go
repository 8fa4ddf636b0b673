package main

import (
	"testing"

	"dongle/hw/sim/ifwire/vethtest"
)

// TestMain runs the tests, as root, in a network namespace of their own:
// the veth pairs and TAPs of `dongle tap`'s tests vanish with it.
func TestMain(m *testing.M) { vethtest.Main(m) }
