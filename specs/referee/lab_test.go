package referee_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"dongle/hw/sim/ax88179"
	"dongle/hw/sim/ax88772"
	"dongle/hw/vmlab/guest"
)

// chipCase is one emulated chip and what the kernel must make of it.
type chipCase struct {
	model   string // ffsmodel -model
	product uint16
	driver  string // kernel driver that must bind
	mac     string
}

var chips = []TableEntry{
	Entry("AX88772B, kernel asix", chipCase{"ax88772b", 0x772b, "asix", ax88772.DefaultMAC.String()}),
	Entry("AX88179, kernel ax88179_178a", chipCase{"ax88179", 0x1790, "ax88179_178a", ax88179.DefaultMAC.String()}),
}

func sysNet(ifname, f string) string {
	b, _ := os.ReadFile(filepath.Join("/sys/class/net", ifname, f))
	return strings.TrimSpace(string(b))
}

func sh(args ...string) (string, error) {
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	return string(out), err
}

// needLab skips a lab spec outside the lab VM: it needs dummy_hcd,
// FunctionFS, the kernel's asix drivers and root, which the VM has.
func needLab() {
	if !guest.InLab() {
		Skip("runs inside the virtual lab VM (dummy_hcd, FunctionFS, the kernel's asix drivers; " + guest.EnvInLab + " is not set here): " +
			"go run ./cmd/dongle lab setup, then go test -exec $PWD/.lab/labexec ./specs/referee (tools/lab.sh, in ./do test, runs it)")
	}
}

var _ = Describe("an ASIX model as a real USB device (FunctionFS on dummy_hcd)", Label("lab"), func() {
	BeforeEach(needLab)

	DescribeTable("is driven by the Linux kernel's own driver",
		func(c chipCase) {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			out := outDir()
			for _, m := range []string{"asix", "ax88179_178a"} {
				sh("modprobe", m)
			}
			reqPath := filepath.Join(out, "kernel-"+c.model+".txt")
			capPath := filepath.Join(out, c.model+".pcap")
			cmd, log := startModel(ctx, c.model, "-requests", reqPath, "-capture", capPath)

			By("the kernel driver binds")
			dev, ifname := waitBound(c.product, c.driver)
			Expect(dev.Speed).To(Equal("480"), "high speed on dummy_hcd")

			By("the interface has the model's MAC")
			Expect(sysNet(ifname, "address")).To(Equal(c.mac))

			By("carrier comes up and ping reaches the peer on the model's wire side")
			upAndPing(ifname)

			By("the kernel counts no receive errors")
			noRxErrors(ifname)
			Expect(strings.Fields(sysNet(ifname, "statistics/rx_packets"))).NotTo(ConsistOf("0"))
			GinkgoWriter.Printf("%s on %s: rx_packets=%s tx_packets=%s\n", c.model, ifname, sysNet(ifname, "statistics/rx_packets"), sysNet(ifname, "statistics/tx_packets"))

			By("stopping the model: its request log and capture are written")
			stopModelLog(cmd, log, reqPath)
			st, err := os.Stat(capPath)
			Expect(err).NotTo(HaveOccurred())
			Expect(st.Size()).To(BeNumerically(">", 1000))
		}, chips)
})
