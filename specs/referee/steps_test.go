package referee_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"dongle/hw/vmlab/guest"
	"dongle/specs/referee"
)

// The steps both lab specs take: run an emulated chip, wait for the
// kernel's driver to bind it, bring its interface up and ping the model's
// wire side.

// startModel runs /bin/ffsmodel -model model with extra flags, waits until
// its gadget is bound to dummy_hcd, and stops it at cleanup. The returned
// buffer collects its output.
func startModel(ctx context.Context, model string, extra ...string) (*exec.Cmd, *bytes.Buffer) {
	GinkgoHelper()
	ready := filepath.Join(GinkgoT().TempDir(), "ready")
	log := new(bytes.Buffer)
	cmd := exec.CommandContext(ctx, "/bin/ffsmodel", append([]string{"-model", model, "-ready", ready}, extra...)...)
	cmd.Stdout, cmd.Stderr = log, log
	before := usbNames()
	Expect(cmd.Start()).To(Succeed())
	DeferCleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
		GinkgoWriter.Printf("ffsmodel output:\n%s\n", log.String())
		// The host removes a detached device asynchronously (vhci_hcd
		// after its socket closes, dummy_hcd after the unbind): until
		// it has, the next spec's model may find this one, still bound,
		// on the port it is given.
		Eventually(func() []string {
			var left []string
			for n := range usbNames() {
				if !before[n] {
					left = append(left, n)
				}
			}
			return left
		}).WithTimeout(15*time.Second).Should(BeEmpty(), "USB devices the model made, still on the host after it stopped")
	})
	Eventually(func() error { _, err := os.Stat(ready); return err }).WithTimeout(30*time.Second).
		Should(Succeed(), "ffsmodel ready; output:\n%s", log)
	return cmd, log
}

// usbNames is the set of USB devices the host has now, by sysfs name.
func usbNames() map[string]bool {
	GinkgoHelper()
	devs, err := guest.USBDevices()
	Expect(err).NotTo(HaveOccurred())
	names := map[string]bool{}
	for _, d := range devs {
		names[d.Name] = true
	}
	return names
}

// waitBound waits for the kernel driver named driver to bind the device
// 0b95:product and for its netdev to appear.
func waitBound(product uint16, driver string) (dev guest.USBDevice, ifname string) {
	GinkgoHelper()
	return waitBoundID(0x0b95, product, driver)
}

// waitBoundID is waitBound for the device vendor:product.
func waitBoundID(vendor, product uint16, driver string) (dev guest.USBDevice, ifname string) {
	GinkgoHelper()
	Eventually(func() string {
		dev, _ = guest.FindUSB(vendor, product)
		if len(dev.Interfaces) == 0 {
			return ""
		}
		return dev.Interfaces[0].Driver
	}).WithTimeout(15 * time.Second).Should(Equal(driver))
	Eventually(func() error { var err error; ifname, err = dev.Netdev(); return err }).WithTimeout(10 * time.Second).Should(Succeed())
	return dev, ifname
}

// upAndPing gives ifname 10.9.9.1/24, brings it up, waits for carrier and
// pings the peer on the model's wire side (10.9.9.2) three times.
func upAndPing(ifname string) {
	GinkgoHelper()
	_, err := sh("ip", "addr", "add", "10.9.9.1/24", "dev", ifname)
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(func() { sh("ip", "addr", "flush", "dev", ifname) }) // the netdev may be gone already
	_, err = sh("ip", "link", "set", ifname, "up")
	Expect(err).NotTo(HaveOccurred())
	Eventually(func() string { return sysNet(ifname, "carrier") }).WithTimeout(15 * time.Second).Should(Equal("1"))
	p, err := sh("ping", "-c", "3", "-W", "3", "10.9.9.2")
	Expect(err).NotTo(HaveOccurred(), "ping:\n%s", p)
	Expect(p).To(ContainSubstring("3 packets received"))
}

// noRxErrors checks that the kernel counted no receive error of any kind
// on ifname (a frame the driver could not take apart lands in one of them).
func noRxErrors(ifname string) {
	GinkgoHelper()
	for _, s := range []string{"rx_errors", "rx_frame_errors", "rx_length_errors", "rx_crc_errors", "rx_over_errors", "rx_fifo_errors"} {
		Expect(sysNet(ifname, "statistics/"+s)).To(Equal("0"), s)
	}
}

// stopModelLog stops the model startModel ran (SIGTERM; it must exit
// cleanly, writing its request log) and returns the log at reqPath. The log
// must not be empty, and the model must have stalled none of the kernel's
// requests.
func stopModelLog(cmd *exec.Cmd, log *bytes.Buffer, reqPath string) []referee.Request {
	GinkgoHelper()
	Expect(cmd.Process.Signal(syscall.SIGTERM)).To(Succeed())
	Expect(cmd.Wait()).To(Succeed(), "ffsmodel output:\n%s", log)
	f, err := os.Open(reqPath)
	Expect(err).NotTo(HaveOccurred())
	defer f.Close()
	reqs, err := referee.ParseLog(f)
	Expect(err).NotTo(HaveOccurred(), "request log %s", reqPath)
	Expect(reqs).NotTo(BeEmpty(), "request log %s", reqPath)
	var stalled []string
	for _, r := range reqs {
		if r.Stalled {
			stalled = append(stalled, r.String())
		}
	}
	GinkgoWriter.Printf("%s: the kernel made %d vendor requests; stalled: %v\n", filepath.Base(reqPath), len(reqs), stalled)
	Expect(stalled).To(BeEmpty(), "requests the kernel driver made that the model stalls")
	return reqs
}

// outDir is where a lab spec keeps what it wrote: DONGLE_REFEREE_OUT when
// set (to copy captures out of the lab), a temporary directory otherwise.
func outDir() string {
	GinkgoHelper()
	out := os.Getenv("DONGLE_REFEREE_OUT")
	if out == "" {
		out = GinkgoT().TempDir()
	}
	Expect(os.MkdirAll(out, 0o755)).To(Succeed())
	return out
}
