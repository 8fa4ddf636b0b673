package gousb

import (
	"testing"

	"dongle/hw"
	"dongle/hw/hwtest"
)

// TestConformanceFake runs hw/hwtest against this package's Device over the
// fake seam, on both transfer paths: everything above libusb (bookkeeping,
// queue, error mapping) is held to the same contract as every other
// backend. IN transfers stay pending until cancelled, like an idle link.
func TestConformanceFake(t *testing.T) {
	t.Run("async", func(t *testing.T) { conformanceFake(t, false) })
	t.Run("sync", func(t *testing.T) { conformanceFake(t, true) })
}

func conformanceFake(t *testing.T, sync bool) {
	hwtest.Run(t, func(t *testing.T) hw.Device {
		dev := newECMDev(1, 4, []int{2})
		dev.pipes[0x82].block = true
		dev.pipes[0x81].block = true
		c := newContext(&fakeLib{devs: []*fakeDev{dev}}, "")
		d, err := c.OpenFirst(nil, &Options{Sync: sync})
		if err != nil {
			t.Fatal(err)
		}
		return d
	}, hwtest.Options{
		NoLoopback: "the fake seam has no device behind it",
		NoFaults:   "the fake seam injects no faults",
	})
}
