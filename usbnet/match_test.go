package usbnet_test

import (
	"errors"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"dongle/hw"
	"dongle/usbnet"
	"dongle/usbnet/cdcecm"
)

func parseConfig(raw []byte) *hw.Config {
	GinkgoHelper()
	c, err := hw.ParseConfig(raw)
	Expect(err).NotTo(HaveOccurred())
	return c
}

var _ = Describe("Match", func() {
	dd := &hw.DeviceDescriptor{Vendor: 0x1209, Product: 0x0042, NumConfigurations: 2}
	// byID claims 1209:0042 on a vendor-class interface only.
	byID := flagged{name: "by-id", ids: []usbnet.ID{{Vendor: 0x1209, Product: 0x0042, Class: 0xff, SubClass: -1, Protocol: -1, Name: "vendor chip"}}}
	// Configuration 1 is CDC Ethernet (a class match for cdc_ether);
	// configuration 2 is the vendor function (a VID:PID match for byID).
	ecmCfg := func() *hw.Config { return parseConfig(oneFunction(1, cdcecm.ClassComm, cdcecm.SubClassEthernet, 0)) }
	vendorCfg := func() *hw.Config { return parseConfig(oneFunction(2, 0xff, 0xff, 0)) }

	It("tries the active configuration first: its class match beats a VID:PID match in another one", func() {
		// The case where decode's old matcher (every VID:PID entry across
		// every configuration first) and Probe disagreed.
		b, err := usbnet.Match("dev", dd, []*hw.Config{ecmCfg(), vendorCfg()}, 1, []usbnet.Minidriver{byID, cdcecm.New()})
		Expect(err).NotTo(HaveOccurred())
		Expect(b.Driver.Name()).To(Equal("cdc_ether"))
		Expect(b.Config.Value).To(BeEquivalentTo(1))
		Expect(b.Intf.Number).To(BeEquivalentTo(0))
	})

	It("moves to the next configuration when the active one has nothing", func() {
		b, err := usbnet.Match("dev", dd, []*hw.Config{parseConfig(oneFunction(1, 0x02, 0x0d, 0)), vendorCfg()}, 1, []usbnet.Minidriver{cdcecm.New(), byID})
		Expect(err).NotTo(HaveOccurred())
		Expect(b.Driver.Name()).To(Equal("by-id"))
		Expect(b.ID.Name).To(Equal("vendor chip"))
		Expect(b.Config.Value).To(BeEquivalentTo(2))
	})

	It("with configuration 2 active, takes its VID:PID match", func() {
		b, err := usbnet.Match("dev", dd, []*hw.Config{ecmCfg(), vendorCfg()}, 2, []usbnet.Minidriver{cdcecm.New(), byID})
		Expect(err).NotTo(HaveOccurred())
		Expect(b.Driver.Name()).To(Equal("by-id"))
		Expect(b.Config.Value).To(BeEquivalentTo(2))
	})

	It("prefers a VID:PID entry to a class entry within one configuration", func() {
		both := parseConfig(oneFunction(1, cdcecm.ClassComm, cdcecm.SubClassEthernet, 0))
		anyClass := flagged{name: "by-id-any", ids: []usbnet.ID{{Vendor: 0x1209, Product: 0x0042, Class: -1, SubClass: -1, Protocol: -1}}}
		b, err := usbnet.Match("dev", dd, []*hw.Config{both}, 1, []usbnet.Minidriver{cdcecm.New(), anyClass})
		Expect(err).NotTo(HaveOccurred())
		Expect(b.Driver.Name()).To(Equal("by-id-any"))
	})

	It("takes the configuration a SelectsConfig entry matches in, over a class match in the active one", func() {
		// r8152's cfgselector: the ECM configuration is active, the vendor
		// one is chosen.
		selects := flagged{name: "selects", ids: []usbnet.ID{{Vendor: 0x1209, Product: 0x0042, Class: 0xff, SubClass: -1, Protocol: -1, SelectsConfig: true}}}
		b, err := usbnet.Match("dev", dd, []*hw.Config{ecmCfg(), vendorCfg()}, 1, []usbnet.Minidriver{cdcecm.New(), selects})
		Expect(err).NotTo(HaveOccurred())
		Expect(b.Driver.Name()).To(Equal("selects"))
		Expect(b.Config.Value).To(BeEquivalentTo(2))
		// Without that driver in the list (cdc_ether forced), the ECM
		// configuration is taken.
		b, err = usbnet.Match("dev", dd, []*hw.Config{ecmCfg(), vendorCfg()}, 2, []usbnet.Minidriver{cdcecm.New()})
		Expect(err).NotTo(HaveOccurred())
		Expect(b.Driver.Name()).To(Equal("cdc_ether"))
		Expect(b.Config.Value).To(BeEquivalentTo(1))
		// A SelectsConfig entry for another product does not apply.
		other := flagged{name: "other", ids: []usbnet.ID{{Vendor: 0x1209, Product: 0x0043, Class: 0xff, SubClass: -1, Protocol: -1, SelectsConfig: true}}}
		b, err = usbnet.Match("dev", dd, []*hw.Config{ecmCfg(), vendorCfg()}, 1, []usbnet.Minidriver{cdcecm.New(), other})
		Expect(err).NotTo(HaveOccurred())
		Expect(b.Driver.Name()).To(Equal("cdc_ether"))
	})

	It("names an unsupported function, else wraps ErrNoDriver", func() {
		_, err := usbnet.Match("dev 1209:0042", dd, []*hw.Config{parseConfig(oneFunction(1, 0xe0, 0x01, 0x03))}, 1, []usbnet.Minidriver{cdcecm.New()})
		var ue *usbnet.UnsupportedError
		Expect(errors.As(err, &ue)).To(BeTrue(), "%v", err)
		Expect(ue.Function).To(Equal("RNDIS"))
		Expect(ue.Device).To(Equal("dev 1209:0042"))

		_, err = usbnet.Match("dev", dd, []*hw.Config{vendorCfg()}, 2, []usbnet.Minidriver{cdcecm.New()})
		Expect(err).To(MatchError(usbnet.ErrNoDriver))
		Expect(errors.As(err, &ue)).To(BeFalse())
	})

	It("and Probe binds in the configuration Match picks", func() {
		// sim starts a device unconfigured-then-1; config 1 holds the class
		// match, config 2 the VID:PID one: Probe must not switch to 2.
		dev := staticDevice(0x1209, 0x0042, oneFunction(1, cdcecm.ClassComm, cdcecm.SubClassEthernet, 0), oneFunction(2, 0xff, 0xff, 0))
		active, err := dev.Configuration()
		Expect(err).NotTo(HaveOccurred())
		d, err := usbnet.Probe(dev, byID, plainBind{})
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(func() { Expect(d.Disconnect()).To(Succeed()) })
		Expect(d.Driver.Name()).To(Equal("cdc_ether"))
		now, _ := dev.Configuration()
		Expect(now).To(Equal(active), "configuration switched")
	})
})

// plainBind has cdc_ether's match table and binds oneFunction's layout
// (interface 1, alternate setting 0: the bulk pair) without checking it.
type plainBind struct{ cdcecm.Driver }

func (plainBind) Bind(d *usbnet.Dev) error {
	alt := d.Config.Interface(1).Alts[0]
	d.In, d.Out = alt.Endpoints[0], alt.Endpoints[1]
	d.DataIface = 1
	return nil
}
func (plainBind) Unbind(*usbnet.Dev) {}
