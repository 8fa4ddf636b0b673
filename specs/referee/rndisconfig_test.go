package referee_test

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"dongle/hw/usbmon"
	"dongle/hw/vmlab/guest"
)

// rndisConfigFixture is the guest's usbmon capture of QEMU's usb-net
// replugged (enumeration in the capture), bound by cdc_ether in its
// configuration 1 (CDC ECM), then switched by the host to configuration 2
// (RNDIS) and bound by rndis_host: a configuration change mid-trace.
const rndisConfigFixture = "usbmon-usbnet-cdc_ether-then-rndis_host.pcap"

// usbNetPhase is one configuration's test frames through usb-net (echoed
// back by the host peer): guest.TestFrame over Sizes from Seq on, with
// the guest interface's MAC.
type usbNetPhase struct {
	Config int
	Driver string
	Seq    uint32
	Sizes  []int
}

var usbNetPhases = []usbNetPhase{
	{1, "cdc_ether", 201, []int{60, 300, 1514}},
	{2, "rndis_host", 301, []int{60, 300, 1514}},
}

func (p usbNetPhase) testFrames(mac net.HardwareAddr) [][]byte {
	var out [][]byte
	for i, n := range p.Sizes {
		f := make([]byte, n)
		guest.TestFrame(f, mac, guest.EchoEtherType, p.Seq+uint32(i))
		out = append(out, f)
	}
	return out
}

// setUSBNetConfig writes bConfigurationValue of usb-net (sysfs name) and
// waits for driver to bind it.
func setUSBNetConfig(name string, cfg int, driver string) (guest.USBDevice, string) {
	GinkgoHelper()
	p := filepath.Join(guest.SysfsRoot, name, "bConfigurationValue")
	Expect(os.WriteFile(p, []byte{byte('0' + cfg)}, 0)).To(Succeed(), "echo %d > %s", cfg, p)
	return waitBoundID(guest.USBNetVendor, guest.USBNetProduct, driver)
}

var _ = Describe("QEMU's usb-net switched from its ECM to its RNDIS configuration, captured with usbmon", Label("lab"), func() {
	BeforeEach(needLab)

	It("binds cdc_ether then rndis_host, test frames echoed through each, the capture holding the enumeration and the change", func() {
		t0 := time.Now()
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		out := outDir()
		for _, m := range []string{"usbmon", "rndis_host"} {
			o, err := sh("modprobe", m)
			Expect(err).NotTo(HaveOccurred(), "modprobe %s: %s", m, o)
		}
		dev, err := guest.FindUSB(guest.USBNetVendor, guest.USBNetProduct)
		Expect(err).NotTo(HaveOccurred())
		Eventually(func() error { _, err := os.Stat(usbmon.NodePath(dev.Bus)); return err }).WithTimeout(5 * time.Second).Should(Succeed())
		peer, err := guest.DialPeer()
		Expect(err).NotTo(HaveOccurred())
		defer peer.Close()
		Expect(peer.SetMode(guest.PeerEcho)).To(Succeed())

		By("capturing usb-net's bus (qemu-xhci), unfiltered, then unplugging and replugging usb-net so that its enumeration is in the capture")
		capPath := filepath.Join(out, rndisConfigFixture)
		capt := startCapture(ctx, dev.Bus, capPath, usbmon.CaptureOptions{})
		Expect(peer.Unplug()).To(Succeed())
		Eventually(func() error { _, err := guest.FindUSB(guest.USBNetVendor, guest.USBNetProduct); return err }).WithTimeout(10 * time.Second).Should(HaveOccurred())
		Expect(peer.Replug()).To(Succeed())
		DeferCleanup(func() {
			// The next specs find usb-net as the lab left it: cdc_ether.
			if d, err := guest.FindUSB(guest.USBNetVendor, guest.USBNetProduct); err == nil && d.Config != 1 {
				setUSBNetConfig(d.Name, 1, "cdc_ether")
			}
		})

		var macs []net.HardwareAddr
		for _, ph := range usbNetPhases {
			var ifname string
			if ph.Config == 1 {
				By("configuration 1 (CDC ECM): cdc_ether binds, test frames echoed")
				dev, ifname = waitBoundID(guest.USBNetVendor, guest.USBNetProduct, "cdc_ether")
			} else {
				By("echo 2 > bConfigurationValue (RNDIS): rndis_host binds, test frames echoed")
				dev, ifname = setUSBNetConfig(dev.Name, 2, "rndis_host")
			}
			GinkgoWriter.Printf("%s\n", dev)
			Expect(dev.Config).To(Equal(ph.Config))
			_, err := sh("ip", "link", "set", ifname, "up")
			Expect(err).NotTo(HaveOccurred())
			Eventually(func() string { return sysNet(ifname, "carrier") }).WithTimeout(15 * time.Second).Should(Equal("1"))
			mac := mustIfMAC(ifname)
			macs = append(macs, mac)
			c, err := guest.ListenPacket(ifname, guest.EchoEtherType)
			Expect(err).NotTo(HaveOccurred())
			buf := make([]byte, 2048)
			for i, f := range ph.testFrames(mac) {
				Expect(c.Send(f)).To(Succeed())
				n, err := c.Recv(buf, 3*time.Second)
				Expect(err).NotTo(HaveOccurred(), "%s: echo of test frame %d (%d bytes)", ph.Driver, i, len(f))
				Expect(buf[:n]).To(Equal(f), "%s: echo of test frame %d", ph.Driver, i)
			}
			c.Close()
			noRxErrors(ifname)
			GinkgoWriter.Printf("%s on %s (%s)\n", ph.Driver, ifname, mac)
		}
		time.Sleep(200 * time.Millisecond) // the last completions reach the ring

		By("stopping the capture: nothing dropped")
		capt.stop()
		Expect(capt.err).NotTo(HaveOccurred())
		Expect(capt.st.Dropped).To(BeZero())
		GinkgoWriter.Printf("usbmon%d: %s\n", dev.Bus, capt.st)

		rndisConfigChecks(capPath, macs)
		fi, err := os.Stat(capPath)
		Expect(err).NotTo(HaveOccurred())
		GinkgoWriter.Printf("wrote %s: %d bytes; lab time %v\n", capPath, fi.Size(), time.Since(t0).Round(time.Second))
	})
})
