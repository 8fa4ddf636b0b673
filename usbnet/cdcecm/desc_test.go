package cdcecm_test

import (
	"encoding/binary"
	"errors"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"dongle/hw"
	"dongle/hw/sim/ecm"
	"dongle/usbnet"
	"dongle/usbnet/cdcecm"
)

// Descriptor builders for hand-made configurations.
func ifaceDesc(num, alt, nep, class, sub, proto byte) []byte {
	return []byte{9, hw.DescInterface, num, alt, nep, class, sub, proto, 0}
}
func epDesc(addr, attr byte, mps uint16, interval byte) []byte {
	return []byte{7, hw.DescEndpoint, addr, attr, byte(mps), byte(mps >> 8), interval}
}
func headerDesc() []byte         { return []byte{5, hw.DescCSInterface, 0x00, 0x10, 0x01} }
func unionDesc(m, s byte) []byte { return []byte{5, hw.DescCSInterface, 0x06, m, s} }
func etherDesc(imac byte, maxSeg, mc uint16) []byte {
	d := []byte{13, hw.DescCSInterface, 0x0f, imac, 0, 0, 0, 0, 0, 0, 0, 0, 0}
	binary.LittleEndian.PutUint16(d[8:], maxSeg)
	binary.LittleEndian.PutUint16(d[10:], mc)
	return d
}

// fn is an ECM function's descriptors, to be broken one way per case.
type fn struct {
	ctl    []byte
	cs     [][]byte // class-specific descriptors after the control interface
	status []byte   // nil: none
	csOnEP bool     // put cs after the status endpoint instead
	data   [][]byte // data interface descriptors, alts and endpoints
}

func goodFn() *fn {
	return &fn{
		ctl:    ifaceDesc(0, 0, 1, 2, 6, 0),
		cs:     [][]byte{headerDesc(), unionDesc(0, 1), etherDesc(3, 1514, 0)},
		status: epDesc(0x81, hw.XferInterrupt, 16, 32),
		data: [][]byte{
			ifaceDesc(1, 0, 0, 0x0a, 0, 0),
			ifaceDesc(1, 1, 2, 0x0a, 0, 0), epDesc(0x82, hw.XferBulk, 64, 0), epDesc(0x02, hw.XferBulk, 64, 0),
		},
	}
}

func (f *fn) config() *hw.Config {
	b := []byte{9, hw.DescConfig, 0, 0, 2, 1, 0, 0x80, 50}
	ctl := append([]byte(nil), f.ctl...)
	if f.status == nil {
		ctl[4] = 0
	}
	b = append(b, ctl...)
	if !f.csOnEP {
		for _, d := range f.cs {
			b = append(b, d...)
		}
	}
	b = append(b, f.status...)
	if f.csOnEP {
		for _, d := range f.cs {
			b = append(b, d...)
		}
	}
	for _, d := range f.data {
		b = append(b, d...)
	}
	binary.LittleEndian.PutUint16(b[2:], uint16(len(b)))
	c, err := hw.ParseConfig(b)
	Expect(err).NotTo(HaveOccurred())
	return c
}

