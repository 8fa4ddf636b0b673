package referee_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gleak"

	"dongle/hw"
	"dongle/hw/replay"
	"dongle/hw/sim/ax88772"
	"dongle/hw/usbmon"
	"dongle/usbnet"
	"dongle/usbnet/catalog"
)

// usbmonFixture is the kernel asix driver's capture kept in fixtures/ (see
// its .md); the lab test writes a fresh one to DONGLE_REFEREE_OUT.
const usbmonFixture = "usbmon-kernel-asix-ax88772b.pcap"

// liveCapture runs usbmon.Capture on a node in the background.
type liveCapture struct {
	src    *usbmon.Live
	file   *os.File
	buf    *bufio.Writer
	cancel context.CancelFunc
	done   chan struct{}
	st     usbmon.CaptureStats
	err    error
}

func startCapture(ctx context.Context, bus int, path string, opts usbmon.CaptureOptions) *liveCapture {
	GinkgoHelper()
	src, err := usbmon.OpenLive(bus, usbmon.LiveOptions{})
	Expect(err).NotTo(HaveOccurred())
	f, err := os.Create(path)
	Expect(err).NotTo(HaveOccurred())
	c := &liveCapture{src: src, file: f, buf: bufio.NewWriter(f), done: make(chan struct{})}
	w, err := usbmon.NewWriter(c.buf)
	Expect(err).NotTo(HaveOccurred())
	ctx, c.cancel = context.WithCancel(ctx)
	go func() {
		defer close(c.done)
		c.st, c.err = usbmon.Capture(ctx, src, w, opts)
	}()
	DeferCleanup(c.stop)
	return c
}

// stop cancels the capture and returns how long Capture took to return.
func (c *liveCapture) stop() time.Duration {
	t0 := time.Now()
	c.cancel()
	<-c.done
	d := time.Since(t0)
	if c.file != nil {
		c.buf.Flush()
		c.file.Close()
		c.src.Close()
		c.file = nil
	}
	return d
}

// replayBindsASIX checks what a user replaying a kernel capture gets:
// hw/replay's model replay of the trace, dongle's own drivers probing it,
// the asix minidriver binding and reading the model's MAC.
func replayBindsASIX(path string) {
	GinkgoHelper()
	dev, err := replay.Open(path, replay.ModelOptions{Logf: func(f string, a ...any) { GinkgoWriter.Printf("replay: "+f+"\n", a...) }})
	Expect(err).NotTo(HaveOccurred())
	defer dev.Close()
	_, strict := dev.(*replay.Strict)
	Expect(strict).To(BeFalse(), "a kernel capture is a foreign trace: model replay")
	d, err := usbnet.Probe(dev, catalog.ForModels()...)
	Expect(err).NotTo(HaveOccurred())
	defer d.Disconnect()
	Expect(d.Driver.Name()).To(Equal("asix"))
	Expect(d.Net.HardwareAddr().String()).To(Equal(ax88772.DefaultMAC.String()))
	Expect(d.USBSpeed()).To(Equal(hw.SpeedHigh))
}

// kernelCaptureShape checks that recs are one device's enumeration, bind
// and traffic as the kernel's usbmon reports them.
func kernelCaptureShape(recs []usbmon.Record) {
	GinkgoHelper()
	var getDev, setConf, vendor, bulkIn, bulkOut int
	for i := range recs {
		r := &recs[i]
		Expect(r.LenCap).To(Equal(uint32(len(r.Data))), "record %d: kernel len_cap convention", i)
		s := r.Setup
		switch {
		case r.XferType == usbmon.XferControl && r.Type == usbmon.Submit && r.FlagSetup == 0 && s[0] == 0x80 && s[1] == hw.ReqGetDescriptor && s[3] == hw.DescDevice:
			getDev++
		case r.XferType == usbmon.XferControl && r.Type == usbmon.Submit && r.FlagSetup == 0 && s[0] == 0x00 && s[1] == hw.ReqSetConfiguration:
			setConf++
		case r.XferType == usbmon.XferControl && r.Type == usbmon.Submit && r.FlagSetup == 0 && s[0]&0x60 == 0x40:
			vendor++
		case r.XferType == usbmon.XferBulk && r.Type == usbmon.Complete && r.Endpoint&0x80 != 0 && len(r.Data) > 0:
			bulkIn++
		case r.XferType == usbmon.XferBulk && r.Type == usbmon.Submit && r.Endpoint&0x80 == 0 && len(r.Data) > 0:
			bulkOut++
		}
	}
	GinkgoWriter.Printf("capture: %d records, GET_DESCRIPTOR(device) %d, SET_CONFIGURATION %d, vendor requests %d, bulk IN with data %d, bulk OUT with data %d\n",
		len(recs), getDev, setConf, vendor, bulkIn, bulkOut)
	Expect(getDev).To(BeNumerically(">=", 1), "the enumeration's GET_DESCRIPTOR(device)")
	Expect(setConf).To(BeNumerically(">=", 1), "SET_CONFIGURATION")
	Expect(vendor).To(BeNumerically(">=", 20), "the asix driver's register accesses")
	Expect(bulkIn).To(BeNumerically(">=", 3), "the ping replies")
	Expect(bulkOut).To(BeNumerically(">=", 3), "the pings")
}

