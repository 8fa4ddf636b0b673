package referee_test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"dongle/hw"
	usbhw "dongle/hw/gousb"
	"dongle/hw/usbmon"
	"dongle/hw/vmlab/guest"
	"dongle/skbuff"
	"dongle/specs/referee"
	"dongle/usbnet"
	"dongle/usbnet/catalog"
)

// ncmFixture is the kernel cdc_ncm's bring-up of Linux f_ncm, kept in
// fixtures/ (see its .md); the lab test writes a fresh one to
// DONGLE_REFEREE_OUT.
const ncmFixture = "usbmon-kernel-cdc_ncm-f_ncm.pcap"

// ncmSizes are the frame sizes the NCM referee moves each way: the
// minimum, around 64 and 512 (where a one-frame NTB of f_ncm or cdc_ncm
// ends on a packet boundary: 12 + 496 + 4 = 512), and the maximum.
var ncmSizes = []int{60, 64, 65, 480, 496, 497, 1024, 1514}

// classRequests pairs the class control requests of recs (submissions with
// their completions) into request log lines, as ffsmodel -requests writes
// them: what the driver asked and, for IN, what the device answered.
func classRequests(recs []usbmon.Record) []referee.Request {
	var out []referee.Request
	pending := map[uint64]int{}
	for i := range recs {
		r := &recs[i]
		if r.XferType != usbmon.XferControl {
			continue
		}
		if r.Type == usbmon.Submit && r.FlagSetup == 0 {
			s, ok := hw.ParseSetup(r.Setup[:])
			if !ok || s.RequestType&0x60 != hw.TypeClass {
				continue
			}
			q := referee.Request{Setup: s}
			if !s.In() {
				q.Data = append([]byte(nil), r.Data...)
			}
			pending[r.ID] = len(out)
			out = append(out, q)
			continue
		}
		if j, ok := pending[r.ID]; ok && r.Type == usbmon.Complete {
			delete(pending, r.ID)
			if r.Status != 0 {
				out[j].Stalled = true
			}
			if out[j].Setup.In() {
				out[j].Data = append([]byte(nil), r.Data...)
			}
		}
	}
	return out
}

// ncmCaptureShape checks that recs are the kernel cdc_ncm's bind of f_ncm
// (its NCM requests, in the order Linux sends them) and frames both ways.
func ncmCaptureShape(recs []usbmon.Record) {
	GinkgoHelper()
	var getConf, setConf, bulkIn, bulkOut int
	for i := range recs {
		r := &recs[i]
		s := r.Setup
		switch {
		case r.XferType == usbmon.XferControl && r.Type == usbmon.Submit && r.FlagSetup == 0 && s[0] == 0x80 && s[1] == hw.ReqGetDescriptor && s[3] == hw.DescConfig:
			getConf++
		case r.XferType == usbmon.XferControl && r.Type == usbmon.Submit && r.FlagSetup == 0 && s[0] == 0x00 && s[1] == hw.ReqSetConfiguration:
			setConf++
		case r.XferType == usbmon.XferBulk && r.Type == usbmon.Complete && r.Endpoint&0x80 != 0 && len(r.Data) > 0:
			bulkIn++
		case r.XferType == usbmon.XferBulk && r.Type == usbmon.Submit && r.Endpoint&0x80 == 0 && len(r.Data) > 0:
			bulkOut++
		}
	}
	var names []uint8
	for _, q := range classRequests(recs) {
		names = append(names, q.Setup.Request)
	}
	GinkgoWriter.Printf("capture: %d records, class requests % x, bulk IN with data %d, bulk OUT with data %d\n", len(recs), names, bulkIn, bulkOut)
	// cdc_ncm_init at alt 0: GET_NTB_PARAMETERS, SET_CRC_MODE (f_ncm
	// announces CRC mode: the kernel turns it off), SET_NTB_FORMAT (f_ncm
	// has NTB32: the kernel asks for NTB16); no SET_NTB_INPUT_SIZE (the
	// kernel sends it only when its size differs from dwNtbInMaxSize);
	// then the packet filter once the netdev is open.
	// (usbnet sets the filter at open and again on each rx-mode change.)
	Expect(len(names)).To(BeNumerically(">=", 4))
	Expect(names[:3]).To(Equal([]uint8{0x80, 0x8a, 0x84}), "GET_NTB_PARAMETERS, SET_CRC_MODE, SET_NTB_FORMAT")
	for _, n := range names[3:] {
		Expect(n).To(BeEquivalentTo(0x43), "after the bind only SET_ETHERNET_PACKET_FILTER")
	}
	Expect(getConf).To(BeNumerically(">=", 1), "the enumeration's GET_DESCRIPTOR(configuration): decode and tshark need the descriptors")
	Expect(setConf).To(BeNumerically(">=", 1), "SET_CONFIGURATION")
	Expect(bulkIn).To(BeNumerically(">=", 3), "NTBs from the gadget")
	Expect(bulkOut).To(BeNumerically(">=", 3), "NTBs to the gadget")
}

