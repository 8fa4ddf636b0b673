package gousb

import (
	"errors"
	"os"
	"path/filepath"
	"strings"

	"github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"dongle/hw"
)

// usbipTree is a fake /sys and /var/run/vhci_hcd as the lab showed them
// with the ECM gadget (3-1 on dummy_hcd.0) exported by usbip-host and
// attached back through vhci_hcd as 6-1 on port 0 of controller 0; a
// second device (7-1... here 8-1 on vhci_hcd.1) attached by something
// other than usbip attach on port 30 (controller 1's first high-speed
// port), with no record.
type usbipTree struct {
	sys, devices, vhci0, state string
}

const (
	statusHeader = "hub port sta spd dev      sockfd local_busid\n"
	statusUsed0  = "hs  0000 006 003 00030002 000003 6-1\n"
	statusFree1  = "hs  0001 004 000 00000000 000000 0-0\n"
	statusUsed30 = "hs  0030 006 003 00010005 000004 8-1\n"
)

func newUSBIPTree() usbipTree {
	ginkgo.GinkgoHelper()
	root := GinkgoT().TempDir()
	t := usbipTree{sys: filepath.Join(root, "sys"), state: filepath.Join(root, "run", "vhci_hcd")}
	t.devices = filepath.Join(t.sys, "bus", "usb", "devices")
	t.vhci0 = filepath.Join(t.sys, "devices", "platform", "vhci_hcd.0")
	must := func(err error) { Expect(err).NotTo(HaveOccurred()) }
	dev := func(platform, rootHub, port string) string {
		d := filepath.Join(t.sys, "devices", "platform", platform, rootHub, port)
		must(os.MkdirAll(d, 0o755))
		must(os.MkdirAll(t.devices, 0o755))
		must(os.Symlink(filepath.Join("..", "..", "..", "devices", "platform", platform, rootHub, port), filepath.Join(t.devices, port)))
		must(os.WriteFile(filepath.Join(d, "bConfigurationValue"), []byte("1\n"), 0o644))
		return d
	}
	exp := dev("dummy_hcd.0", "usb3", "3-1")
	must(os.Symlink("../../../../../bus/usb/drivers/usbip-host", filepath.Join(exp, "driver")))
	must(os.WriteFile(filepath.Join(exp, "usbip_status"), []byte("2\n"), 0o644))
	imp := dev("vhci_hcd.0", "usb6", "6-1")
	must(os.Symlink("../../../../../bus/usb/drivers/usb", filepath.Join(imp, "driver")))
	dev("vhci_hcd.1", "usb8", "8-1")
	must(os.WriteFile(filepath.Join(t.vhci0, "status"), []byte(statusHeader+statusUsed0+statusFree1), 0o644))
	must(os.WriteFile(filepath.Join(t.vhci0, "status.1"), []byte(statusHeader+statusUsed30), 0o644))
	must(os.MkdirAll(t.state, 0o700))
	must(os.WriteFile(filepath.Join(t.state, "port0"), []byte("127.0.0.1 3240 3-1\n"), 0o600))
	return t
}

func (t usbipTree) context(devs ...*fakeDev) *Context {
	c := newContext(&fakeLib{devs: devs}, t.devices)
	c.sysfs.vhciState = t.state
	return c
}

// ecmAt is the ECM gadget (1209:0001) at bus/addr, port 1 of the root hub.
func ecmAt(bus, addr int) *fakeDev {
	d := newECMDev(bus, addr, []int{1})
	d.info.Vendor, d.info.Product = 0x1209, 0x0001
	return d
}

