package asix_test

import (
	"bytes"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"dongle/hw/sim/ax88772"
	"dongle/netdev"
	"dongle/usbnet"
	"dongle/usbnet/asix"
)

// Jumbo frames on the AX88178 (ax88178_change_mtu / ax88178_set_mfb)
// against the model's AX88178, which drops frames longer than 1514 bytes
// (1518 with FCS) unless medium JFE is set and the RX_CTL MFB buffer holds
// the record.

var _ = Describe("AX88178 jumbo frames", func() {
	DescribeTable("round-trip after an MTU change, with RX_CTL MFB and medium JFE programmed",
		// mfb and buf are ax88178_set_mfb's table for the frame's hard MTU
		// (mtu + 14): the smallest of 2048/4096/8192/16384 above it.
		func(n int, mfb uint16, buf int) {
			r := newRig(opts178(0x0000, ax88772.Link{}))
			r.loopback()
			r.model.ClearRequests()
			Expect(r.dev.Net.SetMTU(n - 14)).To(Succeed())
			Expect(r.dev.Net.MTU()).To(Equal(n - 14))
			Expect(r.dev.RxURBSize).To(Equal(buf))
			Expect(r.model.Requests()).To(BeEmpty(), "down, the change is state only: open programs the chip")

			// Open's reset and the link reset program both.
			r.open()
			Eventually(func() uint16 { return r.model.Registers().Medium & (asix.MediumJFE | asix.MediumGM) }).
				Should(Equal(asix.MediumJFE | asix.MediumGM))
			Expect(r.model.Registers().RxCtl & asix.RxCtlMFB).To(Equal(mfb))
			Expect(r.model.Registers().RxCtl&asix.RxCtlSO).NotTo(BeZero(), "filter bits kept")
			Expect(r.model.MaxFrame()).To(Equal(buf - 4))

			r.roundTripOK(n)
			Expect(r.model.TxStats().TooLong).To(BeZero())
			Expect(r.model.RxStats().TooLong).To(BeZero())
			Expect(r.dev.Net.Stats().RxLengthErrors.Load()).To(BeZero())
		},
		Entry("1515 (MTU 1501)", 1515, uint16(0x0000), 2048),
		Entry("2048", 2048, uint16(0x0100), 4096),
		Entry("4000", 4000, uint16(0x0100), 4096),
		Entry("4082 (hard MTU 4082 < 4096)", 4082, uint16(0x0100), 4096),
		Entry("8000", 8000, uint16(0x0200), 8192),
		Entry("9014 (MTU 9000)", 9014, uint16(0x0300), 16384),
		Entry("16380 (the largest, MTU 16366)", 16380, uint16(0x0300), 16384),
	)

	It("refuses an MTU above 16366 with a clear error, and keeps the old one", func() {
		r := newRig(opts178(0x0000, ax88772.Link{}))
		Expect(r.dev.Net.MaxMTU).To(Equal(asix.MaxMTU178))
		Expect(asix.MaxMTU178).To(Equal(16366))
		Expect(r.dev.Net.SetMTU(16367)).To(MatchError(netdev.ErrMTURange))
		Expect(r.dev.ChangeMTU(r.dev.Net, 16367)).To(MatchError(ContainSubstring("MTU 16367 above the device's 16366")))
		Expect(r.dev.Net.MTU()).To(Equal(1500))
		Expect(r.dev.RxURBSize).To(Equal(2048))
	})

	It("refuses a change while the interface is up (usbnet.ErrBusy), leaving the chip alone", func() {
		r := newRig(opts178(0x0000, ax88772.Link{}))
		r.open()
		Eventually(func() uint16 { return r.model.Registers().Medium & asix.MediumGM }).Should(Equal(asix.MediumGM))
		before := r.model.Registers()
		// Before any MTU change the medium mode is Linux's
		// (AX88178_MEDIUM_DEFAULT has JFE set).
		Expect(before.Medium & asix.MediumJFE).To(Equal(asix.MediumJFE))
		err := r.dev.Net.SetMTU(4000)
		Expect(err).To(MatchError(usbnet.ErrBusy))
		Expect(err).To(MatchError(ContainSubstring("MTU 4000")))
		Expect(r.dev.Net.MTU()).To(Equal(1500))
		Expect(r.model.Registers().RxCtl).To(Equal(before.RxCtl))
		Expect(r.model.Registers().Medium).To(Equal(before.Medium))
		Expect(r.dev.RxURBSize).To(Equal(2048))
	})

	It("goes back to 1500: JFE cleared, 2 KiB bursts, 1515-byte frames dropped by the chip and counted", func() {
		r := newRig(opts178(0x0000, ax88772.Link{}))
		r.loopback()
		Expect(r.dev.Net.SetMTU(9000)).To(Succeed())
		r.open()
		Expect(r.dev.RxURBs).To(Equal(usbnet.RxQueueLen(16384)))
		r.roundTripOK(9014)
		Expect(r.dev.Net.Close()).To(Succeed())

		Expect(r.dev.Net.SetMTU(1500)).To(Succeed())
		Expect(r.dev.RxURBSize).To(Equal(2048))
		Expect(r.dev.RxURBs).To(Equal(usbnet.RxQueueLen(2048)), "RX queue follows the buffer size")

		r.open()
		Eventually(func() uint16 { return r.model.Registers().Medium & (asix.MediumJFE | asix.MediumGM) }).
			Should(Equal(asix.MediumGM), "link reset must not turn JFE back on")
		Expect(r.model.Registers().RxCtl & asix.RxCtlMFB).To(BeZero())
		Expect(r.model.MaxFrame()).To(Equal(1514))
		r.roundTripOK(1514)

		// TX: the driver frames it, the chip drops it.
		r.clearRx()
		big := ethFrame(1515, r.dev.Net.HardwareAddr(), []byte{2, 0, 0, 0, 0, 7}, 5)
		r.xmit(big)
		Eventually(func() int { return r.model.TxStats().TooLong }).Should(Equal(1))
		// RX: straight from the wire, then a standard frame behind it.
		r.model.Receive(big)
		Eventually(func() int { return r.model.RxStats().TooLong }).Should(Equal(1))
		f := ethFrame(1514, r.dev.Net.HardwareAddr(), []byte{2, 0, 0, 0, 0, 8}, 6)
		r.model.Receive(f)
		got := r.waitRx(1)
		Expect(got).To(HaveLen(1))
		Expect(bytes.Equal(got[0], f)).To(BeTrue(), "only the 1514-byte frame arrives")
		Consistently(func() int { return len(r.received()) }).WithTimeout(50 * time.Millisecond).Should(Equal(1))
	})

	It("still refuses a record longer than the new MTU allows (rx_length_errors)", func() {
		r := newRig(opts178(0x0000, ax88772.Link{}))
		Expect(r.dev.Net.SetMTU(4000)).To(Succeed())
		r.open()
		st := r.dev.Net.Stats()
		// A well-formed header for 4019 bytes (mtu + 14 + 4 + 1): refused
		// by the deframer, whatever the chip let through.
		n := 4019
		rec := []byte{byte(n), byte(n >> 8), byte(^n), byte(^n >> 8)}
		rec = append(rec, make([]byte, n+1)...)
		r.model.InjectRaw(rec)
		Eventually(st.RxLengthErrors.Load).Should(BeEquivalentTo(1))
		Eventually(func() uint64 { return asix.RxStatsOf(r.dev).Oversize.Load() }).Should(BeEquivalentTo(1))
		Expect(st.RxPackets.Load()).To(BeZero())
	})
})

