package referee_test

import (
	"context"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"dongle/hw/gousb"
	"dongle/netdev"
	"dongle/skbuff"
	"dongle/usbnet"
	"dongle/usbnet/catalog"
)

// rtlBenchFrames is how many 1514-byte frames each driver sends.
const rtlBenchFrames = 3000

// kernelTxRate sends n frames through the kernel's netdev ifname with an
// AF_PACKET blaster (labguest blast) and returns frames/s until the
// kernel counted them all sent (tx_packets: URBs completed).
func kernelTxRate(ifname string, n int) float64 {
	GinkgoHelper()
	txPackets := func() uint64 {
		v, _ := strconv.ParseUint(sysNet(ifname, "statistics/tx_packets"), 10, 64)
		return v
	}
	before := txPackets()
	t0 := time.Now()
	out, err := sh("labguest", "blast", "-if", ifname, "-n", strconv.Itoa(n), "-size", "1514")
	Expect(err).NotTo(HaveOccurred(), "labguest blast: %s", out)
	Eventually(func() uint64 { return txPackets() - before }).WithTimeout(20*time.Second).WithPolling(time.Millisecond).
		Should(BeNumerically(">=", n), "%s; tx_dropped %s tx_errors %s", out, sysNet(ifname, "statistics/tx_dropped"), sysNet(ifname, "statistics/tx_errors"))
	return float64(n) / time.Since(t0).Seconds()
}

// dongleTxRate binds dongle's r8152 through libusb and sends n frames,
// waiting (20 µs sleeps) while netdev's queue of 1000 is full; frames/s
// until its tx_packets counted them all.
func dongleTxRate(ctx context.Context, n int) float64 {
	GinkgoHelper()
	uc, err := gousb.Open()
	Expect(err).NotTo(HaveOccurred())
	defer uc.Close()
	sel, err := gousb.ParseSelector("0bda:8153")
	Expect(err).NotTo(HaveOccurred())
	dev, err := uc.OpenDevice(sel, nil)
	Expect(err).NotTo(HaveOccurred())
	defer dev.Close()
	d, err := usbnet.Probe(dev, catalog.All()...)
	Expect(err).NotTo(HaveOccurred())
	defer d.Disconnect()
	Expect(d.Net.Open()).To(Succeed())
	defer d.Net.Close()
	Eventually(ctx, d.Net.Carrier).WithTimeout(15 * time.Second).Should(BeTrue())
	d.Net.SetTxQueueLen(1000)
	f := make([]byte, 1514)
	copy(f, []byte{2, 0, 0, 0xaa, 0xbb, 0xcc})
	copy(f[6:], d.Net.HardwareAddr())
	f[12], f[13] = 0x88, 0xb6
	st := d.Net.Stats()
	before := st.TxPackets.Load()
	t0 := time.Now()
	for i := 0; i < n; i++ {
		for {
			b := skbuff.Alloc(len(f))
			b.PutData(f)
			binary.BigEndian.PutUint32(b.Data()[14:], uint32(i))
			err := d.Net.Xmit(b)
			if err == nil {
				break
			}
			Expect(errors.Is(err, netdev.ErrQueueFull)).To(BeTrue(), "frame %d: %v", i, err)
			time.Sleep(20 * time.Microsecond)
		}
	}
	Eventually(func() uint64 { return st.TxPackets.Load() - before }).WithTimeout(60 * time.Second).WithPolling(time.Millisecond).
		Should(BeNumerically(">=", n))
	return float64(n) / time.Since(t0).Seconds()
}

var _ = Describe("throughput on the RTL8153B model over USB/IP: the kernel's r8152 and dongle's, one boot", Label("lab", "bench"), func() {
	BeforeEach(needLab)

	It("sends 1514-byte frames with each driver, the kernel's first and again last, and nothing is lost", func() {
		ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
		defer cancel()
		sh("modprobe", "r8152")
		// Debian's default qdisc is fq_codel, whose CoDel drops frames that
		// waited longer than 5 ms, which they do under TCG; AF_PACKET's
		// sendto still reports those as sent (NET_XMIT_CN), so the kernel's
		// count would come up short by frames nobody handed to r8152.
		// pfifo_fast drops nothing at these depths (the blaster's socket
		// buffer holds ~140 frames); a netdev takes the default when it
		// comes up.
		Expect(os.WriteFile("/proc/sys/net/core/default_qdisc", []byte("pfifo_fast\n"), 0)).To(Succeed())
		DeferCleanup(os.WriteFile, "/proc/sys/net/core/default_qdisc", []byte("fq_codel\n"), os.FileMode(0))
		reqPath := filepath.Join(GinkgoT().TempDir(), "requests.txt")
		cmd, log := startModel(ctx, "rtl8153", "-usbip", "-requests", reqPath)
		kernelUp := func() string {
			_, ifname := waitBoundID(0x0bda, 0x8153, "r8152")
			_, err := sh("ip", "link", "set", ifname, "up")
			Expect(err).NotTo(HaveOccurred())
			Eventually(func() string { return sysNet(ifname, "carrier") }).WithTimeout(15 * time.Second).Should(Equal("1"))
			return ifname
		}
		k1 := kernelTxRate(kernelUp(), rtlBenchFrames)
		d := dongleTxRate(ctx, rtlBenchFrames)
		k2 := kernelTxRate(kernelUp(), rtlBenchFrames) // the kernel's r8152 rebinds when dongle lets go
		GinkgoWriter.Printf("RTL8153B TX, %d x 1514 bytes: kernel r8152 %.0f frames/s (again at the end %.0f), dongle r8152 %.0f frames/s, dongle/kernel %.2f\n",
			rtlBenchFrames, k1, k2, d, d/((k1+k2)/2))
		AddReportEntry("rtl8153-tx-bench", map[string]float64{"kernel": k1, "kernel_again": k2, "dongle": d})

		By("the model put every frame on the wire and counted no TX error")
		stopModelLog(cmd, log, reqPath)
		all := regexp.MustCompile(`TxFrames:(\d+) TxDropped:(\d+)`).FindAllStringSubmatch(log.String(), -1)
		Expect(all).NotTo(BeEmpty(), "the model's counters at exit:\n%s", log)
		m := all[len(all)-1] // the line written at exit
		sent, _ := strconv.Atoi(m[1])
		Expect(sent).To(BeNumerically(">=", 3*rtlBenchFrames))
		Expect(m[2]).To(Equal("0"), "frames the model dropped")
		Expect(log.String()).To(ContainSubstring("TxShortDesc:0 TxBadLength:0 TxTruncated:0 TxNotWhole:0 TxRunts:0 TxTSO:0 TxCsumBad:0"))
	})
})