var _ = Describe("USB/IP", func() {
	var t usbipTree
	BeforeEach(func() { t = newUSBIPTree() })

	byPort := func(c *Context) map[string]Candidate {
		ginkgo.GinkgoHelper()
		all, err := c.List(nil)
		Expect(err).NotTo(HaveOccurred())
		m := map[string]Candidate{}
		for _, cd := range all {
			m[cd.Port] = cd
		}
		return m
	}

	It("tells an imported device (host, TCP port, bus ID, vhci port, remote address) from an exported one and a local one", func() {
		local := newECMDev(1, 2, []int{1})
		m := byPort(t.context(ecmAt(3, 2), ecmAt(6, 2), ecmAt(8, 5), local))
		Expect(m["6-1"].USBIP).To(Equal(USBIP{Role: Imported, VHCIPort: 0, RemoteBus: 3, RemoteDev: 2,
			Host: "127.0.0.1", TCPPort: "3240", BusID: "3-1"}))
		Expect(m["6-1"].String()).To(HaveSuffix(" remote: usbip://127.0.0.1:3240/3-1 on vhci port 0 (remote bus 3 dev 2)"))
		Expect(m["3-1"].USBIP).To(Equal(USBIP{Role: Exported, InUse: true}))
		Expect(m["3-1"].String()).To(HaveSuffix(" exported over USB/IP (usbip-host), attached by a remote host"))
		By("a port on the second controller's status file, attached without a usbip attach record")
		Expect(m["8-1"].USBIP).To(Equal(USBIP{Role: Imported, VHCIPort: 30, RemoteBus: 1, RemoteDev: 5}))
		Expect(m["8-1"].USBIP.String()).To(Equal("remote: an unknown host (no usbip attach record) on vhci port 30 (remote bus 1 dev 5)"))
		Expect(m["1-1"].USBIP).To(Equal(USBIP{}))
		Expect(m["1-1"].String()).NotTo(ContainSubstring("usbip"))
	})

	It("says an exported device nobody attached yet is not in use", func() {
		Expect(os.WriteFile(filepath.Join(t.sys, "devices", "platform", "dummy_hcd.0", "usb3", "3-1", "usbip_status"), []byte("1\n"), 0o644)).To(Succeed())
		m := byPort(t.context(ecmAt(3, 2)))
		Expect(m["3-1"].USBIP).To(Equal(USBIP{Role: Exported}))
		Expect(m["3-1"].USBIP.String()).To(Equal("exported over USB/IP (usbip-host), not attached yet"))
	})

	It("never chooses the exported device, whatever sorts first", func() {
		c := t.context(ecmAt(3, 2), ecmAt(6, 2))
		cd, err := c.Find(Selector{Kind: ByID, Vendor: 0x1209, Product: 0x0001}, nil)
		Expect(err).NotTo(HaveOccurred())
		Expect(cd.Port).To(Equal("6-1"))
		d, err := c.OpenFirst(func(Candidate) bool { return true }, nil)
		Expect(err).NotTo(HaveOccurred())
		Expect(d.Info().Port).To(Equal("6-1"))
		Expect(d.Close()).To(Succeed())
	})

	It("opens the device a usbip= selector names, and says so when none is attached from there", func() {
		c := t.context(ecmAt(3, 2), ecmAt(6, 2), ecmAt(8, 5))
		d, err := c.OpenDevice(Selector{Kind: ByUSBIP, USBIPHost: "127.0.0.1", USBIPBusID: "3-1"}, nil)
		Expect(err).NotTo(HaveOccurred())
		Expect(d.Info().Port).To(Equal("6-1"))
		Expect(d.Close()).To(Succeed())
		_, err = c.OpenDevice(Selector{Kind: ByUSBIP, USBIPHost: "10.0.0.7", USBIPBusID: "3-1"}, nil)
		Expect(err).To(MatchError(hw.ErrNotFound))
		Expect(err.Error()).To(ContainSubstring("no USB device matches usbip=10.0.0.7/3-1"))
	})

	DescribeTable("refuses an exported device named alone, with ErrExported",
		func(sel string) {
			c := t.context(ecmAt(3, 2))
			s, err := ParseSelector(sel)
			Expect(err).NotTo(HaveOccurred())
			_, err = c.OpenDevice(s, nil)
			Expect(errors.Is(err, ErrExported)).To(BeTrue(), "%v", err)
			Expect(errors.Is(err, hw.ErrNotFound)).To(BeTrue())
			Expect(err.Error()).To(HavePrefix("bus 3 addr 2 (1209:0001) at 3-1: "))
			Expect(err.Error()).To(HaveSuffix("take it back here with `usbip unbind -b 3-1`"))
		},
		Entry("by VID:PID", "1209:0001"),
		Entry("by address", "3.2"),
		Entry("by port", "port=3-1"),
	)

	It("reports a malformed status file and keeps what it read, without panicking", func() {
		Expect(os.WriteFile(filepath.Join(t.vhci0, "status.1"), []byte(statusHeader+"hs 0030 006 zz\n"), 0o644)).To(Succeed())
		m := byPort(t.context(ecmAt(6, 2), ecmAt(8, 5)))
		u := m["6-1"].USBIP
		Expect(u.Role).To(Equal(Imported))
		Expect(u.Host).To(Equal("127.0.0.1"), "the port read before the bad line")
		Expect(u.Err).To(MatchError(ErrUSBIPState))
		Expect(u.Err.Error()).To(ContainSubstring("status.1"))
		Expect(u.Err.Error()).To(ContainSubstring(`line 2 "hs 0030 006 zz"`))
		u = m["8-1"].USBIP
		Expect(u.Role).To(Equal(Imported))
		Expect(u.VHCIPort).To(Equal(-1))
		Expect(u.Err).To(MatchError(ErrUSBIPState))
		Expect(u.String()).To(ContainSubstring("[vhci_hcd status "))
	})

	It("reports a malformed attach record, naming the file", func() {
		Expect(os.WriteFile(filepath.Join(t.state, "port0"), []byte("127.0.0.1\n"), 0o600)).To(Succeed())
		u := byPort(t.context(ecmAt(6, 2)))["6-1"].USBIP
		Expect(u.Role).To(Equal(Imported))
		Expect(u.VHCIPort).To(Equal(0))
		Expect(u.Host).To(BeEmpty())
		Expect(u.Err).To(MatchError(ErrUSBIPState))
		Expect(u.Err.Error()).To(ContainSubstring(filepath.Join(t.state, "port0")))
	})

	It("says so when no status line names the device (detached while listing)", func() {
		Expect(os.WriteFile(filepath.Join(t.vhci0, "status"), []byte(statusHeader+statusFree1), 0o644)).To(Succeed())
		u := byPort(t.context(ecmAt(6, 2)))["6-1"].USBIP
		Expect(u.Role).To(Equal(Imported))
		Expect(u.Err).To(MatchError(ErrUSBIPState))
		Expect(u.Err.Error()).To(ContainSubstring("no port lists 6-1"))
	})

	It("says so when vhci_hcd.0 has no status file", func() {
		Expect(os.Remove(filepath.Join(t.vhci0, "status"))).To(Succeed())
		Expect(os.Remove(filepath.Join(t.vhci0, "status.1"))).To(Succeed())
		u := byPort(t.context(ecmAt(6, 2)))["6-1"].USBIP
		Expect(u.Role).To(Equal(Imported))
		Expect(u.Err).To(MatchError(ErrUSBIPState))
		Expect(u.Err.Error()).To(ContainSubstring("no status file"))
	})

	It("lists the used vhci ports with their records (Imports)", func() {
		got, err := importsIn(t.vhci0, t.state)
		Expect(err).NotTo(HaveOccurred())
		Expect(got).To(Equal([]USBIP{
			{Role: Imported, VHCIPort: 0, RemoteBus: 3, RemoteDev: 2, Host: "127.0.0.1", TCPPort: "3240", BusID: "3-1"},
			{Role: Imported, VHCIPort: 30, RemoteBus: 1, RemoteDev: 5},
		}))
		Expect(os.WriteFile(filepath.Join(t.state, "port30"), []byte("a b\n"), 0o600)).To(Succeed())
		got, err = importsIn(t.vhci0, t.state)
		Expect(err).NotTo(HaveOccurred())
		Expect(got[1].Err).To(MatchError(ErrUSBIPState))
		got, err = importsIn(filepath.Join(t.sys, "nothing"), t.state)
		Expect(err).NotTo(HaveOccurred())
		Expect(got).To(BeEmpty(), "no vhci_hcd loaded")
	})

	It("orders controllers' status files numerically (status.10 after status.2)", func() {
		for _, n := range []string{"2", "10"} {
			line := strings.Replace(statusUsed30, "0030", map[string]string{"2": "0060", "10": "0300"}[n], 1)
			Expect(os.WriteFile(filepath.Join(t.vhci0, "status."+n), []byte(statusHeader+line), 0o644)).To(Succeed())
		}
		ports, err := readVHCIStatus(t.vhci0)
		Expect(err).NotTo(HaveOccurred())
		var nums []int
		for _, p := range ports {
			nums = append(nums, p.Port)
		}
		Expect(nums).To(Equal([]int{0, 1, 30, 60, 300}))
	})
})

