package gousb

import (
	. "github.com/onsi/gomega"

	"dongle/hw"
)

var _ = Describe("ParseSelector", func() {
	DescribeTable("accepts",
		func(in string, want Selector) {
			got, err := ParseSelector(in)
			Expect(err).NotTo(HaveOccurred())
			Expect(got).To(Equal(want))
			back, err := ParseSelector(got.String())
			Expect(err).NotTo(HaveOccurred())
			Expect(back).To(Equal(got), "String() parses back to the same selector")
		},
		Entry("bus.addr", "1.4", Selector{Kind: ByAddress, Bus: 1, Address: 4}),
		Entry("bus.addr as lsusb pads it", "001.004", Selector{Kind: ByAddress, Bus: 1, Address: 4}),
		Entry("largest bus and address", "255.127", Selector{Kind: ByAddress, Bus: 255, Address: 127}),
		Entry("vid:pid", "0b95:1790", Selector{Kind: ByID, Vendor: 0x0b95, Product: 0x1790}),
		Entry("vid:pid upper case, 0x", "0X0B95:0x772B", Selector{Kind: ByID, Vendor: 0x0b95, Product: 0x772b}),
		Entry("short hex", "525:a4a2", Selector{Kind: ByID, Vendor: 0x0525, Product: 0xa4a2}),
		Entry("serial", "serial=00A1B2", Selector{Kind: BySerial, Serial: "00A1B2"}),
		Entry("serial containing separators", "serial=1.2:3", Selector{Kind: BySerial, Serial: "1.2:3"}),
		Entry("port", "port=1-2.3", Selector{Kind: ByPort, Port: "1-2.3"}),
		Entry("usbip", "usbip=10.0.0.7/1-2.3", Selector{Kind: ByUSBIP, USBIPHost: "10.0.0.7", USBIPBusID: "1-2.3"}),
		Entry("usbip, IPv6 host", "usbip=fe80::1/1-2", Selector{Kind: ByUSBIP, USBIPHost: "fe80::1", USBIPBusID: "1-2"}),
	)
	DescribeTable("rejects with a message naming the problem",
		func(in, want string) {
			_, err := ParseSelector(in)
			Expect(err).To(MatchError(ContainSubstring(want)))
			Expect(err.Error()).To(ContainSubstring("VID:PID"), "the error says which forms exist")
		},
		Entry("empty", "", "empty"),
		Entry("bus 0", "0.4", `bus "0"`),
		Entry("address 128", "1.128", `address "128"`),
		Entry("bus not a number", "x.4", `bus "x"`),
		Entry("five hex digits", "0b955:1790", `vendor ID "0b955"`),
		Entry("non-hex product", "0b95:zz", `product ID "zz"`),
		Entry("missing product", "0b95:", `product ID ""`),
		Entry("empty serial", "serial=", "empty serial"),
		Entry("bad port", "port=1", "BUS-PORT"),
		Entry("port zero", "port=1-0", `"0" is not a number`),
		Entry("word", "asix", "not a recognised form"),
		Entry("usbip without bus ID", "usbip=10.0.0.7", "want usbip=HOST/BUSID"),
		Entry("usbip empty host", "usbip=/1-2", "want usbip=HOST/BUSID"),
		Entry("usbip empty bus ID", "usbip=10.0.0.7/", "want usbip=HOST/BUSID"),
		Entry("usbip two slashes", "usbip=10.0.0.7/1-2/3", "want usbip=HOST/BUSID"),
	)
	It("matches the device it names and no other", func() {
		info := hw.Info{Bus: 1, Address: 4, Port: "1-2", Vendor: 0x0b95, Product: 0x1790, Serial: "S1"}
		for _, s := range []string{"1.4", "0b95:1790", "serial=S1", "port=1-2"} {
			sel, err := ParseSelector(s)
			Expect(err).NotTo(HaveOccurred())
			Expect(sel.Match(info)).To(BeTrue(), s)
		}
		for _, s := range []string{"1.5", "2.4", "0b95:1791", "0b96:1790", "serial=S2", "port=1-3"} {
			sel, err := ParseSelector(s)
			Expect(err).NotTo(HaveOccurred())
			Expect(sel.Match(info)).To(BeFalse(), s)
		}
		Expect(Selector{}.Match(info)).To(BeFalse())
	})
	It("matches a USB/IP selector on the device's USB/IP link only", func() {
		sel, err := ParseSelector("usbip=10.0.0.7/1-2")
		Expect(err).NotTo(HaveOccurred())
		c := Candidate{Info: hw.Info{Bus: 6, Address: 2, Port: "1-2"},
			USBIP: USBIP{Role: Imported, Host: "10.0.0.7", TCPPort: "3240", BusID: "1-2"}}
		Expect(sel.MatchCandidate(c)).To(BeTrue())
		Expect(sel.Match(c.Info)).To(BeFalse(), "Info has no USB/IP link")
		for _, u := range []USBIP{
			{Role: Imported, Host: "10.0.0.8", BusID: "1-2"},
			{Role: Imported, Host: "10.0.0.7", BusID: "1-3"},
			{Role: Exported, Host: "10.0.0.7", BusID: "1-2"},
			{},
		} {
			c.USBIP = u
			Expect(sel.MatchCandidate(c)).To(BeFalse(), "%+v", u)
		}
		port, err := ParseSelector("port=1-2")
		Expect(err).NotTo(HaveOccurred())
		Expect(port.MatchCandidate(c)).To(BeTrue(), "other kinds match on Info")
	})
})