var _ = Describe("descriptor validation (Parse)", func() {
	It("accepts QEMU's layout and reports what it found", func() {
		f, err := cdcecm.Parse(goodFn().config(), 0)
		Expect(err).NotTo(HaveOccurred())
		Expect(f.Control).To(BeEquivalentTo(0))
		Expect(f.Data).To(BeEquivalentTo(1))
		Expect(f.DataAlt).To(BeEquivalentTo(1))
		Expect(f.In.Address).To(BeEquivalentTo(0x82))
		Expect(f.Out.Address).To(BeEquivalentTo(0x02))
		Expect(f.Status.Address).To(BeEquivalentTo(0x81))
		Expect(f.MaxSegmentSize).To(BeEquivalentTo(1514))
		Expect(f.MACIndex).To(BeEquivalentTo(3))
		Expect(f.Swapped).To(BeFalse())
	})

	DescribeTable("malformed functions fail with their named error",
		func(breakIt func(f *fn), want error) {
			_, err := cdcecm.Parse(func() *hw.Config { f := goodFn(); breakIt(f); return f.config() }(), 0)
			Expect(err).To(MatchError(want))
			Expect(err.Error()).To(ContainSubstring("interface"), "the error names the interface")
		},
		Entry("no class-specific descriptors at all", func(f *fn) { f.cs = nil }, cdcecm.ErrNoFunctional),
		Entry("no header", func(f *fn) { f.cs = f.cs[1:] }, cdcecm.ErrMissingHeader),
		Entry("no union", func(f *fn) { f.cs = [][]byte{f.cs[0], f.cs[2]} }, cdcecm.ErrMissingUnion),
		Entry("no Ethernet descriptor", func(f *fn) { f.cs = f.cs[:2] }, cdcecm.ErrMissingEthernet),
		Entry("two headers", func(f *fn) { f.cs = append(f.cs, headerDesc()) }, cdcecm.ErrDuplicate),
		Entry("two unions", func(f *fn) { f.cs = append(f.cs, unionDesc(0, 1)) }, cdcecm.ErrDuplicate),
		Entry("two Ethernet descriptors", func(f *fn) { f.cs = append(f.cs, etherDesc(3, 1514, 0)) }, cdcecm.ErrDuplicate),
		Entry("header bLength 4", func(f *fn) { f.cs[0] = []byte{4, 0x24, 0, 0x10} }, cdcecm.ErrDescriptorLength),
		Entry("header bLength 6", func(f *fn) { f.cs[0] = []byte{6, 0x24, 0, 0x10, 0x01, 0} }, cdcecm.ErrDescriptorLength),
		Entry("union bLength 4", func(f *fn) { f.cs[1] = []byte{4, 0x24, 6, 0} }, cdcecm.ErrDescriptorLength),
		Entry("Ethernet bLength 12", func(f *fn) { f.cs[2] = f.cs[2][:12]; f.cs[2][0] = 12 }, cdcecm.ErrDescriptorLength),
		Entry("Ethernet bLength 14", func(f *fn) { f.cs[2] = append(f.cs[2], 0); f.cs[2][0] = 14 }, cdcecm.ErrDescriptorLength),
		Entry("union names a missing slave", func(f *fn) { f.cs[1] = unionDesc(0, 5) }, cdcecm.ErrUnionInterface),
		Entry("union belongs to other interfaces", func(f *fn) { f.cs[1] = unionDesc(2, 3) }, cdcecm.ErrUnionInterface),
		Entry("union slave is the master", func(f *fn) { f.cs[1] = unionDesc(0, 0) }, cdcecm.ErrDataClass),
		Entry("union slave not CDC data", func(f *fn) { f.data[0][5], f.data[1][5] = 0xff, 0xff }, cdcecm.ErrDataClass),
		Entry("wMaxSegmentSize 0 (CVE-2017-16649)", func(f *fn) { f.cs[2] = etherDesc(3, 0, 0) }, cdcecm.ErrZeroMaxSegment),
		Entry("wMaxSegmentSize 81", func(f *fn) { f.cs[2] = etherDesc(3, 81, 0) }, cdcecm.ErrZeroMaxSegment),
		Entry("bulk wMaxPacketSize 0 (CVE-2021-47495)", func(f *fn) {
			f.data[2], f.data[3] = epDesc(0x82, hw.XferBulk, 0, 0), epDesc(0x02, hw.XferBulk, 0, 0)
		}, cdcecm.ErrZeroMaxPacket),
		Entry("interrupt IN where bulk is expected (CVE-2023-53548)", func(f *fn) {
			f.data[2] = epDesc(0x82, hw.XferInterrupt, 64, 1)
		}, cdcecm.ErrEndpointType),
		Entry("isochronous OUT where bulk is expected", func(f *fn) {
			f.data[3] = epDesc(0x02, hw.XferIsochronous, 64, 1)
		}, cdcecm.ErrEndpointType),
		Entry("no alt with both directions", func(f *fn) {
			f.data = [][]byte{ifaceDesc(1, 0, 0, 0x0a, 0, 0), ifaceDesc(1, 1, 1, 0x0a, 0, 0), epDesc(0x82, hw.XferBulk, 64, 0)}
		}, cdcecm.ErrNoBulkPair),
		Entry("the bulk pair only at alt 32, past the 32 scanned", func(f *fn) {
			f.data = nil
			for a := 0; a < 32; a++ {
				f.data = append(f.data, ifaceDesc(1, byte(a), 0, 0x0a, 0, 0))
			}
			f.data = append(f.data, ifaceDesc(1, 32, 2, 0x0a, 0, 0), epDesc(0x82, hw.XferBulk, 64, 0), epDesc(0x02, hw.XferBulk, 64, 0))
		}, cdcecm.ErrNoBulkPair),
	)

	DescribeTable("quirks Linux tolerates are tolerated",
		func(bend func(f *fn), check func(f *cdcecm.Function)) {
			f := goodFn()
			bend(f)
			got, err := cdcecm.Parse(f.config(), 0)
			Expect(err).NotTo(HaveOccurred())
			check(got)
		},
		Entry("master and slave swapped in the union", func(f *fn) { f.cs[1] = unionDesc(1, 0) },
			func(f *cdcecm.Function) {
				Expect(f.Swapped).To(BeTrue())
				Expect([]uint8{f.Control, f.Data}).To(Equal([]uint8{0, 1}))
			}),
		Entry("functional descriptors after the endpoint", func(f *fn) { f.csOnEP = true },
			func(f *cdcecm.Function) { Expect(f.MaxSegmentSize).To(BeEquivalentTo(1514)) }),
		Entry("bulk pair on alt 2 after an alt with IN only", func(f *fn) {
			f.data = [][]byte{ifaceDesc(1, 0, 0, 0x0a, 0, 0),
				ifaceDesc(1, 1, 1, 0x0a, 0, 0), epDesc(0x83, hw.XferBulk, 64, 0),
				ifaceDesc(1, 2, 2, 0x0a, 0, 0), epDesc(0x82, hw.XferBulk, 512, 0), epDesc(0x02, hw.XferBulk, 512, 0)}
		}, func(f *cdcecm.Function) {
			Expect(f.DataAlt).To(BeEquivalentTo(2))
			Expect(f.In.MaxPacketSize).To(BeEquivalentTo(512))
		}),
		Entry("the bulk pair at alt 31, the last one scanned", func(f *fn) {
			f.data = nil
			for a := 0; a < 31; a++ {
				f.data = append(f.data, ifaceDesc(1, byte(a), 0, 0x0a, 0, 0))
			}
			f.data = append(f.data, ifaceDesc(1, 31, 2, 0x0a, 0, 0), epDesc(0x82, hw.XferBulk, 64, 0), epDesc(0x02, hw.XferBulk, 64, 0))
		}, func(f *cdcecm.Function) { Expect(f.DataAlt).To(BeEquivalentTo(31)) }),
		Entry("unknown functional descriptors are skipped", func(f *fn) {
			f.cs = append([][]byte{{4, 0x24, 0x02, 0x00}}, f.cs...)
		}, func(f *cdcecm.Function) { Expect(f.Status.Address).To(BeEquivalentTo(0x81)) }),
		Entry("imperfect multicast filters are decoded", func(f *fn) { f.cs[2] = etherDesc(3, 1514, 0x8010) },
			func(f *cdcecm.Function) {
				Expect(f.NumMCFilters).To(BeEquivalentTo(16))
				Expect(f.MCImperfect).To(BeTrue())
			}),
	)

	DescribeTable("a status endpoint is used only if it is interrupt IN, ≥8 bytes, bInterval ≠ 0",
		func(status []byte, used bool) {
			f := goodFn()
			f.status = status
			got, err := cdcecm.Parse(f.config(), 0)
			Expect(err).NotTo(HaveOccurred())
			Expect(got.Status.Address != 0).To(Equal(used))
		},
		Entry("interrupt IN 16 bytes every 32 frames", epDesc(0x81, hw.XferInterrupt, 16, 32), true),
		Entry("interrupt IN 8 bytes", epDesc(0x81, hw.XferInterrupt, 8, 1), true),
		Entry("interrupt IN 4 bytes", epDesc(0x81, hw.XferInterrupt, 4, 32), false),
		Entry("bInterval 0", epDesc(0x81, hw.XferInterrupt, 16, 0), false),
		Entry("bulk IN", epDesc(0x81, hw.XferBulk, 16, 0), false),
		Entry("interrupt OUT", epDesc(0x01, hw.XferInterrupt, 16, 32), false),
		Entry("none", nil, false),
	)
})