// expectParsed checks a USB/IP state parser's answer: what it made of the
// input, and no error, or an ErrUSBIPState naming bad.
func expectParsed[T any](got T, err error, want T, bad string) {
	ginkgo.GinkgoHelper()
	Expect(got).To(Equal(want))
	if bad == "" {
		Expect(err).NotTo(HaveOccurred())
		return
	}
	Expect(err).To(MatchError(ErrUSBIPState))
	Expect(err.Error()).To(ContainSubstring(bad))
}

var _ = DescribeTable("ParseVHCIStatus",
	func(in string, want []VHCIPort, bad string) {
		got, err := ParseVHCIStatus(in)
		expectParsed(got, err, want, bad)
	},
	Entry("header, a used and a free port", statusHeader+statusUsed0+"ss  0015 004 000 00000000 000000 0-0\n", []VHCIPort{
		{Hub: "hs", Port: 0, Status: 6, Speed: 3, DevID: 0x30002, LocalBusID: "6-1"},
		{Hub: "ss", Port: 15, Status: 4, LocalBusID: "0-0"}}, ""),
	Entry("no header (empty file)", "", []VHCIPort(nil), ""),
	Entry("too few fields", statusHeader+statusUsed0+"hs  0001 004\n", []VHCIPort{{Hub: "hs", Status: 6, Speed: 3, DevID: 0x30002, LocalBusID: "6-1"}}, "3 fields, want 7"),
	Entry("too many fields", "hs  0001 004 000 00000000 000000 0-0 x\n", []VHCIPort(nil), "8 fields, want 7"),
	Entry("unknown hub", "xs  0001 004 000 00000000 000000 0-0\n", []VHCIPort(nil), "hub is not hs or ss"),
	Entry("header not first", statusUsed0+statusHeader, []VHCIPort{{Hub: "hs", Status: 6, Speed: 3, DevID: 0x30002, LocalBusID: "6-1"}}, "line 2"),
	Entry("port not decimal", "hs  00x1 004 000 00000000 000000 0-0\n", []VHCIPort(nil), "decimal"),
	Entry("status not decimal", "hs  0001 0x4 000 00000000 000000 0-0\n", []VHCIPort(nil), "decimal"),
	Entry("speed not decimal", "hs  0001 004 z00 00000000 000000 0-0\n", []VHCIPort(nil), "decimal"),
	Entry("devid not hexadecimal", "hs  0001 004 000 0000000g 000000 0-0\n", []VHCIPort(nil), "hexadecimal"),
	Entry("port out of range", "hs  70000 004 000 00000000 000000 0-0\n", []VHCIPort(nil), "decimal"),
)

