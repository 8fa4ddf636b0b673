package tap_test

import (
	"testing"

	"dongle/hw/sim/ifwire/vethtest"
)

// TestMain runs the tests, as root, in a network namespace of their own:
// the TAPs they make vanish with it.
func TestMain(m *testing.M) { vethtest.Main(m) }
