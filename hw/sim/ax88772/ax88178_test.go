package ax88772_test

import (
	"context"
	"encoding/binary"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"dongle/hw"
	"dongle/hw/sim"
	"dongle/hw/sim/ax88772"
)

// The AX88178 variant, driven by raw requests (no driver).

// mdio reads PHY register reg at addr as a host would: SET_SW_MII first.
func mdio(d *sim.Device, addr uint8, reg int) uint16 {
	GinkgoHelper()
	_, err := vendor(d, false, 0x06, 0, 0, nil)
	Expect(err).NotTo(HaveOccurred())
	b := make([]byte, 2)
	n, err := vendor(d, true, 0x07, uint16(addr), uint16(reg), b)
	Expect(err).NotTo(HaveOccurred())
	Expect(n).To(Equal(2))
	return binary.LittleEndian.Uint16(b)
}

func mdioWrite(d *sim.Device, addr uint8, reg int, v uint16) {
	GinkgoHelper()
	_, err := vendor(d, false, 0x06, 0, 0, nil)
	Expect(err).NotTo(HaveOccurred())
	_, err = vendor(d, false, 0x08, uint16(addr), uint16(reg), binary.LittleEndian.AppendUint16(nil, v))
	Expect(err).NotTo(HaveOccurred())
}

// powerUp drives GPIO0 as an output, as a board's power-up sequence does.
func powerUp(d *sim.Device) {
	GinkgoHelper()
	_, err := vendor(d, false, 0x1f, 0x81, 0, nil)
	Expect(err).NotTo(HaveOccurred())
}

const phy178 = 0x18

