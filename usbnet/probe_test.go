package usbnet_test

import (
	"encoding/binary"
	"errors"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"dongle/hw"
	"dongle/hw/sim"
	"dongle/hw/sim/ecm"
	"dongle/usbnet"
	"dongle/usbnet/cdcecm"
)

func deviceDesc(vid, pid uint16, nconf byte) []byte {
	d := []byte{18, hw.DescDevice, 0x00, 0x02, 0, 0, 0, 64, 0, 0, 0, 0, 0x00, 0x01, 0, 0, 0, nconf}
	binary.LittleEndian.PutUint16(d[8:], vid)
	binary.LittleEndian.PutUint16(d[10:], pid)
	return d
}

// oneFunction is a configuration whose interface 0 has the given class
// triple (with an interrupt endpoint) and interface 1 is CDC data with a
// bulk pair: the shape of NCM and RNDIS functions.
func oneFunction(value, class, sub, proto byte) []byte {
	b := []byte{9, hw.DescConfig, 0, 0, 2, value, 0, 0x80, 50,
		9, hw.DescInterface, 0, 0, 1, class, sub, proto, 0,
		7, hw.DescEndpoint, 0x81, hw.XferInterrupt, 16, 0, 32,
		9, hw.DescInterface, 1, 0, 2, 0x0a, 0, 0, 0,
		7, hw.DescEndpoint, 0x82, hw.XferBulk, 64, 0, 0,
		7, hw.DescEndpoint, 0x02, hw.XferBulk, 64, 0, 0,
	}
	binary.LittleEndian.PutUint16(b[2:], uint16(len(b)))
	return b
}

func staticDevice(vid, pid uint16, configs ...[]byte) *sim.Device {
	dev := sim.New(&sim.Static{Device: deviceDesc(vid, pid, byte(len(configs))), Configs: configs}, hw.Info{Bus: 3, Address: 7})
	DeferCleanup(func() { Expect(dev.Close()).To(Succeed()) })
	return dev
}

var _ = Describe("Probe", func() {
	DescribeTable("refuses functions it does not support yet, naming the device and the function",
		func(vid, pid uint16, class, sub, proto byte, function string) {
			dev := staticDevice(vid, pid, oneFunction(1, class, sub, proto))
			d, err := usbnet.Probe(dev, cdcecm.New())
			Expect(d).To(BeNil())
			var ue *usbnet.UnsupportedError
			Expect(errors.As(err, &ue)).To(BeTrue(), "%v", err)
			Expect(ue.Function).To(Equal(function))
			Expect(err).To(MatchError(hw.ErrNotSupported))
			Expect(err.Error()).To(ContainSubstring("not supported yet"))
			Expect(err.Error()).To(ContainSubstring(function))
			Expect(err.Error()).To(ContainSubstring(dev.Info().Name()))
		},
		Entry("RNDIS as Windows sees it (lab gadget 1209:0003)", uint16(0x1209), uint16(0x0003), byte(0x02), byte(0x02), byte(0xff), "RNDIS"),
		Entry("RNDIS wireless-controller class", uint16(0x1209), uint16(0x0003), byte(0xe0), byte(0x01), byte(0x03), "RNDIS"),
		Entry("RNDIS misc class", uint16(0x1209), uint16(0x0003), byte(0xef), byte(0x04), byte(0x01), "RNDIS"),
	)

	It("fails with ErrNoDriver when nothing matches", func() {
		dev := staticDevice(0x1234, 0x5678, oneFunction(1, 0xff, 0xff, 0xff))
		_, err := usbnet.Probe(dev, cdcecm.New())
		Expect(err).To(MatchError(usbnet.ErrNoDriver))
		Expect(err.Error()).To(ContainSubstring("1234:5678"))
	})

	It("prefers a VID:PID entry over a class entry, whatever the order of drivers", func() {
		dev, _ := ecm.NewDevice(ecm.Options{})
		DeferCleanup(func() { Expect(dev.Close()).To(Succeed()) })
		vendor := flagged{flags: usbnet.FlagEthernet | usbnet.FlagSendZLP | usbnet.FlagLinkIntr, name: "by-id",
			ids: []usbnet.ID{{Vendor: 0x0525, Product: 0xa4a2, Class: 0x02, SubClass: -1, Protocol: -1, Name: "QEMU usb-net"}}}
		d, err := usbnet.Probe(dev, cdcecm.New(), vendor)
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(func() { Expect(d.Disconnect()).To(Succeed()) })
		Expect(d.Driver.Name()).To(Equal("by-id"))
		Expect(d.ID.Name).To(Equal("QEMU usb-net"))
	})

	It("releases what it claimed when Bind fails", func() {
		dev, m := ecm.NewDevice(ecm.Options{})
		m.Corrupt(dev, ecm.CorruptBadMAC)
		_, err := usbnet.Probe(dev, cdcecm.New())
		Expect(err).To(MatchError(cdcecm.ErrBadMAC))
		Expect(dev.Close()).To(Succeed(), "no interface left claimed")
	})

	It("refuses a device whose bulk endpoints report wMaxPacketSize 0, whatever the minidriver said", func() {
		dev, m := ecm.NewDevice(ecm.Options{})
		DeferCleanup(func() { Expect(dev.Close()).To(Succeed()) })
		m.Corrupt(dev, ecm.CorruptZeroMaxPacket)
		// A careless minidriver that takes the endpoints as they come.
		_, err := usbnet.Probe(dev, careless{})
		Expect(err).To(MatchError(ContainSubstring("wMaxPacketSize 0")))
	})

	It("reports an unplug during probe", func() {
		dev, _ := ecm.NewDevice(ecm.Options{})
		DeferCleanup(func() { Expect(dev.Close()).To(Succeed()) })
		dev.Unplug()
		_, err := usbnet.Probe(dev, cdcecm.New())
		Expect(err).To(MatchError(hw.ErrNoDevice))
	})
})

// careless binds QEMU's layout without checking anything.
type careless struct{ cdcecm.Driver }

func (careless) Bind(d *usbnet.Dev) error {
	data := d.Config.Interface(1)
	alt := data.Alts[1]
	d.In, d.Out = alt.Endpoints[0], alt.Endpoints[1]
	d.DataIface, d.DataAlt = 1, 1
	return nil
}
func (careless) Unbind(*usbnet.Dev) {}
