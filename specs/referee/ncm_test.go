package referee_test

import (
	"bytes"
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"dongle/hw"
	"dongle/hw/usbmon"
	"dongle/hw/vmlab/guest"
	"dongle/specs/referee"
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
	var bulkIn, bulkOut int
	for i := range recs {
		r := &recs[i]
		switch {
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
	// GET_NTB_PARAMETERS comes first, then the negotiation at alt 0
	// (cdc_ncm_init), then the packet filter once the netdev is open.
	Expect(names).NotTo(BeEmpty())
	Expect(names[0]).To(BeEquivalentTo(0x80), "GET_NTB_PARAMETERS first")
	Expect(names).To(ContainElement(BeEquivalentTo(0x86)), "SET_NTB_INPUT_SIZE")
	Expect(names).To(ContainElement(BeEquivalentTo(0x43)), "SET_ETHERNET_PACKET_FILTER")
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

	// The NCM model (hw/sim/ncm) cannot be the kernel cdc_ncm's referee
	// through FunctionFS: f_fs takes class-specific descriptors only for
	// HID and CCID interfaces (ffs_do_single_desc) and refuses the CDC
	// header, union, Ethernet and NCM functional descriptors a CDC function
	// must carry. Measured, so that the day a kernel takes them this fails
	// and the model's referee can run.
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

		By("unbinding cdc_ncm, capturing the device's bus, binding it again")
		dev, _ := ncmHost()
		ctl := dev.Interfaces[0].Name
		Expect(os.WriteFile("/sys/bus/usb/drivers/cdc_ncm/unbind", []byte(ctl), 0)).To(Succeed())
		capPath := filepath.Join(GinkgoT().TempDir(), "ncm.pcap")
		c := startCapture(ctx, dev.Bus, capPath, usbmon.CaptureOptions{Device: uint8(dev.Address)})
		Expect(os.WriteFile("/sys/bus/usb/drivers/cdc_ncm/bind", []byte(ctl), 0)).To(Succeed())
		dev, ifname := ncmHost()
		Expect(dev.Speed).To(Equal("480"))

		By("the netdev has the address f_ncm announces (configfs host_addr)")
		b, err := os.ReadFile("/sys/kernel/config/usb_gadget/ncm/functions/ncm.0/host_addr")
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
		recs, _, err := usbmon.ReadFile(capPath)
		Expect(err).NotTo(HaveOccurred())
		ncmCaptureShape(recs)
		var log strings.Builder
		for _, q := range classRequests(recs) {
			Expect(q.Stalled).To(BeFalse(), "f_ncm stalled the kernel's %v", q)
			log.WriteString(q.String() + "\n")
		}
		Expect(os.WriteFile(filepath.Join(out, "kernel-ncm.txt"), []byte(log.String()), 0o644)).To(Succeed())
		raw, err := os.ReadFile(capPath)
		Expect(err).NotTo(HaveOccurred())
		Expect(os.WriteFile(filepath.Join(out, ncmFixture), raw, 0o644)).To(Succeed())
		GinkgoWriter.Printf("kernel cdc_ncm on f_ncm: %d records; requests:\n%s", len(recs), log.String())
	})
})

func mustIfMAC(ifname string) net.HardwareAddr {
	GinkgoHelper()
	ni, err := net.InterfaceByName(ifname)
	Expect(err).NotTo(HaveOccurred())
	return ni.HardwareAddr
}
