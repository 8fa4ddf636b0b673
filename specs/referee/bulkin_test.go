package referee_test

import (
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"dongle/specs/referee"
	"dongle/usbnet/ax88179"
)

// row is the register image of one of the driver's AX88179_BULKIN_SIZE rows.
func row(b ax88179.BulkIn) referee.BulkIn { return referee.BulkIn(b.Bytes()) }

var _ = Describe("the AX88179 bulk-in setting (RX_BULKIN_QCTRL) a driver chose", func() {
	DescribeTable("ExpectedBulkIn is the AX88179_BULKIN_SIZE row for the USB and Ethernet speed",
		func(usb byte, phy uint16, want referee.BulkIn, ok bool) {
			got, gotOK := referee.ExpectedBulkIn(usb, phy)
			Expect(gotOK).To(Equal(ok))
			Expect(got).To(Equal(want))
		},
		Entry("SuperSpeed, 1000 full", byte(0x04), uint16(0xa400), row(ax88179.BulkInSuperGiga), true),
		Entry("high speed, 1000 full", byte(0x02), uint16(0xa400), row(ax88179.BulkInHighGiga), true),
		Entry("full speed, 1000", byte(0x00), uint16(0xa400), row(ax88179.BulkInFull), true),
		Entry("SuperSpeed, 100", byte(0x04), uint16(0x6400), row(ax88179.BulkIn100), true),
		Entry("high speed, 100", byte(0x02), uint16(0x6400), row(ax88179.BulkIn100), true),
		Entry("SuperSpeed, 10", byte(0x04), uint16(0x2400), row(ax88179.BulkInFull), true),
		Entry("no link: nothing written", byte(0x04), uint16(0xa000), referee.BulkIn{}, false),
	)

	It("in the kernel's high-speed log kept in testdata is the high-speed gigabit row, after the reset default", func() {
		reqs := kernelLog("ax88179")
		lr, err := referee.LinkResets(reqs)
		Expect(err).NotTo(HaveOccurred())
		Expect(lr).To(HaveLen(1), "one link-up in the recorded bring-up")
		Expect(lr[0].USBStatus).To(Equal(ax88179.USBHigh))
		Expect(lr[0].PHYStatus).To(Equal(uint16(0xa400)))
		want, ok := referee.ExpectedBulkIn(lr[0].USBStatus, lr[0].PHYStatus)
		Expect(ok).To(BeTrue())
		Expect(lr[0].QCtrl).To(Equal(want))
		Expect(lr[0].QCtrl).To(Equal(row(ax88179.BulkInHighGiga)))
		// The reset's default (row 0) came first and is no link reset.
		def := ax88179.BulkInSuperGiga.Bytes()
		Expect(reqs[:lr[0].Index]).To(ContainElement(HaveField("Data", def[:])))
	})

	It("pairs each write with the status read before it and names a malformed request", func() {
		log := strings.Join([]string{
			"40 01 002e 0005 0005 074f0012ff", // reset default: no status read before it
			"c0 01 0002 0001 0001 04",
			"c0 02 0003 0011 0002 00a4",
			"40 01 002e 0005 0005 074f0012ff",
			"c0 01 0002 0001 0001 04",
			"c0 02 0003 0011 0002 0064",
			"40 01 002e 0005 0005 07ae0718ff",
		}, "\n")
		reqs, err := referee.ParseLog(strings.NewReader(log))
		Expect(err).NotTo(HaveOccurred())
		lr, err := referee.LinkResets(reqs)
		Expect(err).NotTo(HaveOccurred())
		Expect(lr).To(Equal([]referee.LinkReset{
			{USBStatus: 4, PHYStatus: 0xa400, QCtrl: row(ax88179.BulkInSuperGiga), Index: 3},
			{USBStatus: 4, PHYStatus: 0x6400, QCtrl: row(ax88179.BulkIn100), Index: 6},
		}))
		Expect(lr[1].QCtrl.String()).To(Equal("07ae0718ff"))

		bad, err := referee.ParseLog(strings.NewReader("c0 01 0002 0001 0001 04\n40 01 002e 0003 0003 074f00\n"))
		Expect(err).NotTo(HaveOccurred())
		_, err = referee.LinkResets(bad)
		Expect(err).To(MatchError(And(ContainSubstring("request 1"), ContainSubstring("RX_BULKIN_QCTRL write of 3 bytes"))))
	})
})
