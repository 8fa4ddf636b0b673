package specs

import (
	"regexp"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"dongle/hw"
)

func bindSpecs(b Backend) {
	e := b.Expect()
	Describe("enumeration and bind", func() {
		It("binds the minidriver for the device, with a bulk IN/OUT pair", func(ctx SpecContext) {
			h := Setup(ctx, b)
			if e.Driver != "" {
				Expect(h.Dev.Driver.Name()).To(Equal(e.Driver))
			}
			Expect(h.Dev.In.Type()).To(Equal(hw.XferBulk), "bulk IN endpoint")
			Expect(h.Dev.In.In()).To(BeTrue())
			Expect(h.Dev.Out.Type()).To(Equal(hw.XferBulk), "bulk OUT endpoint")
			Expect(h.Dev.Out.In()).To(BeFalse())
			if h.Dev.Status.Address != 0 {
				Expect(h.Dev.Status.Type()).To(Equal(hw.XferInterrupt))
				Expect(h.Dev.Status.In()).To(BeTrue())
			}
		}, SpecTimeout(specTimeout))

		It("reports the device's identity and USB speed", func(ctx SpecContext) {
			h := Setup(ctx, b)
			if e.Vendor != 0 {
				Expect(h.Dev.Desc.Vendor).To(Equal(e.Vendor), "idVendor")
				Expect(h.Dev.Desc.Product).To(Equal(e.Product), "idProduct")
			}
			if e.MaxPacket != 0 {
				Expect(h.Dev.MaxPacket()).To(Equal(e.MaxPacket), "bulk OUT wMaxPacketSize")
			}
			Expect(h.Dev.MaxPacket()).To(BeElementOf(8, 16, 32, 64, 512, 1024), "a legal bulk wMaxPacketSize")
			if e.USBSpeed != hw.SpeedUnknown {
				Expect(h.Dev.USBSpeed()).To(Equal(e.USBSpeed))
			}
		}, SpecTimeout(specTimeout))

		It("registers an Ethernet netdev named eth%d with MTU 1500", func(ctx SpecContext) {
			h := Setup(ctx, b)
			Expect(h.Net.Name()).To(MatchRegexp(`^eth[0-9]+$`))
			Expect(h.Net.MTU()).To(Equal(1500))
			Expect(h.Net.BroadcastAddr().String()).To(Equal("ff:ff:ff:ff:ff:ff"))
		}, SpecTimeout(specTimeout))
	})

	Describe("MAC address", func() {
		It("reads the adapter's own unicast address", func(ctx SpecContext) {
			h := Setup(ctx, b)
			mac := h.Net.HardwareAddr()
			Expect(mac).To(HaveLen(6))
			Expect(mac[0]&1).To(BeZero(), "a unicast address, got %s", mac)
			Expect(mac.String()).NotTo(Equal("00:00:00:00:00:00"))
			if e.MAC != nil && !regexp.MustCompile(`^(00:){5}00$`).MatchString(e.MAC.String()) {
				Expect(mac.String()).To(Equal(e.MAC.String()))
			}
		}, SpecTimeout(specTimeout))
	})
}