var _ = Describe("AX88178", func() {
	It("enumerates as an AX88178 and reports its external PHY's address and board word", func() {
		d, _ := newDev(ax88772.Options{Chip: ax88772.AX88178, Word17: 0x018c})
		dd, err := hw.ReadDeviceDescriptor(context.Background(), d)
		Expect(err).NotTo(HaveOccurred())
		Expect([]uint16{dd.Vendor, dd.Product}).To(Equal([]uint16{0x0b95, 0x1780}))
		b := make([]byte, 6)
		n, err := vendor(d, true, 0x19, 0, 0, b)
		Expect(err).NotTo(HaveOccurred())
		Expect(b[:n]).To(Equal([]byte{0xe0, phy178}))
		n, err = vendor(d, true, 0x0b, 0x17, 0, b)
		Expect(err).NotTo(HaveOccurred())
		Expect(binary.LittleEndian.Uint16(b[:n])).To(Equal(uint16(0x018c)))
		n, err = vendor(d, true, 0x13, 0, 0, b)
		Expect(err).NotTo(HaveOccurred())
		Expect(b[:n]).To(Equal([]byte(ax88772.DefaultMAC178)))
	})

	It("keeps the external PHY silent until a GPIO power pin is driven, and records every GPIO write", func() {
		d, m := newDev(ax88772.Options{Chip: ax88772.AX88178})
		Expect(mdio(d, phy178, 2)).To(Equal(uint16(0xffff)))
		Expect(m.PHYPowered()).To(BeFalse())
		_, up := m.Link()
		Expect(up).To(BeFalse(), "no link without a powered PHY")

		_, err := vendor(d, false, 0x1f, 0x80, 0, nil) // RSE only: no output enabled
		Expect(err).NotTo(HaveOccurred())
		Expect(mdio(d, phy178, 2)).To(Equal(uint16(0xffff)))
		powerUp(d)
		_, err = vendor(d, false, 0x1f, 0x31, 0, nil)
		Expect(err).NotTo(HaveOccurred())
		Expect(m.GPIOWrites()).To(Equal([]byte{0x80, 0x81, 0x31}))
		g := make([]byte, 1)
		_, err = vendor(d, true, 0x1e, 0, 0, g)
		Expect(err).NotTo(HaveOccurred())
		Expect(g[0]).To(Equal(byte(0x31)))

		Expect(mdio(d, phy178, 2)).To(Equal(uint16(0x0141)))
		Expect(mdio(d, phy178, 3)).To(Equal(uint16(0x0cc2)))
		Expect(mdio(d, 0x10, 2)).To(Equal(uint16(0xffff)), "nothing at the embedded PHY's address")
		Expect(mdio(d, phy178, 1)&0x0100).NotTo(BeZero(), "BMSR extended status")
		Expect(mdio(d, phy178, 15)&0x2000).NotTo(BeZero(), "ESTATUS 1000/full capable")
	})

	It("takes the RTL8211CL's identity from the board word and pages its registers", func() {
		d, m := newDev(ax88772.Options{Chip: ax88772.AX88178, Word17: 0x000c})
		powerUp(d)
		Expect(mdio(d, phy178, 2)).To(Equal(uint16(0x001c)))
		bmsr := mdio(d, phy178, 1)
		mdioWrite(d, phy178, 31, 5)
		Expect(mdio(d, phy178, 1)).To(BeZero(), "page 5's register 1, not BMSR")
		mdioWrite(d, phy178, 1, 0x0080)
		mdioWrite(d, phy178, 31, 0)
		Expect(mdio(d, phy178, 1)).To(Equal(bmsr))
		Expect(m.PHYPage(5, 1)).To(Equal(uint16(0x0080)))
	})

	It("keeps vendor registers across a BMCR reset but not across a power-up", func() {
		d, m := newDev(ax88772.Options{Chip: ax88772.AX88178})
		powerUp(d)
		mdioWrite(d, phy178, 0x14, 0x0082)
		mdioWrite(d, phy178, 4, 0x0021)
		mdioWrite(d, phy178, 0, 0x8000) // BMCR reset
		Expect(mdio(d, phy178, 0x14)).To(Equal(uint16(0x0082)))
		Expect(mdio(d, phy178, 4)).NotTo(Equal(uint16(0x0021)), "ANAR back to its default")
		Expect(mdio(d, phy178, 0)&0x8000).To(BeZero(), "reset self-clears")
		m.Reset() // port reset: power cycle
		Expect(m.PHYPowered()).To(BeFalse())
		powerUp(d)
		Expect(mdio(d, phy178, 0x14)).NotTo(Equal(uint16(0x0082)))
	})

	It("never answers with PHYSilent, powered or not", func() {
		d, _ := newDev(ax88772.Options{Chip: ax88772.AX88178, PHYSilent: true})
		powerUp(d)
		Expect(mdio(d, phy178, 2)).To(Equal(uint16(0xffff)))
	})

	It("ignores SW_RESET IPPD: there is no internal PHY to power down", func() {
		d, m := newDev(ax88772.Options{Chip: ax88772.AX88178})
		powerUp(d)
		_, err := vendor(d, false, 0x20, 0x48, 0, nil) // PRL | IPPD
		Expect(err).NotTo(HaveOccurred())
		l, up := m.Link()
		Expect(up).To(BeTrue())
		Expect(l.Mbps).To(Equal(1000))
	})

	DescribeTable("auto-negotiates against the partner's offer with the CTRL1000 the host writes",
		func(p ax88772.Link, ctrl1000 uint16, mbps int, full bool, stat1000 uint16) {
			d, m := newDev(ax88772.Options{Chip: ax88772.AX88178, Partner: p})
			powerUp(d)
			mdioWrite(d, phy178, 9, ctrl1000)
			mdioWrite(d, phy178, 0, 0x1200) // ANENABLE | ANRESTART
			l, up := m.Link()
			Expect(up).To(BeTrue())
			Expect(l.Mbps).To(Equal(mbps))
			Expect(l.FullDuplex).To(Equal(full))
			Expect(mdio(d, phy178, 10)).To(Equal(stat1000))
			Expect(mdio(d, phy178, 0)&0x0200).To(BeZero(), "ANRESTART self-clears")
		},
		Entry("1000/full partner, 1000FULL advertised", ax88772.Link{Mbps: 1000, FullDuplex: true}, uint16(0x0200), 1000, true, uint16(0x3800)),
		Entry("1000/full partner, no gigabit advertised: best 10/100 mode", ax88772.Link{Mbps: 1000, FullDuplex: true}, uint16(0), 100, true, uint16(0x0800)),
		Entry("1000/half partner, only 1000FULL advertised", ax88772.Link{Mbps: 1000}, uint16(0x0200), 100, true, uint16(0x0400)),
		Entry("1000/half partner, 1000HALF advertised", ax88772.Link{Mbps: 1000}, uint16(0x0100), 1000, false, uint16(0x3400)),
		Entry("100/full partner", ax88772.Link{Mbps: 100, FullDuplex: true}, uint16(0x0200), 100, true, uint16(0)),
		Entry("10/half partner", ax88772.Link{Mbps: 10}, uint16(0x0200), 10, false, uint16(0)),
	)

	Describe("medium mode check", func() {
		var (
			d *sim.Device
			m *ax88772.Model
			c *sim.Capture
		)
		BeforeEach(func() {
			d, m, c = newAX88178()
			_, err := vendor(d, false, 0x10, ax88772.RxCtlSO|ax88772.RxCtlAB, 0, nil)
			Expect(err).NotTo(HaveOccurred())
		})
		record := func(n int) []byte {
			b := binary.LittleEndian.AppendUint32(nil, uint32(n)|uint32(n^0xffff)<<16)
			return append(b, make([]byte, n)...)
		}
		bcast := func() []byte {
			f := make([]byte, 60)
			copy(f, []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
			return f
		}

		DescribeTable("passes frames only when the medium mode matches the 1000/full link",
			func(medium uint16, ok bool) {
				_, err := vendor(d, false, 0x1b, medium, 0, nil)
				Expect(err).NotTo(HaveOccurred())
				m.Out(ax88772.EPBulkOut, record(60))
				m.Inject(bcast())
				tx, rx := m.TxStats(), m.RxStats()
				if ok {
					Expect(tx.Frames).To(Equal(1))
					Expect(c.Len()).To(Equal(1))
					Expect(rx.Accepted).To(Equal(1))
					Expect(tx.MediumMismatch + rx.MediumMismatch).To(BeZero())
				} else {
					Expect(tx.Frames).To(BeZero())
					Expect(c.Len()).To(BeZero())
					Expect(rx.Accepted).To(BeZero())
					Expect(tx.MediumMismatch).To(Equal(1))
					Expect(rx.MediumMismatch).To(Equal(1))
				}
			},
			Entry("GM|ENCK|FD", uint16(ax88772.MediumRE|ax88772.MediumFD|ax88772.MediumGM|ax88772.MediumENCK), true),
			Entry("GM|ENCK|FD|PS (Linux keeps PS)", uint16(ax88772.MediumRE|ax88772.MediumFD|ax88772.MediumGM|ax88772.MediumENCK|ax88772.MediumPS), true),
			Entry("GM without ENCK", uint16(ax88772.MediumRE|ax88772.MediumFD|ax88772.MediumGM), false),
			Entry("100 Mbit/s mode", uint16(ax88772.MediumRE|ax88772.MediumFD|ax88772.MediumPS|ax88772.MediumENCK), false),
			Entry("half duplex", uint16(ax88772.MediumRE|ax88772.MediumGM|ax88772.MediumENCK), false),
		)

		It("follows a renegotiation: 100/full needs PS and no GM", func() {
			m.SetPartner(ax88772.Link{Mbps: 100, FullDuplex: true})
			_, err := vendor(d, false, 0x1b, ax88772.MediumRE|ax88772.MediumFD|ax88772.MediumGM|ax88772.MediumENCK, 0, nil)
			Expect(err).NotTo(HaveOccurred())
			m.Inject(bcast())
			Expect(m.RxStats().MediumMismatch).To(Equal(1))
			_, err = vendor(d, false, 0x1b, ax88772.MediumRE|ax88772.MediumFD|ax88772.MediumPS|ax88772.MediumENCK, 0, nil)
			Expect(err).NotTo(HaveOccurred())
			m.Inject(bcast())
			Expect(m.RxStats().Accepted).To(Equal(1))
		})
	})

	It("leaves the AX88772B unchecked: its medium mode never blocks frames", func() {
		d, m := newDev(ax88772.Options{})
		_, _ = vendor(d, false, 0x10, ax88772.RxCtlSO|ax88772.RxCtlAB, 0, nil)
		_, _ = vendor(d, false, 0x1b, ax88772.MediumRE|ax88772.MediumGM, 0, nil)
		f := make([]byte, 60)
		copy(f, []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
		m.Inject(f)
		Expect(m.RxStats().Accepted).To(Equal(1))
		Expect(m.RxStats().MediumMismatch).To(BeZero())
	})
})

// newAX88178 is a powered-up AX88178 model whose wire ends in a capture.
func newAX88178() (*sim.Device, *ax88772.Model, *sim.Capture) {
	GinkgoHelper()
	d, m := newDev(ax88772.Options{Chip: ax88772.AX88178})
	w := sim.NewWire()
	m.Plug(w.A())
	c := sim.NewCapture()
	w.B().Attach(c)
	powerUp(d)
	return d, m, c
}