// ncmHost is the kernel cdc_ncm's netdev for the lab's f_ncm gadget.
func ncmHost() (guest.USBDevice, string) {
	GinkgoHelper()
	var dev guest.USBDevice
	Eventually(func() string {
		dev, _ = guest.FindUSB(guest.GadgetVendor, guest.NCMProduct)
		if len(dev.Interfaces) == 0 {
			return ""
		}
		return dev.Interfaces[0].Driver
	}).WithTimeout(15 * time.Second).Should(Equal("cdc_ncm"))
	var ifname string
	Eventually(func() error { var err error; ifname, err = dev.Netdev(); return err }).WithTimeout(10 * time.Second).Should(Succeed())
	return dev, ifname
}

// exchange sends frame out of from and waits for it, whole, on to.
func exchange(from, to *guest.PacketConn, frame []byte, what string) {
	GinkgoHelper()
	Expect(from.Send(frame)).To(Succeed(), what)
	buf := make([]byte, 2048)
	for {
		n, err := to.Recv(buf, 3*time.Second)
		Expect(err).NotTo(HaveOccurred(), "%s: %d-byte frame not received", what, len(frame))
		if n >= 18 && bytes.Equal(buf[14:18], frame[14:18]) && bytes.Equal(buf[6:12], frame[6:12]) {
			Expect(buf[:n]).To(Equal(frame), "%s: %d-byte frame", what, len(frame))
			return
		}
	}
}

