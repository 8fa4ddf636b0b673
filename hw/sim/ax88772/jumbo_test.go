package ax88772_test

import (
	"context"
	"encoding/binary"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"dongle/hw"
	"dongle/hw/sim"
	"dongle/hw/sim/ax88772"
)

// Frame lengths on the AX88178 model, driven by raw requests: standard
// frames (1514 bytes without FCS) always; longer ones only with medium JFE,
// and on RX only as long as the record fits the RX_CTL MFB burst.

var _ = Describe("AX88178 frame length", func() {
	var (
		d *sim.Device
		m *ax88772.Model
		c *sim.Capture
	)
	const gig = ax88772.MediumRE | ax88772.MediumFD | ax88772.MediumGM | ax88772.MediumENCK
	BeforeEach(func() { d, m, c = newAX88178() })
	setup := func(mfb, medium uint16) {
		GinkgoHelper()
		_, err := vendor(d, false, 0x10, ax88772.RxCtlSO|ax88772.RxCtlAB|mfb, 0, nil)
		Expect(err).NotTo(HaveOccurred())
		_, err = vendor(d, false, 0x1b, medium, 0, nil)
		Expect(err).NotTo(HaveOccurred())
	}
	record := func(n int) []byte {
		b := binary.LittleEndian.AppendUint32(nil, uint32(n)|uint32(n^0xffff)<<16)
		return append(b, make([]byte, n)...)
	}
	bcast := func(n int) []byte {
		f := make([]byte, n)
		copy(f, []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
		return f
	}

	DescribeTable("passes or drops (TooLong) by medium JFE and the MFB buffer",
		func(n int, mfb, jfe uint16, rxOK, txOK bool) {
			setup(mfb, gig|jfe)
			m.Inject(bcast(n))
			m.Out(ax88772.EPBulkOut, append(record(n), record(60)...))
			rx, tx := m.RxStats(), m.TxStats()
			if rxOK {
				Expect(rx.Accepted).To(Equal(1))
				Expect(rx.TooLong).To(BeZero())
			} else {
				Expect(rx.Accepted).To(BeZero())
				Expect(rx.TooLong).To(Equal(1))
			}
			// The 60-byte record after it is sent either way: a
			// too-long frame is dropped, not a lost stream.
			if txOK {
				Expect(tx.Frames).To(Equal(2))
				Expect(tx.TooLong).To(BeZero())
			} else {
				Expect(tx.Frames).To(Equal(1))
				Expect(tx.TooLong).To(Equal(1))
			}
			Expect(tx.BadHeader + tx.Truncated).To(BeZero())
			Expect(c.Len()).To(Equal(tx.Frames))
		},
		Entry("1514, standard", 1514, uint16(0), uint16(0), true, true),
		Entry("1515 without JFE", 1515, uint16(0), uint16(0), false, false),
		Entry("1515 without JFE, 16 KiB buffer", 1515, uint16(0x300), uint16(0), false, false),
		Entry("1515 with JFE", 1515, uint16(0), uint16(ax88772.MediumJFE), true, true),
		Entry("2044 with JFE fills a 2 KiB burst", 2044, uint16(0), uint16(ax88772.MediumJFE), true, true),
		Entry("2045 with JFE, 2 KiB buffer: RX too long", 2045, uint16(0), uint16(ax88772.MediumJFE), false, true),
		Entry("4000 with JFE, 4 KiB buffer", 4000, uint16(0x100), uint16(ax88772.MediumJFE), true, true),
		Entry("9000 with JFE, 8 KiB buffer: RX too long", 9000, uint16(0x200), uint16(ax88772.MediumJFE), false, true),
		Entry("16380 with JFE, 16 KiB buffer", 16380, uint16(0x300), uint16(ax88772.MediumJFE), true, true),
		Entry("16381 with JFE: too long both ways", 16381, uint16(0x300), uint16(ax88772.MediumJFE), false, false),
	)

	It("reports its limit (MaxFrame) from the registers", func() {
		setup(0, gig)
		Expect(m.MaxFrame()).To(Equal(1514))
		setup(0x200, gig|ax88772.MediumJFE)
		Expect(m.MaxFrame()).To(Equal(8192 - 4))
	})

	It("cuts a jumbo RX stream into bursts of the MFB buffer size", func() {
		setup(0x100, gig|ax88772.MediumJFE) // 4 KiB bursts
		ep, err := d.OpenEndpoint(ax88772.EPBulkIn)
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(ep.Close)
		// Two 4000-byte records: 8008 bytes, so 4096 + 3912. The host
		// reads with transfers of the buffer size, as the driver does
		// (rx_urb_size): a full burst ends a transfer without a ZLP.
		m.Inject(bcast(4000), bcast(4000))
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		var sizes []int
		for _, want := range []int{4096, 8008 - 4096} {
			t := &hw.Transfer{Buf: make([]byte, 4096)}
			Expect(ep.Submit(t)).To(Succeed())
			got, err := ep.Wait(ctx)
			Expect(err).NotTo(HaveOccurred())
			sizes = append(sizes, got.N)
			if want == 4096 {
				h := binary.LittleEndian.Uint32(got.Buf)
				Expect(h).To(Equal(uint32(4000)|uint32(4000^0xffff)<<16), "16-bit length and complement")
			}
		}
		Expect(sizes).To(Equal([]int{4096, 8008 - 4096}))
	})

	It("leaves the AX88772B's limit at its 11-bit length field", func() {
		d, m := newDev(ax88772.Options{})
		_, _ = vendor(d, false, 0x10, ax88772.RxCtlSO|ax88772.RxCtlAB, 0, nil)
		_, _ = vendor(d, false, 0x1b, ax88772.MediumRE|ax88772.MediumFD|ax88772.MediumJFE, 0, nil)
		m.Inject(bcast(1600))
		m.Inject(bcast(2048))
		Expect(m.RxStats().Accepted).To(Equal(1))
		Expect(m.RxStats().Filtered).To(Equal(1))
		Expect(m.RxStats().TooLong).To(BeZero())
	})
})