var _ = Describe("MAC address from iMACAddress", func() {
	DescribeTable("valid strings",
		func(s, want string) {
			mac, err := cdcecm.ParseMAC(s)
			Expect(err).NotTo(HaveOccurred())
			Expect(mac.String()).To(Equal(want))
		},
		Entry("QEMU's", "525400123456", "52:54:00:12:34:56"),
		Entry("upper case", "40010203ABCD", "40:01:02:03:ab:cd"),
	)
	bad := []TableEntry{
		Entry("multicast", "015400123456"),
		Entry("all zero", "000000000000"),
		Entry("spaces", "52 54 00 12 "),
	}
	for _, s := range ecm.BadMACStrings {
		bad = append(bad, Entry("model's bad string "+s, s))
	}
	DescribeTable("invalid strings fail with ErrBadMAC, quoting the string",
		func(s string) {
			_, err := cdcecm.ParseMAC(s)
			Expect(err).To(MatchError(cdcecm.ErrBadMAC))
			Expect(err.Error()).To(ContainSubstring("%q", s))
		}, bad)
})

var _ = Describe("binding the ECM model", func() {
	It("binds QEMU usb-net: MAC from \"525400123456\", endpoints 0x82/0x02/0x81, MTU from wMaxSegmentSize", func() {
		r := newRig(ecm.Options{})
		d := r.d
		Expect(d.Driver.Name()).To(Equal("cdc_ether"))
		Expect(d.Net.HardwareAddr().String()).To(Equal("52:54:00:12:34:56"))
		Expect(d.In.Address).To(BeEquivalentTo(0x82))
		Expect(d.Out.Address).To(BeEquivalentTo(0x02))
		Expect(d.Status.Address).To(BeEquivalentTo(0x81))
		Expect([]int{d.CtrlIface, d.DataIface, d.DataAlt}).To(Equal([]int{0, 1, 1}))
		Expect(d.HardMTU).To(Equal(1514))
		Expect(d.Net.MTU()).To(Equal(1500))
		Expect(d.MaxPacket()).To(Equal(64))
		Expect(d.USBSpeed()).To(Equal(hw.SpeedFull))
		Expect(d.Config.Value).To(BeEquivalentTo(1))
		Expect(d.Net.Carrier()).To(BeFalse(), "carrier waits for NETWORK_CONNECTION")
	})

	It("moves QEMU usb-net off its RNDIS configuration onto the ECM one", func() {
		dev, _ := ecm.NewDevice(ecm.Options{})
		Expect(dev.SetConfiguration(2)).To(Succeed())
		d, err := usbnet.Probe(dev, cdcecm.New())
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(func() { Expect(d.Disconnect()).To(Succeed()); Expect(dev.Close()).To(Succeed()) })
		Expect(dev.Configuration()).To(Equal(1))
		Expect(d.Config.Value).To(BeEquivalentTo(1))
	})

	It("binds the Linux f_ecm gadget at high speed (IAD first, 512-byte bulk)", func() {
		r := newRig(ecm.Options{Flavor: ecm.Gadget})
		Expect(r.d.MaxPacket()).To(Equal(512))
		Expect(r.d.Net.HardwareAddr().String()).To(Equal("52:54:00:12:34:56"))
	})

	It("takes the MTU from a smaller wMaxSegmentSize", func() {
		r := newRig(ecm.Options{MaxSegmentSize: 1014})
		Expect(r.d.HardMTU).To(Equal(1014))
		Expect(r.d.Net.MTU()).To(Equal(1000))
		Expect(r.d.Net.SetMTU(1001)).NotTo(Succeed())
	})

	DescribeTable("a corrupted model is refused with a named error",
		func(c ecm.Corruption, check func(err error)) {
			dev, m := ecm.NewDevice(ecm.Options{})
			DeferCleanup(func() { Expect(dev.Close()).To(Succeed()) })
			m.Corrupt(dev, c)
			d, err := usbnet.Probe(dev, cdcecm.New())
			Expect(d).To(BeNil())
			Expect(err).To(HaveOccurred())
			Expect(err.Error()).To(ContainSubstring("0525:a4a2"), "the error names the device")
			check(err)
			// Nothing stays claimed: the device closes.
		},
		Entry(ecm.CorruptZeroMaxPacket.String(), ecm.CorruptZeroMaxPacket, func(err error) { Expect(err).To(MatchError(cdcecm.ErrZeroMaxPacket)) }),
		Entry(ecm.CorruptZeroMaxSegment.String(), ecm.CorruptZeroMaxSegment, func(err error) { Expect(err).To(MatchError(cdcecm.ErrZeroMaxSegment)) }),
		Entry(ecm.CorruptNoUnion.String(), ecm.CorruptNoUnion, func(err error) { Expect(err).To(MatchError(cdcecm.ErrMissingUnion)) }),
		Entry(ecm.CorruptUnionSlaveNotData.String(), ecm.CorruptUnionSlaveNotData, func(err error) { Expect(err).To(MatchError(cdcecm.ErrDataClass)) }),
		Entry(ecm.CorruptBadMAC.String(), ecm.CorruptBadMAC, func(err error) {
			Expect(err).To(MatchError(cdcecm.ErrBadMAC))
			Expect(err.Error()).To(ContainSubstring(`"52540012345G"`))
		}),
		Entry(ecm.CorruptLyingLength.String(), ecm.CorruptLyingLength, func(err error) {
			var de *hw.DescError
			Expect(errors.As(err, &de)).To(BeTrue(), "a *hw.DescError: %v", err)
			Expect(de.Reason).To(ContainSubstring("past the end"))
		}),
	)

	It("binds without a status endpoint when it is bulk (as Linux), assuming the link up", func() {
		dev, m := ecm.NewDevice(ecm.Options{})
		m.Corrupt(dev, ecm.CorruptIntrAsBulk)
		d, err := usbnet.Probe(dev, cdcecm.New())
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(func() { Expect(d.Disconnect()).To(Succeed()); Expect(dev.Close()).To(Succeed()) })
		Expect(d.Status.Address).To(BeZero())
		Expect(d.Net.Carrier()).To(BeTrue())
	})
})