var _ = Describe("the kernel's own USB traffic, captured live with usbmon", Label("lab"), func() {
	BeforeEach(needLab)

	It("records the kernel asix driver on an AX88772B model, and the capture replays under dongle's asix", func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		out := outDir()
		tmp := GinkgoT().TempDir()
		o, err := sh("modprobe", "usbmon")
		Expect(err).NotTo(HaveOccurred(), "modprobe usbmon: %s", o)
		sh("modprobe", "asix")
		Eventually(func() error { _, err := os.Stat(usbmon.NodePath(0)); return err }).WithTimeout(5 * time.Second).Should(Succeed())

		By("capturing every bus (/dev/usbmon0) before the device appears")
		allPath := filepath.Join(tmp, "usbmon0.pcap")
		all := startCapture(ctx, 0, allPath, usbmon.CaptureOptions{})
		GinkgoWriter.Printf("usbmon0: ring %d bytes\n", all.src.Ring())

		By("the model enumerates and the kernel asix driver binds")
		cmd, log := startModel(ctx, "ax88772b")
		dev, ifname := waitBound(0x772b, "asix")
		GinkgoWriter.Printf("AX88772B model: bus %d address %d, %s\n", dev.Bus, dev.Address, ifname)

		By("the link comes up and ping goes through")
		upAndPing(ifname)

		By("a second capture, of the device's bus and address only, runs alongside")
		devPath := filepath.Join(tmp, "usbmon-dev.pcap")
		one := startCapture(ctx, dev.Bus, devPath, usbmon.CaptureOptions{Device: uint8(dev.Address)})
		p, err := sh("ping", "-c", "2", "-W", "3", "10.9.9.2")
		Expect(err).NotTo(HaveOccurred(), "ping:\n%s", p)
		time.Sleep(200 * time.Millisecond) // the last completions reach the ring

		By("cancelling stops both captures at once, leaving no goroutine behind")
		lat1, lat2 := all.stop(), one.stop()
		Expect(all.err).NotTo(HaveOccurred())
		Expect(one.err).NotTo(HaveOccurred())
		Expect(lat1).To(BeNumerically("<", time.Second), "Capture returned %v after cancel", lat1)
		Expect(lat2).To(BeNumerically("<", time.Second), "Capture returned %v after cancel", lat2)
		// Eventually: the context.AfterFunc goroutine that woke the poll
		// may still be returning from its write when Capture has returned
		// (seen once in the lab); a leaked goroutine would stay.
		Eventually(func() []string {
			var left []string
			for _, g := range gleak.Goroutines() {
				if strings.Contains(g.Backtrace, "dongle/hw/usbmon.") {
					left = append(left, fmt.Sprintf("goroutine %d:\n%s", g.ID, g.Backtrace))
				}
			}
			return left
		}).WithTimeout(time.Second).Should(BeEmpty(), "goroutines left running")
		GinkgoWriter.Printf("usbmon0: %s (cancel took %v); usbmon%d dev %d: %s (cancel took %v)\n", all.st, lat1, dev.Bus, dev.Address, one.st, lat2)
		Expect(all.st.Dropped).To(BeZero(), "the kernel dropped events: the capture has holes")
		// No event was cut short either: Capture reports one as an error
		// (usbmon.TruncatedError), and all.err is nil above.

		By("both captures re-read with hw/usbmon")
		recs, lt, err := usbmon.ReadFile(allPath)
		Expect(err).NotTo(HaveOccurred())
		Expect(lt).To(Equal(usbmon.LinkTypeMmapped))
		Expect(recs).To(HaveLen(all.st.Written))
		devRecs, _, err := usbmon.ReadFile(devPath)
		Expect(err).NotTo(HaveOccurred())
		Expect(devRecs).To(HaveLen(one.st.Written))
		Expect(one.st.Written).To(BeNumerically(">=", 8), "2 pings and their replies on bulk OUT/IN")
		for i, r := range devRecs {
			Expect([]int{int(r.Bus), int(r.Device)}).To(Equal([]int{dev.Bus, dev.Address}), "record %d of the filtered capture", i)
		}

		By("the device's records of the whole capture are its enumeration, bind and pings")
		var mine []usbmon.Record
		for _, r := range recs {
			if int(r.Bus) == dev.Bus && int(r.Device) == dev.Address {
				mine = append(mine, r)
			}
		}
		kernelCaptureShape(mine)
		fixture := filepath.Join(out, usbmonFixture)
		f, err := os.Create(fixture)
		Expect(err).NotTo(HaveOccurred())
		w, err := usbmon.NewWriter(f)
		Expect(err).NotTo(HaveOccurred())
		for i := range mine {
			Expect(w.Write(&mine[i])).To(Succeed())
		}
		Expect(f.Close()).To(Succeed())
		GinkgoWriter.Printf("wrote %s: %d of %d records (bus %d, address %d)\n", fixture, len(mine), len(recs), dev.Bus, dev.Address)

		By("model replay of the capture binds dongle's asix driver and reads the MAC")
		replayBindsASIX(fixture)
		Expect(cmd.Process.Signal(syscall.SIGTERM)).To(Succeed())
		Expect(cmd.Wait()).To(Succeed(), "ffsmodel output:\n%s", log)
	})
})

var _ = Describe("the kernel asix capture kept in fixtures/", func() {
	It("is a kernel usbmon trace that replays under dongle's asix driver", func() {
		path := filepath.Join("..", "..", "fixtures", usbmonFixture)
		recs, _, err := usbmon.ReadFile(path)
		Expect(err).NotTo(HaveOccurred())
		kernelCaptureShape(recs)
		replayBindsASIX(path)
	})
})
