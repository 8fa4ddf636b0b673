package cdcecm_test

import (
	"encoding/binary"
	"io"
	"log"
	"path/filepath"
	"runtime"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"dongle/hw/replay"
	"dongle/hw/sim/ecm"
	"dongle/usbnet"
	"dongle/usbnet/cdcecm"
)

func notification(typ uint8, value uint16, data ...byte) []byte {
	b := []byte{0xa1, typ, 0, 0, 0, 0, 0, 0}
	binary.LittleEndian.PutUint16(b[2:], value)
	binary.LittleEndian.PutUint16(b[6:], uint16(len(data)))
	return append(b, data...)
}

func rates(dl, ul uint32) []byte {
	b := make([]byte, 8)
	binary.LittleEndian.PutUint32(b, dl)
	binary.LittleEndian.PutUint32(b[4:], ul)
	return b
}

var _ = Describe("notifications", func() {
	var (
		r   *rig
		drv = cdcecm.New()
	)
	// These call the driver's Status directly on a bound (not opened)
	// device, so each transfer's bytes are exactly what the spec says.
	BeforeEach(func() { r = newRig(ecm.Options{}) })

	It("NETWORK_CONNECTION turns the carrier on and off", func() {
		Expect(r.d.Net.Carrier()).To(BeFalse())
		Expect(drv.Status(r.d, notification(cdcecm.NotifyNetworkConnection, 1))).To(Succeed())
		Expect(r.d.Net.Carrier()).To(BeTrue())
		Expect(drv.Status(r.d, notification(cdcecm.NotifyNetworkConnection, 0))).To(Succeed())
		Expect(r.d.Net.Carrier()).To(BeFalse())
	})

	It("CONNECTION_SPEED_CHANGE in one transfer sets the speed (downlink, Mbit/s)", func() {
		Expect(drv.Status(r.d, notification(cdcecm.NotifySpeedChange, 0, rates(100_000_000, 20_000_000)...))).To(Succeed())
		Expect(r.d.Net.Speed()).To(Equal(100))
	})

	DescribeTable("CONNECTION_SPEED_CHANGE split across transfers (EVENT_STS_SPLIT)",
		func(cuts ...int) {
			whole := notification(cdcecm.NotifySpeedChange, 0, rates(425_984_000, 425_984_000)...)
			prev := 0
			for i, c := range append(cuts, len(whole)) {
				Expect(r.d.Net.Speed()).To(BeZero(), "speed set before transfer %d", i)
				Expect(drv.Status(r.d, whole[prev:c])).To(Succeed())
				prev = c
			}
			Expect(r.d.Net.Speed()).To(Equal(425))
			// The split state is over: the next transfer is a header again.
			Expect(drv.Status(r.d, notification(cdcecm.NotifyNetworkConnection, 1))).To(Succeed())
			Expect(r.d.Net.Carrier()).To(BeTrue())
		},
		Entry("8 + 8 (wMaxPacketSize 8)", 8),
		Entry("12 + 4", 12),
		Entry("8 + 4 + 4", 8, 12),
	)

	DescribeTable("malformed notifications are reported and change nothing",
		func(b []byte) {
			err := drv.Status(r.d, b)
			Expect(err).To(MatchError(cdcecm.ErrNotification))
			Expect(r.d.Net.Carrier()).To(BeFalse())
			Expect(r.d.Net.Speed()).To(BeZero())
		},
		Entry("empty", []byte{}),
		Entry("7 bytes", notification(0, 1)[:7]),
		Entry("wrong bmRequestType", append([]byte{0x21}, notification(0, 1)[1:]...)),
		Entry("unknown notification", notification(0x20, 1)),
	)

	It("ignores RESPONSE_AVAILABLE", func() {
		Expect(drv.Status(r.d, notification(cdcecm.NotifyResponseAvailable, 0))).To(Succeed())
		Expect(r.d.Net.Carrier()).To(BeFalse())
	})
})

