package referee_test

import (
	"context"
	"encoding/hex"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"dongle/hw/sim/ncm"
	"dongle/hw/vmlab/guest"
)

// ncmModelPings are the ping payload sizes sent through the NCM model:
// the default; 440, whose 482-byte echo reply alone in the model's NTB16
// (12-byte NTH, the datagram at 14 so that its payload is 4-aligned, the
// 16-byte NDP after it at 496) makes an NTB of exactly 512 bytes, which the
// model ends with a ZLP; 1000; and the full-size frame (1472: 1514 bytes).
var ncmModelPings = []string{"56", "440", "1000", "1472"}

// ncmModelBursts are the frame sizes of the bursts sent to the model's peer
// (EtherType 0x88b5, echoed back whole): back to back, so the kernel's
// cdc_ncm (which holds a frame up to 400 µs for the next) and the model
// (likewise) put several datagrams in one NTB; the second burst is more
// full-size frames than one 16384-byte NTB holds (ten).
var ncmModelBursts = [][]int{
	{200, 350, 500, 650, 800, 950, 1100, 1250},
	{1514, 1514, 1514, 1514, 1514, 1514, 1514, 1514, 1514, 1514, 1514, 1514, 1514, 1514, 1514, 1514},
}

// ncmModelStats reads the model's counters from ffsmodel's "stopping" line
// ("model: {RxFrames:N RxNTBs:N ... TxNTBs:N TxBadNTBs:N TxFrames:N ...}").
func ncmModelStats(log string) map[string]int {
	GinkgoHelper()
	var stop string
	for _, l := range strings.Split(log, "\n") {
		if strings.Contains(l, "stopping") {
			stop = l
		}
	}
	Expect(stop).NotTo(BeEmpty(), "ffsmodel's stopping line:\n%s", log)
	i := strings.Index(stop, "model: {")
	Expect(i).To(BeNumerically(">=", 0), "the model's counters in %q", stop)
	out := map[string]int{}
	for _, m := range regexp.MustCompile(`(\w+):(\d+)`).FindAllStringSubmatch(stop[i:], -1) {
		n, _ := strconv.Atoi(m[2])
		out[m[1]] = n
	}
	return out
}

var _ = Describe("the NCM model as a real USB device (USB/IP on vhci_hcd)", Label("lab"), func() {
	BeforeEach(needLab)

	// FunctionFS cannot carry a CDC function on this kernel (ncm_test.go),
	// USB/IP can: the model is attached to vhci_hcd with its own
	// descriptors, IAD, CDC functional descriptors and the data
	// interface's two alternate settings included, and the kernel's
	// SET_INTERFACE requests reach the model as control requests.
	It("is driven by the kernel's cdc_ncm at high speed: MAC, carrier, pings of every size and aggregated bursts, no rx errors", func() {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		out := outDir()
		sh("modprobe", "cdc_ncm")
		reqPath := filepath.Join(out, "kernel-ncm-model.txt")
		capPath := filepath.Join(out, "ncm-model.pcap")
		cmd, log := startModel(ctx, "ncm", "-usbip", "-requests", reqPath, "-capture", capPath)
		DeferCleanup(func() {
			if CurrentSpecReport().Failed() {
				d, _ := sh("dmesg")
				GinkgoWriter.Printf("dmesg:\n%s\n", d)
			}
		})

		By("the kernel's cdc_ncm binds the model at high speed")
		dev, ifname := waitBoundID(ncm.Vendor, ncm.Product, "cdc_ncm")
		GinkgoWriter.Printf("%s\n", dev)
		Expect(dev.Speed).To(Equal("480"), "sysfs speed of %s", dev.Name)
		Expect(dev.Interfaces).To(HaveLen(2), "the control and data interfaces")
		Expect(dev.Interfaces[1].Driver).To(Equal("cdc_ncm"), "cdc_ncm claims the data interface")

		By("the netdev has the model's MAC (iMACAddress)")
		b, err := hex.DecodeString(ncm.DefaultMAC)
		Expect(err).NotTo(HaveOccurred())
		Expect(sysNet(ifname, "address")).To(Equal(net.HardwareAddr(b).String()))

		By("carrier comes up (NETWORK_CONNECTION) and pings of every size reach the peer")
		upAndPing(ifname)
		for _, size := range ncmModelPings {
			p, err := sh("ping", "-c", "2", "-W", "3", "-s", size, "10.9.9.2")
			Expect(err).NotTo(HaveOccurred(), "ping -s %s:\n%s", size, p)
			Expect(p).To(ContainSubstring("2 packets received"), "ping -s %s", size)
		}

		By("bursts of frames, aggregated into NTBs both ways, come back whole and in order")
		hc, err := guest.ListenPacket(ifname, guest.EchoEtherType)
		Expect(err).NotTo(HaveOccurred())
		defer hc.Close()
		mac := mustIfMAC(ifname)
		seq := uint32(0)
		buf := make([]byte, 2048)
		for _, sizes := range ncmModelBursts {
			var sent [][]byte
			for _, n := range sizes {
				f := make([]byte, n)
				seq++
				guest.TestFrame(f, mac, guest.EchoEtherType, seq)
				Expect(hc.Send(f)).To(Succeed())
				sent = append(sent, f)
			}
			for i, f := range sent {
				n, err := hc.Recv(buf, 3*time.Second)
				Expect(err).NotTo(HaveOccurred(), "echo %d of %d (%d bytes) not received", i, len(sent), len(f))
				Expect(buf[:n]).To(Equal(f), "echo %d of the burst", i)
			}
		}

		By("the kernel counts no receive errors")
		noRxErrors(ifname)
		GinkgoWriter.Printf("cdc_ncm on %s: rx_packets=%s tx_packets=%s\n", ifname, sysNet(ifname, "statistics/rx_packets"), sysNet(ifname, "statistics/tx_packets"))
		dm, _ := sh("dmesg")
		for _, l := range strings.Split(dm, "\n") {
			if strings.Contains(l, "cdc_ncm") {
				GinkgoWriter.Printf("%s\n", l)
				Expect(l).NotTo(MatchRegexp(`(?i)fail|invalid|unexpected|error|bad`), "kernel log")
			}
		}

		By("stopping the model: no request stalled; every host NTB was good; NTBs carried several datagrams both ways")
		reqs := stopModelLog(cmd, log, reqPath)
		GinkgoWriter.Printf("requests:\n")
		for _, r := range reqs {
			GinkgoWriter.Printf("  %v\n", r)
		}
		Expect(log.String()).To(ContainSubstring("violations map[]"), "the model counted no NTB violation")
		st := ncmModelStats(log.String())
		GinkgoWriter.Printf("model counters: %v\n", st)
		Expect(st["TxBadNTBs"]).To(BeZero())
		Expect(st["RxLost"]).To(BeZero())
		Expect(st["RxTooLong"]).To(BeZero())
		Expect(st["TxFrames"]).To(BeNumerically(">", st["TxNTBs"]), "the kernel's NTBs: some carried several datagrams")
		Expect(st["RxFrames"]).To(BeNumerically(">", st["RxNTBs"]), "the model's NTBs: some carried several datagrams")
		fi, err := os.Stat(capPath)
		Expect(err).NotTo(HaveOccurred())
		Expect(fi.Size()).To(BeNumerically(">", 1000))
	})
})
