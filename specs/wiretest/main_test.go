package wiretest_test

import (
	"testing"

	"dongle/hw/sim/ifwire/vethtest"
)

// TestMain runs the tests in a network namespace of their own (as root):
// their veth pairs go with the process, however it ends.
func TestMain(m *testing.M) { vethtest.Main(m) }