// ax88178_set_mfb picks the smallest buffer strictly larger than the hard
// MTU; ChangeMTU and Bind ask MFB for hard + 1.
var _ = DescribeTable("AX88178 RX buffer for a hard MTU (MFB(hard+1))",
	func(hard int, mfb uint16, buf int) {
		f, size := asix.MFB(hard + 1)
		Expect(f).To(Equal(mfb))
		Expect(size).To(Equal(buf))
	},
	Entry("1514", 1514, uint16(0x0000), 2048),
	Entry("2047", 2047, uint16(0x0000), 2048),
	Entry("2048", 2048, uint16(0x0100), 4096),
	Entry("4095", 4095, uint16(0x0100), 4096),
	Entry("4096", 4096, uint16(0x0200), 8192),
	Entry("8191", 8191, uint16(0x0200), 8192),
	Entry("8192", 8192, uint16(0x0300), 16384),
	Entry("16380 (MTU 16366)", 16380, uint16(0x0300), 16384),
)

var _ = Describe("AX88772B MTU", func() {
	It("stays at 1500: a larger MTU is refused, RX_CTL and medium untouched", func() {
		r := newRig(ax88772.Options{})
		Expect(r.dev.Net.MaxMTU).To(Equal(1500))
		r.model.ClearRequests()
		Expect(r.dev.Net.SetMTU(1501)).To(MatchError(netdev.ErrMTURange))
		Expect(r.dev.ChangeMTU(r.dev.Net, 1501)).To(MatchError(ContainSubstring("above the device's 1500")))
		Expect(r.dev.Net.MTU()).To(Equal(1500))
		Expect(r.model.Requests()).To(BeEmpty())
		Expect(r.dev.RxURBSize).To(Equal(2048))

		// A smaller MTU is fine and needs no register write.
		Expect(r.dev.Net.SetMTU(1000)).To(Succeed())
		Expect(r.model.Requests()).To(BeEmpty())
	})
})
