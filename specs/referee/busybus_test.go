package referee_test

import (
	"context"
	"encoding/hex"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"dongle/hw/sim/ncm"
	"dongle/hw/sim/rtl8153"
	"dongle/hw/usbip"
	"dongle/hw/usbmon"
	"dongle/hw/vmlab/guest"
	"dongle/usbnet/decode"
)

// busyBusFixture is the guest's usbmon capture of vhci_hcd's high-speed
// bus with two models on it (the NCM model under cdc_ncm, the RTL8153B
// model under r8152) and the bus's root hub.
const busyBusFixture = "usbmon-vhci-cdc_ncm-r8152.pcap"

// busyAdapter is one of the two adapters on the busy bus: the test frames
// it echoed are guest.TestFrame(size, mac, EchoEtherType, seq) for
// seq = Seq, Seq+1, ... over Sizes.
type busyAdapter struct {
	Driver string
	Vendor uint16
	Prod   uint16
	MAC    string
	Net    string // the guest's address, /24
	Peer   string // the model's wire-side peer
	Seq    uint32
	Sizes  []int
}

var busyAdapters = []busyAdapter{
	{"cdc_ncm", ncm.Vendor, ncm.Product, "02:11:22:0a:00:04", "10.9.9.1", "10.9.9.2", 1, []int{60, 600, 1514}},
	{"r8152", 0x0bda, 0x8153, rtl8153.DefaultMAC.String(), "10.9.8.1", "10.9.8.2", 101, []int{60, 700, 1514}},
}

// testFrames are the frames a busyAdapter's test sent (and got back).
func (a busyAdapter) testFrames() [][]byte {
	mac, err := net.ParseMAC(a.MAC)
	if err != nil {
		panic(err) // a literal above
	}
	var out [][]byte
	for i, n := range a.Sizes {
		f := make([]byte, n)
		guest.TestFrame(f, mac, guest.EchoEtherType, a.Seq+uint32(i))
		out = append(out, f)
	}
	return out
}

// vhciHighSpeedBus is the usbmon bus number of vhci_hcd's high-speed root
// hub (vhci_hcd has a high-speed and a SuperSpeed one).
func vhciHighSpeedBus() int {
	GinkgoHelper()
	roots, err := filepath.Glob(filepath.Join(usbip.VHCIDir, "usb*"))
	Expect(err).NotTo(HaveOccurred())
	for _, r := range roots {
		sp, _ := os.ReadFile(filepath.Join(r, "speed"))
		if strings.TrimSpace(string(sp)) != "480" {
			continue
		}
		b, err := os.ReadFile(filepath.Join(r, "busnum"))
		Expect(err).NotTo(HaveOccurred())
		n, err := strconv.Atoi(strings.TrimSpace(string(b)))
		Expect(err).NotTo(HaveOccurred())
		return n
	}
	Fail("no high-speed root hub under " + usbip.VHCIDir + ": " + strings.Join(roots, " "))
	return 0
}

// echoTestFrames sends a's test frames on ifname and checks each comes
// back whole (the model's peer echoes EtherType 0x88b5).
func echoTestFrames(ifname string, a busyAdapter) {
	GinkgoHelper()
	c, err := guest.ListenPacket(ifname, guest.EchoEtherType)
	Expect(err).NotTo(HaveOccurred())
	defer c.Close()
	buf := make([]byte, 2048)
	for i, f := range a.testFrames() {
		Expect(c.Send(f)).To(Succeed())
		n, err := c.Recv(buf, 3*time.Second)
		Expect(err).NotTo(HaveOccurred(), "%s: echo of test frame %d (%d bytes)", ifname, i, len(f))
		Expect(buf[:n]).To(Equal(f), "%s: echo of test frame %d", ifname, i)
	}
}