var _ = Describe("link through the status endpoint of an open device", func() {
	It("follows the f_ecm gadget's notifications: carrier, speed, LinkReset", func() {
		r := newRig(ecm.Options{Flavor: ecm.Gadget, SplitSpeedChange: true}).open()
		Eventually(r.d.Net.Carrier).Should(BeTrue())
		Eventually(r.d.Net.Speed).Should(Equal(425))
		Eventually(r.d.Counters().LinkResets.Load).Should(BeEquivalentTo(1))
		r.m.SetLink(false)
		Eventually(r.d.Net.Carrier).Should(BeFalse())
		r.m.SetLink(true)
		Eventually(r.d.Net.Carrier).Should(BeTrue())
		Eventually(r.d.Counters().LinkResets.Load).Should(BeEquivalentTo(2))
		Expect(r.d.Counters().StatusErrors.Load()).To(BeZero())
	})

	It("starts with the carrier off when the gadget's link is down", func() {
		r := newRig(ecm.Options{Flavor: ecm.Gadget, LinkDown: true}).open()
		Eventually(r.d.Counters().StatusEvents.Load).Should(BeNumerically(">=", 1), "the gadget's link-down notification arrived")
		Consistently(r.d.Net.Carrier, "100ms").Should(BeFalse())
	})

	It("takes QEMU's periodic NETWORK_CONNECTION polls", func() {
		r := newRig(ecm.Options{}).open()
		Eventually(r.d.Net.Carrier).Should(BeTrue())
		// The carrier comes on before the deferred LinkReset runs, so wait
		// for that one first; then let three more polls arrive and check
		// none of them caused another.
		Eventually(r.d.Counters().LinkResets.Load).Should(BeEquivalentTo(1))
		seen := r.d.Counters().StatusEvents.Load()
		Eventually(r.d.Counters().StatusEvents.Load).Should(BeNumerically(">=", seen+3))
		Expect(r.d.Counters().LinkResets.Load()).To(BeEquivalentTo(1), "LinkReset only on the transition")
		Expect(r.d.Net.Carrier()).To(BeTrue())
	})
})

func fixture(name string) string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "fixtures", name)
}

var _ = Describe("model replay of the QEMU cdc_ether capture", func() {
	It("binds: MAC 52:54:00:12:34:56 from \"525400123456\", endpoints 0x82/0x02/0x81", func() {
		dev, err := replay.Open(fixture("qemu-usbnet-cdc_ether.pcap"), replay.ModelOptions{Logf: log.New(io.Discard, "", 0).Printf})
		Expect(err).NotTo(HaveOccurred())
		d, err := usbnet.Probe(dev, cdcecm.New())
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(func() { Expect(d.Disconnect()).To(Succeed()); Expect(dev.Close()).To(Succeed()) })
		Expect(d.Info.Vendor).To(BeEquivalentTo(0x0525))
		Expect(d.Info.Product).To(BeEquivalentTo(0xa4a2))
		Expect(d.Net.HardwareAddr().String()).To(Equal("52:54:00:12:34:56"))
		Expect(d.In.Address).To(BeEquivalentTo(0x82))
		Expect(d.Out.Address).To(BeEquivalentTo(0x02))
		Expect(d.Status.Address).To(BeEquivalentTo(0x81))
		Expect(d.MaxPacket()).To(Equal(64))
		Expect(d.HardMTU).To(Equal(1514))

		// Opening replays the recorded traffic: NETWORK_CONNECTION from the
		// interrupt endpoint brings the carrier up, the recorded frames come
		// up the RX path.
		Expect(d.Net.Open()).To(Succeed())
		Eventually(d.Net.Carrier).Should(BeTrue())
		Eventually(func() uint64 { return d.Net.Stats().RxPackets.Load() }).Should(BeNumerically(">", 0))
		Expect(d.Net.Stats().RxErrors.Load()).To(BeZero())
	})
})
