package ifwire_test

import (
	"testing"

	"dongle/hw/sim/ifwire/vethtest"
)

func TestMain(m *testing.M) { vethtest.Main(m) }
