package gousb

import (
	"context"
	"errors"
	"os"
	"path/filepath"

	libusb "github.com/google/gousb"
	. "github.com/onsi/gomega"

	"dongle/hw"
)

// fakeSysfs lays out what Linux shows for an ECM device on port 1-2 with
// cdc_ether bound to its interfaces.
func fakeSysfs(root, port, serial string, cfg int, drivers map[int]string) {
	must := func(err error) { ExpectWithOffset(2, err).NotTo(HaveOccurred()) }
	must(os.MkdirAll(filepath.Join(root, port), 0o755))
	must(os.WriteFile(filepath.Join(root, port, "serial"), []byte(serial+"\n"), 0o644))
	must(os.WriteFile(filepath.Join(root, port, "bConfigurationValue"), []byte("1\n"), 0o644))
	for i, drv := range drivers {
		dir := filepath.Join(root, port+":1."+string(rune('0'+i)))
		must(os.MkdirAll(dir, 0o755))
		must(os.Symlink("../../../../bus/usb/drivers/"+drv, filepath.Join(dir, "driver")))
	}
}

var _ = Describe("Context", func() {
	var (
		l    *fakeLib
		ctx  *Context
		root string
	)
	BeforeEach(func() {
		root = GinkgoT().TempDir()
		hub := &fakeDev{info: devInfo{Bus: 1, Address: 1, Vendor: 0x1d6b, Product: 0x0002, Class: 9}}
		mouse := &fakeDev{info: devInfo{Bus: 1, Address: 3, Path: []int{1}, Vendor: 0x046d, Product: 0xc077, Speed: hw.SpeedLow,
			Configs: []cfgInfo{{Value: 1, Interfaces: []ifaceInfo{{Class: 3, SubClass: 1, Protocol: 2}}}}}}
		ecm := newECMDev(1, 4, []int{2})
		asix := &fakeDev{info: devInfo{Bus: 2, Address: 2, Path: []int{1, 4}, Vendor: 0x0b95, Product: 0x1790, Speed: hw.SpeedSuper,
			Configs: []cfgInfo{{Value: 1, Interfaces: []ifaceInfo{{Class: 0xff, SubClass: 0xff}}}}}}
		ncm := &fakeDev{info: devInfo{Bus: 2, Address: 5, Path: []int{2}, Vendor: 0x1209, Product: 0x0002,
			Configs: []cfgInfo{{Value: 1, Interfaces: []ifaceInfo{{Class: 2, SubClass: 0x0d}, {Number: 1, Class: 0x0a}}}}}}
		rndis := &fakeDev{info: devInfo{Bus: 2, Address: 6, Path: []int{3}, Vendor: 0x1209, Product: 0x0003,
			Configs: []cfgInfo{{Value: 1, Interfaces: []ifaceInfo{{Class: 0xe0, SubClass: 1, Protocol: 3}}}}}}
		l = &fakeLib{devs: []*fakeDev{asix, ncm, rndis, hub, mouse, ecm}}
		fakeSysfs(root, "1-2", "ECM0001", 1, map[int]string{0: "cdc_ether", 1: "cdc_ether"})
		ctx = newContext(l, root)
	})

	It("lists every device but root hubs, sorted, with port, speed, serial and kernel drivers", func() {
		all, err := ctx.List(nil)
		Expect(err).NotTo(HaveOccurred())
		var names []string
		for _, c := range all {
			names = append(names, c.Port)
		}
		Expect(names).To(Equal([]string{"1-1", "1-2", "2-1.4", "2-2", "2-3"}))
		ecm := all[1]
		Expect(ecm.Info).To(Equal(hw.Info{Bus: 1, Address: 4, Port: "1-2", Vendor: 0x0525, Product: 0xa4a2,
			Speed: hw.SpeedFull, Serial: "ECM0001", Backend: "usb"}))
		Expect(ecm.ActiveConfig).To(Equal(1))
		Expect(ecm.Drivers()).To(Equal([]string{"cdc_ether"}))
		Expect(ecm.Interfaces).To(HaveLen(3))
		Expect(ecm.Interfaces[0].Driver).To(Equal("cdc_ether"))
		Expect(ecm.String()).To(ContainSubstring("driver cdc_ether"))
		Expect(all[2].Drivers()).To(BeEmpty(), "no sysfs entry: no driver known")
	})

	It("rebuilds each candidate's interface classes as descriptors, and lists what the caller's filter takes", func() {
		all, err := ctx.List(nil)
		Expect(err).NotTo(HaveOccurred())
		byPort := map[string]Candidate{}
		for _, c := range all {
			byPort[c.Port] = c
		}
		dd, cfgs := byPort["2-2"].Descriptors() // the NCM device
		Expect(dd.Vendor).To(Equal(uint16(0x1209)))
		Expect(dd.Product).To(Equal(uint16(0x0002)))
		Expect(dd.NumConfigurations).To(BeEquivalentTo(1))
		Expect(cfgs).To(HaveLen(1))
		Expect(cfgs[0].Value).To(BeEquivalentTo(1))
		Expect(cfgs[0].Interfaces).To(HaveLen(2))
		a := cfgs[0].Interface(0).Alts[0]
		Expect([3]uint8{a.Class, a.SubClass, a.Protocol}).To(Equal([3]uint8{2, 0x0d, 0}))
		Expect(cfgs[0].Interface(1).Alts[0].Class).To(BeEquivalentTo(0x0a))

		dd, cfgs = byPort["1-2"].Descriptors() // the ECM device: data interface with two alternate settings
		Expect(dd.Vendor).To(Equal(uint16(0x0525)))
		Expect(cfgs[0].Interface(1).Alts).To(HaveLen(2))
		Expect(cfgs[0].Interface(1).Alts[1].Alternate).To(BeEquivalentTo(1))

		By("the filter is the caller's: this package takes what it is given")
		got, err := ctx.List(func(c Candidate) bool { return c.Vendor == 0x1209 })
		Expect(err).NotTo(HaveOccurred())
		var ports []string
		for _, c := range got {
			ports = append(ports, c.Port)
		}
		Expect(ports).To(Equal([]string{"2-2", "2-3"}))
	})

	DescribeTable("opens by every selector form",
		func(sel string) {
			s, err := ParseSelector(sel)
			Expect(err).NotTo(HaveOccurred())
			d, err := ctx.OpenDevice(s, nil)
			Expect(err).NotTo(HaveOccurred())
			DeferCleanup(d.Close)
			Expect(d.Info().Bus).To(Equal(1))
			Expect(d.Info().Address).To(Equal(4))
			Expect(d.Node()).To(Equal("/dev/bus/usb/001/004"))
		},
		Entry("bus.addr", "1.4"),
		Entry("vid:pid", "0525:a4a2"),
		Entry("serial from sysfs", "serial=ECM0001"),
		Entry("port", "port=1-2"),
	)

	It("opens by serial read from the device when sysfs has none", func() {
		l.devs[0].serial = "AX-SERIAL"
		d, err := ctx.OpenDevice(Selector{Kind: BySerial, Serial: "AX-SERIAL"}, nil)
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(d.Close)
		Expect(d.Info().Vendor).To(Equal(uint16(0x0b95)))
		Expect(d.Info().Serial).To(Equal("AX-SERIAL"))
	})

	It("says what it found when nothing matches", func() {
		_, err := ctx.OpenDevice(Selector{Kind: ByID, Vendor: 0x0b95, Product: 0x772b}, nil)
		Expect(errors.Is(err, hw.ErrNotFound)).To(BeTrue())
		var nf *NotFoundError
		Expect(errors.As(err, &nf)).To(BeTrue())
		Expect(nf.Found).To(HaveLen(5))
		Expect(err.Error()).To(ContainSubstring("no USB device matches 0b95:772b; found 5 device(s)"))
		Expect(err.Error()).To(ContainSubstring("bus 1 addr 4 (0525:a4a2) 1-2 full-speed driver cdc_ether"))
	})

	It("names the device node and the udev rule when access is denied", func() {
		l.devs[5].openErr = libusb.ErrorAccess
		_, err := ctx.OpenDevice(Selector{Kind: ByAddress, Bus: 1, Address: 4}, nil)
		Expect(errors.Is(err, hw.ErrAccess)).To(BeTrue())
		Expect(err.Error()).To(ContainSubstring("/dev/bus/usb/001/004"))
		Expect(err.Error()).To(ContainSubstring("dongle udev"))
		Expect(err.Error()).To(HavePrefix("open bus 1 addr 4 (0525:a4a2): access denied"))
	})

	It("refuses to close while a device is open, and closes the library after", func() {
		d, err := ctx.OpenFirst(func(c Candidate) bool { return c.Vendor == 0x0525 }, nil)
		Expect(err).NotTo(HaveOccurred())
		Expect(ctx.Close()).To(MatchError(hw.ErrBusy))
		Expect(d.Close()).To(Succeed())
		Expect(ctx.Close()).To(Succeed())
		Expect(l.closed).To(BeTrue())
		Expect(ctx.Close()).To(MatchError(hw.ErrClosed))
		_, err = ctx.List(nil)
		Expect(err).To(MatchError(hw.ErrClosed))
	})
})