var _ = DescribeTable("ParseAttachRecord",
	func(in string, want AttachRecord, bad string) {
		got, err := ParseAttachRecord(in)
		expectParsed(got, err, want, bad)
	},
	Entry("usbip attach's record", "10.0.0.7 3240 1-1.2\n", AttachRecord{Host: "10.0.0.7", TCPPort: "3240", BusID: "1-1.2"}, ""),
	Entry("without the newline", "lab-b 3241 2-1", AttachRecord{Host: "lab-b", TCPPort: "3241", BusID: "2-1"}, ""),
	Entry("two fields", "10.0.0.7 3240\n", AttachRecord{}, `want one line "HOST TCPPORT BUSID"`),
	Entry("two lines", "10.0.0.7 3240\n1-1\n", AttachRecord{}, "want one line"),
	Entry("empty", "", AttachRecord{}, "want one line"),
	Entry("TCP port not a number", "10.0.0.7 http 1-1\n", AttachRecord{}, `TCP port "http"`),
	Entry("TCP port 0", "10.0.0.7 0 1-1\n", AttachRecord{}, "from 1 to 65535"),
	Entry("TCP port too big", "10.0.0.7 65536 1-1\n", AttachRecord{}, "from 1 to 65535"),
)

var _ = DescribeTable("USBIP.String's host",
	func(host, port, want string) {
		Expect(USBIP{Role: Imported, Host: host, TCPPort: port, BusID: "1-1"}.String()).To(HavePrefix("remote: usbip://" + want + "/1-1 on vhci port 0"))
	},
	Entry("IPv4", "10.0.0.7", "3240", "10.0.0.7:3240"),
	Entry("IPv6 in brackets", "fe80::1", "3240", "[fe80::1]:3240"),
	Entry("no TCP port", "lab-b", "", "lab-b"),
)