var _ = Describe("two models on one bus (vhci_hcd), the whole bus captured with usbmon", Label("lab"), func() {
	BeforeEach(needLab)

	It("holds both adapters and the root hub; decode lists them, refuses to guess, and decodes each by BUS.ADDR", func() {
		t0 := time.Now()
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		out := outDir()
		for _, m := range []string{"usbmon", "vhci-hcd", "cdc_ncm", "r8152"} {
			o, err := sh("modprobe", m)
			Expect(err).NotTo(HaveOccurred(), "modprobe %s: %s", m, o)
		}
		bus := vhciHighSpeedBus()
		Eventually(func() error { _, err := os.Stat(usbmon.NodePath(bus)); return err }).WithTimeout(5 * time.Second).Should(Succeed())

		By("capturing vhci_hcd's high-speed bus, unfiltered, before either model is attached")
		capPath := filepath.Join(out, busyBusFixture)
		capt := startCapture(ctx, bus, capPath, usbmon.CaptureOptions{})

		By("attaching the NCM model, then the RTL8153B model (a second ffsmodel, its peer on another subnet)")
		var addrs []string
		for _, a := range busyAdapters {
			model := "ncm"
			if a.Driver == "r8152" {
				model = "rtl8153"
			}
			startModel(ctx, model, "-usbip", "-peer", a.Peer)
			dev, ifname := waitBoundID(a.Vendor, a.Prod, a.Driver)
			// sysfs showed r8152's device with devnum 0 once, just
			// after the bind: wait for its address.
			Eventually(func() int { dev, _ = guest.FindUSB(a.Vendor, a.Prod); return dev.Address }).WithTimeout(5 * time.Second).ShouldNot(BeZero())
			Expect(dev.Bus).To(Equal(bus), "%s on vhci_hcd's high-speed bus", a.Driver)
			Expect(sysNet(ifname, "address")).To(Equal(a.MAC))
			addrs = append(addrs, strconv.Itoa(dev.Bus)+"."+strconv.Itoa(dev.Address))
			GinkgoWriter.Printf("%s: %s, %s\n", a.Driver, dev, ifname)

			By(a.Driver + ": carrier, two pings to its peer, the test frames echoed")
			_, err := sh("ip", "addr", "add", a.Net+"/24", "dev", ifname)
			Expect(err).NotTo(HaveOccurred())
			DeferCleanup(func() { sh("ip", "addr", "flush", "dev", ifname) })
			_, err = sh("ip", "link", "set", ifname, "up")
			Expect(err).NotTo(HaveOccurred())
			Eventually(func() string { return sysNet(ifname, "carrier") }).WithTimeout(15 * time.Second).Should(Equal("1"))
			p, err := sh("ping", "-c", "2", "-W", "3", a.Peer)
			Expect(err).NotTo(HaveOccurred(), "ping %s:\n%s", a.Peer, p)
			echoTestFrames(ifname, a)
			noRxErrors(ifname)
		}
		time.Sleep(200 * time.Millisecond) // the last completions reach the ring

		By("stopping the capture: nothing dropped")
		capt.stop()
		Expect(capt.err).NotTo(HaveOccurred())
		Expect(capt.st.Dropped).To(BeZero())
		GinkgoWriter.Printf("usbmon%d: %s\n", bus, capt.st)

		busyBusChecks(capPath, addrs)
		fi, err := os.Stat(capPath)
		Expect(err).NotTo(HaveOccurred())
		GinkgoWriter.Printf("wrote %s: %d bytes; lab time %v\n", capPath, fi.Size(), time.Since(t0).Round(time.Second))
	})
})

// busyBusChecks is what both the lab test and the fixture's test check of
// the busy-bus capture: three devices (the root hub, both adapters at
// addrs, in attach order), no guess without --device, and each adapter's
// test frames decoded both ways with its own driver.
func busyBusChecks(path string, addrs []string) {
	GinkgoHelper()
	_, err := decode.ReadFile(path, decode.Options{})
	Expect(errors.Is(err, decode.ErrSeveralDevices)).To(BeTrue(), "decode without --device: %v", err)
	for i, a := range busyAdapters {
		tr, err := decode.ReadFile(path, decode.Options{Device: addrs[i]})
		Expect(err).NotTo(HaveOccurred(), "--device %s", addrs[i])
		Expect(tr.Driver).To(Equal(a.Driver), "--device %s", addrs[i])
		Expect(tr.MAC.String()).To(Equal(a.MAC))
		Expect(tr.Errors).To(BeEmpty(), "%s: framing errors", a.Driver)
		Expect(tr.Stats.Ignored).To(BeNumerically(">", 0), "%s: the other devices' records are ignored", a.Driver)
		// The devices: the root hub (address 1: its descriptors were read
		// at boot, before the capture), both adapters, and address 0 where
		// vhci_hcd enumerates each before SET_ADDRESS.
		var infos []string
		byAddr := map[string]string{}
		for _, d := range tr.Devices {
			infos = append(infos, d.String())
			if d.Address != 0 {
				byAddr[strconv.Itoa(int(d.Bus))+"."+strconv.Itoa(int(d.Address))] = d.Function
			}
		}
		GinkgoWriter.Printf("--device %s: %s; devices: %s\n", addrs[i], a.Driver, strings.Join(infos, "; "))
		Expect(byAddr).To(HaveLen(3), "the root hub and two adapters: %v", infos)
		bus, _, err := decode.ParseDevice(addrs[i])
		Expect(err).NotTo(HaveOccurred())
		Expect(byAddr).To(HaveKeyWithValue(strconv.Itoa(int(bus))+".1", Not(Or(Equal("cdc_ncm"), Equal("r8152")))), "the root hub: %v", infos)
		for j, b := range busyAdapters {
			Expect(byAddr).To(HaveKeyWithValue(addrs[j], b.Driver), "%v", infos)
		}
		Expect(tr.Bus).To(Equal(bus))
		for _, f := range a.testFrames() {
			Expect(hasFrame(tr, decode.TX, f)).To(BeTrue(), "%s: TX test frame %x...", a.Driver, f[:18])
			Expect(hasFrame(tr, decode.RX, f)).To(BeTrue(), "%s: RX echo %x...", a.Driver, f[:18])
		}
		// No frame of the other adapter's subnet or MAC is in this decode.
		other := busyAdapters[1-i]
		om, _ := net.ParseMAC(other.MAC)
		for _, f := range tr.Frames {
			Expect(len(f.Data) >= 12 && string(f.Data[6:12]) == string(om)).To(BeFalse(),
				"%s: a frame from %s's MAC: %s", a.Driver, other.Driver, hex.EncodeToString(f.Data[:min(len(f.Data), 32)]))
		}
	}
}

// hasFrame reports whether tr holds frame want in direction dir.
func hasFrame(tr *decode.Trace, dir decode.Dir, want []byte) bool {
	for _, f := range tr.Frames {
		if f.Dir == dir && string(f.Data) == string(want) {
			return true
		}
	}
	return false
}
