package cdcecm_test

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"dongle/hw/sim"
	"dongle/hw/sim/ecm"
	"dongle/usbnet"
	"dongle/usbnet/cdcecm"
)

// rig is an ECM model on a loopback wire, probed by cdc_ether.
type rig struct {
	dev  *sim.Device
	m    *ecm.Model
	wire *sim.Wire
	d    *usbnet.Dev
}

// newRig probes an ECM model; the device is disconnected at cleanup.
func newRig(opts ecm.Options) *rig {
	r := &rig{wire: sim.NewWire()}
	r.dev, r.m = ecm.NewDevice(opts)
	r.m.Connect(r.wire.A())
	sim.NewLoopback(r.wire.B())
	d, err := usbnet.Probe(r.dev, cdcecm.New())
	Expect(err).NotTo(HaveOccurred())
	r.d = d
	DeferCleanup(func() {
		Expect(d.Disconnect()).To(Succeed())
		Expect(r.dev.Close()).To(Succeed())
	})
	return r
}

// open brings the netdev up.
func (r *rig) open() *rig {
	Expect(r.d.Net.Open()).To(Succeed())
	return r
}