var _ = Describe("CDC-NCM in the lab", Label("lab"), func() {
	BeforeEach(needLab)

	// FunctionFS cannot carry the NCM model (hw/sim/ncm): f_fs takes
	// class-specific descriptors only for HID and CCID interfaces
	// (ffs_do_single_desc) and refuses the CDC header, union, Ethernet and
	// NCM functional descriptors a CDC function must carry. USB/IP can, so
	// the model meets the kernel's cdc_ncm on vhci_hcd (ncm_model_test.go).
	// Measured, so that the day a kernel takes them this fails and the
	// model can run on dummy_hcd too.
	It("FunctionFS refuses the NCM model's CDC functional descriptors (EINVAL)", func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		out, err := exec.CommandContext(ctx, "/bin/ffsmodel", "-model", "ncm", "-name", "ncmref").CombinedOutput()
		Expect(err).To(HaveOccurred(), "ffsmodel -model ncm served the model:\n%s", out)
		Expect(string(out)).To(ContainSubstring("write descriptors"), "ffsmodel output")
		Expect(string(out)).To(ContainSubstring("invalid argument"), "ffsmodel output")
	})

	It("the kernel's cdc_ncm binds Linux f_ncm, reads its MAC, sees carrier and moves frames of every size both ways without rx errors (captured with usbmon)", func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		out := outDir()
		o, err := sh("modprobe", "usbmon")
		Expect(err).NotTo(HaveOccurred(), "modprobe usbmon: %s", o)
		Eventually(func() error { _, err := os.Stat(usbmon.NodePath(0)); return err }).WithTimeout(5 * time.Second).Should(Succeed())

		By("capturing the gadget's bus while it is unplugged from its UDC and plugged in again: enumeration and bind")
		dev, _ := ncmHost()
		DeferCleanup(func() {
			if CurrentSpecReport().Failed() {
				d, _ := sh("dmesg")
				GinkgoWriter.Printf("dmesg:\n%s\n", d)
			}
		})
		const udcFile = "/sys/kernel/config/usb_gadget/ncm/UDC"
		b, err := os.ReadFile(udcFile)
		Expect(err).NotTo(HaveOccurred())
		udc := strings.TrimSpace(string(b))
		Expect(udc).NotTo(BeEmpty())
		capPath := filepath.Join(GinkgoT().TempDir(), "ncm.pcap")
		c := startCapture(ctx, dev.Bus, capPath, usbmon.CaptureOptions{})
		Expect(os.WriteFile(udcFile, []byte("\n"), 0)).To(Succeed())
		DeferCleanup(func() { os.WriteFile(udcFile, []byte(udc), 0) }) // fails harmlessly when bound
		Eventually(func() error { _, err := guest.FindUSB(guest.GadgetVendor, guest.NCMProduct); return err }).
			WithTimeout(10*time.Second).ShouldNot(Succeed(), "the gadget left the bus")
		Expect(os.WriteFile(udcFile, []byte(udc), 0)).To(Succeed())
		dev, ifname := ncmHost()
		Expect(dev.Speed).To(Equal("480"))

		By("the netdev has the address f_ncm announces (configfs host_addr)")
		b, err = os.ReadFile("/sys/kernel/config/usb_gadget/ncm/functions/ncm.0/host_addr")
		Expect(err).NotTo(HaveOccurred())
		host, err := net.ParseMAC(strings.Trim(string(b), " \n\x00"))
		Expect(err).NotTo(HaveOccurred())
		Expect(sysNet(ifname, "address")).To(Equal(host.String()))

		By("carrier comes up (NETWORK_CONNECTION)")
		_, err = sh("ip", "link", "set", ifname, "up")
		Expect(err).NotTo(HaveOccurred())
		Expect(guest.SetLink(guest.NCMGadgetNetdev, true)).To(Succeed())
		Eventually(func() string { return sysNet(ifname, "carrier") }).WithTimeout(15 * time.Second).Should(Equal("1"))

		By("frames of every size edge both ways, one by one and in bursts the drivers aggregate")
		hc, err := guest.ListenPacket(ifname, guest.EchoEtherType)
		Expect(err).NotTo(HaveOccurred())
		defer hc.Close()
		gc, err := guest.ListenPacket(guest.NCMGadgetNetdev, guest.EchoEtherType)
		Expect(err).NotTo(HaveOccurred())
		defer gc.Close()
		hmac, gmac := host, mustIfMAC(guest.NCMGadgetNetdev)
		seq := uint32(0)
		for _, size := range ncmSizes {
			f := make([]byte, size)
			seq++
			guest.TestFrame(f, hmac, guest.EchoEtherType, seq)
			exchange(hc, gc, f, "kernel cdc_ncm → f_ncm")
			g := make([]byte, size)
			seq++
			guest.TestFrame(g, gmac, guest.EchoEtherType, seq)
			exchange(gc, hc, g, "f_ncm → kernel cdc_ncm")
		}
		for _, dir := range []struct {
			from, to *guest.PacketConn
			mac      net.HardwareAddr
		}{{hc, gc, hmac}, {gc, hc, gmac}} {
			var sent [][]byte
			for i := 0; i < 8; i++ {
				f := make([]byte, 200+i*150)
				seq++
				guest.TestFrame(f, dir.mac, guest.EchoEtherType, seq)
				Expect(dir.from.Send(f)).To(Succeed())
				sent = append(sent, f)
			}
			buf := make([]byte, 2048)
			for got := 0; got < len(sent); {
				n, err := dir.to.Recv(buf, 3*time.Second)
				Expect(err).NotTo(HaveOccurred(), "burst frame %d of %d", got, len(sent))
				if bytes.Equal(buf[6:12], dir.mac) {
					Expect(buf[:n]).To(Equal(sent[got]), "burst frame %d", got)
					got++
				}
			}
		}

		By("the kernel counts no receive errors")
		noRxErrors(ifname)
		time.Sleep(200 * time.Millisecond) // the last completions reach the ring
		c.stop()
		Expect(c.err).NotTo(HaveOccurred())
		Expect(c.st.Dropped).To(BeZero(), "the kernel dropped usbmon events")

		By("the capture re-reads and is cdc_ncm's bind and the frames; its requests are kept")
		all, _, err := usbmon.ReadFile(capPath)
		Expect(err).NotTo(HaveOccurred())
		var recs []usbmon.Record
		for _, r := range all {
			if int(r.Device) == dev.Address {
				recs = append(recs, r)
			}
		}
		ncmCaptureShape(recs)
		var log strings.Builder
		for _, q := range classRequests(recs) {
			Expect(q.Stalled).To(BeFalse(), "f_ncm stalled the kernel's %v", q)
			log.WriteString(q.String() + "\n")
		}
		Expect(os.WriteFile(filepath.Join(out, "kernel-ncm.txt"), []byte(log.String()), 0o644)).To(Succeed())
		writeRecords(filepath.Join(out, ncmFixture), recs)
		GinkgoWriter.Printf("kernel cdc_ncm on f_ncm: %d records; requests:\n%s", len(recs), log.String())

		By("then dongle's cdc_ncm through gousb on the same gadget, captured the same way")
		hc.Close()
		dongleOnNCM(ctx, dev, enumeration(recs), gc, gmac, filepath.Join(out, ncmDongleFixture))
	})
})

