package referee_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"dongle/hw/sim/rtl8153"
)

// rtlPings are the ping payload sizes the RTL8153B specs send: the
// default, sizes whose echo reply fills whole bulk IN packets (70 bytes of
// rx_desc, headers and FCS + 442 = 512, + 954 = 1024: the model ends those
// transfers with 8 zero bytes, r8152 must walk past them), sizes whose echo
// request fills whole bulk OUT packets (8-byte tx_desc + 42 bytes of
// headers + 462 = 512, + 974 = 1024: r8152 sends that aggregate with no
// ZLP, and the chip, so the model, sends the frame at once; each ping is
// alone, so a model that waited for the host's next transfer would lose
// it), and the full 1500-byte IP packet.
var rtlPings = []string{"56", "442", "462", "954", "974", "1000", "1472"}

// rtlReferee binds the kernel's r8152 to the RTL8153B model served by
// ffsmodel (extra: its flags) and checks what a user would.
func rtlReferee(speed string, mps int, extra ...string) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out := outDir()
	sh("modprobe", "r8152")
	name := "rtl8153"
	if speed == "5000" {
		name += "-super"
	}
	reqPath := filepath.Join(out, "kernel-"+name+".txt")
	capPath := filepath.Join(out, name+".pcap")
	cmd, log := startModel(ctx, "rtl8153", append(extra, "-usbip", "-requests", reqPath, "-capture", capPath)...)

	By("the kernel's r8152 binds the vendor configuration")
	dev, ifname := waitBoundID(0x0bda, 0x8153, "r8152")
	GinkgoWriter.Printf("%s\n", dev)
	Expect(dev.Speed).To(Equal(speed), "sysfs speed of %s", dev.Name)
	for _, e := range dev.Interfaces[0].Endpoints {
		if e.Type == "Bulk" {
			Expect(e.MaxPacket).To(Equal(mps), "wMaxPacketSize of bulk endpoint %#02x", e.Addr)
		}
	}

	By("the interface has the model's MAC (PLA_BACKUP)")
	Expect(sysNet(ifname, "address")).To(Equal(rtl8153.DefaultMAC.String()))

	By("carrier comes up (INTR_LINK) and pings of every size reach the peer")
	upAndPing(ifname)
	for _, size := range rtlPings {
		p, err := sh("ping", "-c", "2", "-W", "3", "-s", size, "10.9.9.2")
		Expect(err).NotTo(HaveOccurred(), "ping -s %s:\n%s", size, p)
		Expect(p).To(ContainSubstring("2 packets received"), "ping -s %s", size)
	}

	By("the kernel counts no receive errors")
	noRxErrors(ifname)
	GinkgoWriter.Printf("rtl8153 on %s: rx_packets=%s tx_packets=%s\n", ifname, sysNet(ifname, "statistics/rx_packets"), sysNet(ifname, "statistics/tx_packets"))
	if et, err := sh("ethtool", "-S", ifname); err == nil {
		GinkgoWriter.Printf("ethtool -S (the tally counters):\n%s\n", et)
	}

	By("the kernel logged no failure of the chip (a poll that timed out, the PHY patch, the MAC)")
	dm, _ := sh("dmesg")
	var r8152 []string
	for _, l := range strings.Split(dm, "\n") {
		if strings.Contains(l, "r8152") {
			r8152 = append(r8152, l)
		}
	}
	GinkgoWriter.Printf("dmesg (r8152):\n%s\n", strings.Join(r8152, "\n"))
	for _, l := range r8152 {
		if strings.Contains(l, "rtl8153b-2.fw") {
			// The lab has no /lib/firmware (Debian's firmware-realtek is
			// non-free); r8152 goes on without the patch.
			continue
		}
		Expect(l).NotTo(MatchRegexp(`(?i)fail|timeout|invalid|unexpected|error`), "kernel log")
	}

	By("stopping the model: no request stalled, the model counted no TX framing error")
	stopModelLog(cmd, log, reqPath)
	Expect(log.String()).To(MatchRegexp(`TxShortDesc:0 TxBadLength:0 TxTruncated:0 TxNotWhole:0 TxRunts:0 TxTSO:0 TxCsumBad:0`), "the model's counters at exit")
	st, err := os.Stat(capPath)
	Expect(err).NotTo(HaveOccurred())
	Expect(st.Size()).To(BeNumerically(">", 1000))
	for _, l := range strings.Split(log.String(), "\n") {
		if strings.Contains(l, "stopping") {
			GinkgoWriter.Printf("%s\n", l)
		}
	}
}

var _ = Describe("the RTL8153B model as a real USB device (USB/IP on vhci_hcd)", Label("lab"), func() {
	BeforeEach(needLab)

	It("is driven by the kernel's r8152 at high speed", func() {
		rtlReferee("480", 512)
	})

	It("is driven by the kernel's r8152 at SuperSpeed", func() {
		rtlReferee("5000", 1024, "-super")
	})
})