var _ = Describe("Device", func() {
	var (
		l   *fakeLib
		dev *fakeDev
		d   *Device
	)
	BeforeEach(func() {
		dev = newECMDev(1, 4, []int{2})
		l = &fakeLib{devs: []*fakeDev{dev}}
		c := newContext(l, "")
		var err error
		d, err = c.OpenFirst(nil, &Options{Workers: 4})
		Expect(err).NotTo(HaveOccurred())
	})
	h := func() *fakeHandle { return l.handles[len(l.handles)-1] }

	It("reads descriptors through Control", func() {
		dd, err := hw.ReadDeviceDescriptor(context.Background(), d)
		Expect(err).NotTo(HaveOccurred())
		Expect(dd.Vendor).To(Equal(uint16(0x0525)))
		cfg, err := hw.ReadConfig(context.Background(), d, 0)
		Expect(err).NotTo(HaveOccurred())
		Expect(cfg.Interfaces).To(HaveLen(2))
		Expect(d.Close()).To(Succeed())
	})

	It("maps a stalled request and names it", func() {
		_, err := d.Control(context.Background(), hw.Setup{RequestType: 0xc0, Request: 0x7f}, make([]byte, 2))
		Expect(errors.Is(err, hw.ErrStall)).To(BeTrue())
		Expect(err.Error()).To(HavePrefix("bus 1 addr 4 (0525:a4a2): control c0 7f 0000 0000 0002: stall"))
		_, err = d.Control(context.Background(), hw.Setup{RequestType: 0xc0, Request: 0x7e}, make([]byte, 2))
		Expect(errors.Is(err, hw.ErrTimeout)).To(BeTrue())
	})

	It("does not start a control transfer for a finished context", func() {
		cctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := d.Control(cctx, hw.Setup{RequestType: 0x40, Request: 1}, nil)
		Expect(errors.Is(err, hw.ErrCancelled)).To(BeTrue())
		Expect(h().calls).To(BeEmpty())
	})

	It("enforces the ownership rules with ErrBusy", func() {
		Expect(d.Claim(1)).To(Succeed())
		Expect(d.Claim(1)).To(MatchError(hw.ErrBusy))
		Expect(d.SetConfiguration(1)).To(MatchError(hw.ErrBusy))
		Expect(d.Close()).To(MatchError(hw.ErrBusy))

		_, err := d.OpenEndpoint(0x82)
		Expect(err).To(MatchError(hw.ErrNotFound), "alt 0 of the data interface has no endpoints")
		Expect(err.Error()).To(ContainSubstring("[interface 1 alt 0:]"))

		Expect(d.SetAlt(1, 1)).To(Succeed())
		ep, err := d.OpenEndpoint(0x82)
		Expect(err).NotTo(HaveOccurred())
		Expect(ep.Desc()).To(Equal(hw.EndpointDesc{Address: 0x82, Attributes: 2, MaxPacketSize: 64}))
		_, err = d.OpenEndpoint(0x82)
		Expect(err).To(MatchError(hw.ErrBusy))
		Expect(d.SetAlt(1, 0)).To(MatchError(hw.ErrBusy))
		Expect(d.Release(1)).To(MatchError(hw.ErrBusy))

		Expect(ep.Close()).To(Succeed())
		Expect(ep.Close()).To(MatchError(hw.ErrClosed))
		Expect(d.Release(1)).To(Succeed())
		Expect(d.Release(1)).To(MatchError(hw.ErrNotFound))
		Expect(d.Close()).To(Succeed())
		Expect(d.Close()).To(MatchError(hw.ErrClosed))
		Expect(d.Claim(0)).To(MatchError(hw.ErrClosed))
		Expect(h().calls).To(ContainElements("claim 1", "setAlt 1 1", "xfers 1 1 82 4", "release 1", "close"))
	})

	It("refuses endpoints of an unclaimed interface", func() {
		_, err := d.OpenEndpoint(0x81)
		Expect(err).To(MatchError(hw.ErrNotFound))
		Expect(err.Error()).To(ContainSubstring("claimed: none"))
		Expect(d.Close()).To(Succeed())
	})

	It("explains a busy claim", func() {
		dev.claimErr = libusb.ErrorBusy
		err := d.Claim(0)
		Expect(errors.Is(err, hw.ErrBusy)).To(BeTrue())
		Expect(err.Error()).To(ContainSubstring("another process has claimed this interface"))
		Expect(err.Error()).To(ContainSubstring("fuser -v /dev/bus/usb/001/004"))
		Expect(d.Close()).To(Succeed(), "a failed claim leaves nothing claimed")
	})

	It("returns claimed interfaces to alt 0 on reset and passes clear-halt through", func() {
		Expect(d.Claim(1)).To(Succeed())
		Expect(d.SetAlt(1, 1)).To(Succeed())
		Expect(d.ClearHalt(0x82)).To(Succeed())
		Expect(d.Reset()).To(Succeed())
		_, err := d.OpenEndpoint(0x82)
		Expect(err).To(MatchError(hw.ErrNotFound))
		Expect(h().calls).To(ContainElements("clearHalt 82", "reset"))
		Expect(d.Release(1)).To(Succeed())
		Expect(d.Close()).To(Succeed())
	})
})
