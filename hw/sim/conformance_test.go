package sim_test

import (
	"testing"

	"dongle/hw"
	"dongle/hw/hwtest"
	"dongle/hw/sim"
	"dongle/hw/sim/ecm"
)

// openECM is a QEMU-flavor ECM device whose Ethernet side is a loopback
// plug: every frame the host sends comes back to it.
func openECM(opts ecm.Options) func(t *testing.T) hw.Device {
	return func(t *testing.T) hw.Device {
		d, m := ecm.NewDevice(opts)
		w := sim.NewWire()
		m.Connect(w.A())
		sim.NewLoopback(w.B())
		return d
	}
}

func TestConformanceECMQEMU(t *testing.T) {
	hwtest.Run(t, openECM(ecm.Options{}), hwtest.Options{})
}

func TestConformanceECMGadgetHighSpeed(t *testing.T) {
	hwtest.Run(t, openECM(ecm.Options{Flavor: ecm.Gadget}), hwtest.Options{})
}

func TestConformanceFake(t *testing.T) {
	hwtest.Run(t, func(t *testing.T) hw.Device {
		dev, cfgs, strs := ecm.New(ecm.Options{}).Descriptors()
		return sim.NewFake(&sim.Static{Device: dev, Configs: cfgs, Strings: strs}, hw.Info{Backend: "sim:fake"})
	}, hwtest.Options{
		NoLoopback: "a Fake moves no data by itself",
		Skip: map[string]string{
			"InOrderOut":   "a Fake completes OUT transfers only when the test does",
			"ZLPSubmit":    "a Fake completes OUT transfers only when the test does",
			"FaultTimeout": "a Fake completes OUT transfers only when the test does",
			"WaitBatch":    "a Fake completes OUT transfers only when the test does",
			"Notify":       "a Fake completes OUT transfers only when the test does",
		},
	})
}
