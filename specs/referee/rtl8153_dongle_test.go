package referee_test

import (
	"context"
	"os"
	"path/filepath"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"dongle/hw/gousb"
	"dongle/hw/record"
	"dongle/hw/sim/rtl8153"
	"dongle/hw/vmlab/guest"
	"dongle/usbnet"
	"dongle/usbnet/catalog"
)

// rtlInjected is how many frames the far side sends during dongle's
// bring-up recording (the fixture's rx_frames).
const rtlInjected = 3

var _ = Describe("dongle's r8152 bringing up the RTL8153B model (USB/IP on vhci_hcd)", Label("lab"), func() {
	BeforeEach(needLab)

	It("binds, reads the MAC, gets a carrier and receives, recorded by hw/record as `dongle record` does", func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		out := outDir()
		sock := filepath.Join(GinkgoT().TempDir(), "wire.sock")
		// With r8152 loaded the device is in the vendor configuration when
		// dongle opens it, as on a Linux host (r8152's cfgselector sets it):
		// the recording then starts where a replay of it starts.
		sh("modprobe", "r8152")
		startModel(ctx, "rtl8153", "-usbip", "-sock", sock)
		waitBoundID(0x0bda, 0x8153, "r8152")

		By("opening the device through libusb, with dongle's recorder around it")
		uc, err := gousb.Open()
		Expect(err).NotTo(HaveOccurred())
		defer uc.Close()
		sel, err := gousb.ParseSelector("0bda:8153")
		Expect(err).NotTo(HaveOccurred())
		dev, err := uc.OpenDevice(sel, nil)
		Expect(err).NotTo(HaveOccurred())
		tracePath := filepath.Join(out, "dongle-rtl8153.pcap")
		f, err := os.Create(tracePath)
		Expect(err).NotTo(HaveOccurred())
		rec, err := record.New(dev, f, record.Options{})
		Expect(err).NotTo(HaveOccurred())

		By("dongle's r8152 binds and the netdev has the model's MAC")
		d, err := usbnet.Probe(rec, catalog.All()...)
		Expect(err).NotTo(HaveOccurred())
		Expect(d.Driver.Name()).To(Equal("r8152"))
		Expect(d.Net.HardwareAddr().String()).To(Equal(rtl8153.DefaultMAC.String()))
		Expect(d.Net.Open()).To(Succeed())
		Eventually(ctx, d.Net.Carrier).WithTimeout(15 * time.Second).Should(BeTrue())

		By("frames from the far side arrive")
		wire, err := guest.DialWire(sock)
		Expect(err).NotTo(HaveOccurred())
		defer wire.Close()
		before := d.Net.Stats().RxPackets.Load()
		for i := 0; i < rtlInjected; i++ {
			fr := make([]byte, 60+i*700)
			copy(fr, rtl8153.DefaultMAC)
			copy(fr[6:], []byte{0x02, 0, 0, 0, 0, 0x77})
			fr[12], fr[13] = 0x88, 0xb5
			Expect(wire.Inject(fr)).To(Succeed())
		}
		Eventually(func() uint64 { return d.Net.Stats().RxPackets.Load() - before }).WithTimeout(10 * time.Second).Should(BeEquivalentTo(rtlInjected))
		Expect(d.Net.Stats().RxErrors.Load()).To(BeZero())

		By("closing: the recording is written")
		Expect(d.Net.Close()).To(Succeed())
		Expect(d.Disconnect()).To(Succeed())
		Expect(rec.Close()).To(Succeed())
		Expect(f.Close()).To(Succeed())
		st, err := os.Stat(tracePath)
		Expect(err).NotTo(HaveOccurred())
		Expect(st.Size()).To(BeNumerically(">", 1000))
	})
})