// ncmDongleFixture is dongle's own cdc_ncm on Linux f_ncm, kept in fixtures/.
const ncmDongleFixture = "usbmon-dongle-cdc_ncm-f_ncm.pcap"

// dongleOnNCM takes the gadget from the kernel's cdc_ncm with gousb, binds
// dongle's driver (catalog.All, as the CLI does), moves the size edges both
// ways and a burst each way (aggregated into NTBs by both sides) while
// usbmon records the device, and writes the device's records to path.
//
// libusb reads the descriptors from sysfs, so the capture has none: the
// enumeration records of the kernel's capture (enum: the same device at
// the same address, up to SET_CONFIGURATION) go first, as ffsmodel's
// captures carry theirs, so that decode and tshark know the function.
func dongleOnNCM(ctx context.Context, dev guest.USBDevice, enum []usbmon.Record, gc *guest.PacketConn, gmac net.HardwareAddr, path string) {
	GinkgoHelper()
	capPath := filepath.Join(GinkgoT().TempDir(), "dongle.pcap")
	c := startCapture(ctx, dev.Bus, capPath, usbmon.CaptureOptions{Device: uint8(dev.Address)})
	uc, err := usbhw.Open()
	Expect(err).NotTo(HaveOccurred())
	defer uc.Close()
	sel, err := usbhw.ParseSelector("1209:0002")
	Expect(err).NotTo(HaveOccurred())
	hd, err := uc.OpenDevice(sel, nil)
	Expect(err).NotTo(HaveOccurred())
	defer hd.Close()
	d, err := usbnet.Probe(hd, catalog.All()...)
	Expect(err).NotTo(HaveOccurred())
	defer d.Disconnect()
	Expect(d.Driver.Name()).To(Equal("cdc_ncm"))
	got := make(chan []byte, 64)
	d.Net.AddHandler(guest.EchoEtherType, func(b *skbuff.Buff) {
		select {
		case got <- append(append([]byte(nil), b.MACHeader()...), b.Data()...):
		default:
		}
		b.Free(skbuff.FreeRead)
	})
	Expect(d.Net.Open()).To(Succeed())
	defer d.Net.Close()
	Eventually(d.Net.Carrier).WithTimeout(10 * time.Second).Should(BeTrue())
	me := d.Net.HardwareAddr()
	xmit := func(f []byte) {
		b := skbuff.Alloc(len(f))
		b.PutData(f)
		Expect(d.Net.Xmit(b)).To(Succeed())
	}
	recv := func(want []byte) {
		select {
		case f := <-got:
			Expect(f).To(Equal(want))
		case <-time.After(3 * time.Second):
			Fail(fmt.Sprintf("dongle's driver: %d-byte frame from f_ncm not delivered", len(want)))
		}
	}
	buf := make([]byte, 2048)
	onGadget := func(want []byte) {
		for {
			n, err := gc.Recv(buf, 3*time.Second)
			Expect(err).NotTo(HaveOccurred(), "%d-byte frame from dongle's driver not on gncm0", len(want))
			if bytes.Equal(buf[6:12], me) {
				Expect(buf[:n]).To(Equal(want))
				return
			}
		}
	}
	seq := uint32(1000)
	for _, size := range ncmSizes {
		f := make([]byte, size)
		seq++
		guest.TestFrame(f, me, guest.EchoEtherType, seq)
		xmit(f)
		onGadget(f)
		g := make([]byte, size)
		seq++
		guest.TestFrame(g, gmac, guest.EchoEtherType, seq)
		Expect(gc.Send(g)).To(Succeed())
		recv(g)
	}
	var burst [][]byte
	for i := 0; i < 8; i++ {
		f := make([]byte, 200+150*i)
		seq++
		guest.TestFrame(f, me, guest.EchoEtherType, seq)
		burst = append(burst, f)
		xmit(f)
	}
	for _, f := range burst {
		onGadget(f)
	}
	burst = burst[:0]
	for i := 0; i < 8; i++ {
		g := make([]byte, 200+150*i)
		seq++
		guest.TestFrame(g, gmac, guest.EchoEtherType, seq)
		burst = append(burst, g)
		Expect(gc.Send(g)).To(Succeed())
	}
	for _, g := range burst {
		recv(g)
	}
	Expect(d.Net.Stats().RxErrors.Load()).To(BeZero())
	time.Sleep(200 * time.Millisecond)
	c.stop()
	Expect(c.err).NotTo(HaveOccurred())
	recs, _, err := usbmon.ReadFile(capPath)
	Expect(err).NotTo(HaveOccurred())
	var bulkIn, bulkOut int
	for _, r := range recs {
		if r.XferType == usbmon.XferBulk && len(r.Data) > 0 {
			if r.Endpoint&0x80 != 0 && r.Type == usbmon.Complete {
				bulkIn++
			} else if r.Endpoint&0x80 == 0 && r.Type == usbmon.Submit {
				bulkOut++
			}
		}
	}
	GinkgoWriter.Printf("dongle's cdc_ncm on f_ncm: %d records, %d NTBs in, %d NTBs out; requests:\n", len(recs), bulkIn, bulkOut)
	for _, q := range classRequests(recs) {
		GinkgoWriter.Printf("  %v\n", q)
	}
	Expect(bulkIn).To(BeNumerically(">=", 3))
	Expect(bulkOut).To(BeNumerically(">=", 3))
	writeRecords(path, append(append([]usbmon.Record(nil), enum...), recs...))
}

