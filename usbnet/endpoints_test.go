package usbnet_test

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"dongle/hw"
	"dongle/usbnet"
)

var _ = Describe("GetEndpoints", func() {
	bulkIn := hw.EndpointDesc{Address: 0x81, Attributes: hw.XferBulk, MaxPacketSize: 512}
	bulkOut := hw.EndpointDesc{Address: 0x02, Attributes: hw.XferBulk, MaxPacketSize: 512}
	intrIn := hw.EndpointDesc{Address: 0x83, Attributes: hw.XferInterrupt, MaxPacketSize: 8, Interval: 8}
	dev := func(eps ...hw.EndpointDesc) *usbnet.Dev {
		return &usbnet.Dev{Driver: flagged{name: "chip"}, Info: hw.Info{Backend: "sim:test"},
			Intf: &hw.Interface{Number: 0, Alts: []hw.AltSetting{{Number: 0, Endpoints: eps}}}}
	}

	It("takes the first bulk IN, bulk OUT and interrupt IN of the interface, whatever their order", func() {
		other := hw.EndpointDesc{Address: 0x84, Attributes: hw.XferBulk, MaxPacketSize: 512}
		d := dev(intrIn, bulkOut, bulkIn, other)
		Expect(usbnet.GetEndpoints(d)).To(Succeed())
		Expect(d.In).To(Equal(bulkIn))
		Expect(d.Out).To(Equal(bulkOut))
		Expect(d.Status).To(Equal(intrIn))
		Expect([]int{d.CtrlIface, d.DataIface, d.DataAlt}).To(Equal([]int{0, 0, 0}))
	})

	DescribeTable("refuses an interface it cannot drive, with ErrEndpoints",
		func(eps []hw.EndpointDesc) {
			d := dev(eps...)
			Expect(usbnet.GetEndpoints(d)).To(MatchError(usbnet.ErrEndpoints))
			Expect(d.In.Address).To(BeZero(), "nothing is taken on failure")
		},
		Entry("no bulk IN", []hw.EndpointDesc{bulkOut, intrIn}),
		Entry("no bulk OUT", []hw.EndpointDesc{bulkIn, intrIn}),
		Entry("no interrupt IN", []hw.EndpointDesc{bulkIn, bulkOut}),
		Entry("an interrupt IN where bulk IN belongs is not taken for it (CVE-2023-53548)",
			[]hw.EndpointDesc{{Address: 0x81, Attributes: hw.XferInterrupt, MaxPacketSize: 512}, bulkOut, intrIn}),
		Entry("wMaxPacketSize 0 (CVE-2021-47495)",
			[]hw.EndpointDesc{{Address: 0x81, Attributes: hw.XferBulk}, bulkOut, intrIn}),
	)

	It("refuses a device with no interface", func() {
		d := &usbnet.Dev{Driver: flagged{name: "chip"}, Info: hw.Info{Backend: "sim:test"}}
		Expect(usbnet.GetEndpoints(d)).To(MatchError(usbnet.ErrEndpoints))
	})
})