// enumeration is recs up to the completion of SET_CONFIGURATION.
func enumeration(recs []usbmon.Record) []usbmon.Record {
	GinkgoHelper()
	set := map[uint64]bool{}
	for i, r := range recs {
		if r.XferType == usbmon.XferControl && r.Type == usbmon.Submit && r.FlagSetup == 0 && r.Setup[0] == 0 && r.Setup[1] == hw.ReqSetConfiguration {
			set[r.ID] = true
		}
		if r.Type == usbmon.Complete && set[r.ID] {
			return recs[:i+1]
		}
	}
	Fail("no SET_CONFIGURATION in the kernel's capture")
	return nil
}

func writeRecords(path string, recs []usbmon.Record) {
	GinkgoHelper()
	f, err := os.Create(path)
	Expect(err).NotTo(HaveOccurred())
	w, err := usbmon.NewWriter(f)
	Expect(err).NotTo(HaveOccurred())
	for i := range recs {
		Expect(w.Write(&recs[i])).To(Succeed())
	}
	Expect(f.Close()).To(Succeed())
}

func mustIfMAC(ifname string) net.HardwareAddr {
	GinkgoHelper()
	ni, err := net.InterfaceByName(ifname)
	Expect(err).NotTo(HaveOccurred())
	return ni.HardwareAddr
}
