package asix_test

import (
	"bytes"
	"errors"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"dongle/hw"
	"dongle/hw/sim/ax88772"
	"dongle/usbnet"
	"dongle/usbnet/asix"
)

// The AX88178 against the model's AX88178 variant: the board setup read
// from EEPROM word 0x17, the GPIO power-up, the external PHY, gigabit.

func opts178(word uint16, p ax88772.Link) ax88772.Options {
	return ax88772.Options{Chip: ax88772.AX88178, Word17: word, Partner: p}
}

// mdioWrites returns the values the driver wrote to PHY register reg, in
// order, from the model's request log (WRITE_MII_REG, wIndex = register).
func mdioWrites(m *ax88772.Model, reg uint16) []uint16 {
	var out []uint16
	for _, q := range m.Requests() {
		if q.Setup.Request == 0x08 && q.Setup.Index == reg && len(q.Data) == 2 {
			out = append(out, uint16(q.Data[0])|uint16(q.Data[1])<<8)
		}
	}
	return out
}

// roundTripOK sends one frame through the chip to a loopback plug and
// waits for it to come back unchanged.
func (r *rig) roundTripOK(n int) {
	GinkgoHelper()
	// The carrier comes on after LinkReset returns, which may be after the
	// speed and medium mode a spec waited for are visible.
	Eventually(r.dev.Net.Carrier).Should(BeTrue())
	r.clearRx()
	f := ethFrame(n, r.dev.Net.HardwareAddr(), []byte{2, 0, 0, 0, 0, 7}, byte(n))
	r.xmit(f)
	got := r.waitRx(1)
	Expect(bytes.Equal(got[0], f)).To(BeTrue(), "frame of %d bytes changed", n)
}

var _ = Describe("AX88178 bind", func() {
	It("reads the board word, powers the Marvell PHY through GPIO0 and advertises gigabit", func() {
		r := newRig(opts178(0x0000, ax88772.Link{}))
		Expect(r.dev.Net.HardwareAddr()).To(Equal(ax88772.DefaultMAC178), "MAC from NODE_ID")
		Expect(r.model.Stalled()).To(BeEmpty())

		// READ_GPIOS, then the EEPROM word between write enable/disable.
		var codes []uint8
		var eepromWords []uint16
		for _, q := range r.model.Requests() {
			codes = append(codes, q.Setup.Request)
			if q.Setup.Request == 0x0b {
				eepromWords = append(eepromWords, q.Setup.Value)
			}
		}
		Expect(eepromWords).To(Equal([]uint16{asix.EEPROMBoardWord}))
		Expect(codes).To(ContainElements(uint8(0x1e), uint8(0x0d), uint8(0x0b), uint8(0x0e)))
		i := bytes.Index(codes, []byte{0x1e, 0x0d, 0x0b, 0x0e, 0x1f})
		Expect(i).To(BeNumerically(">=", 0), "READ_GPIOS, WRITE_ENABLE, READ_EEPROM, WRITE_DISABLE, then GPIO: %x", codes)

		b, ok := asix.BoardOf(r.dev)
		Expect(ok).To(BeTrue())
		Expect(b.Programmed).To(BeTrue())
		Expect(b.PHYMode).To(Equal(asix.PHYModeMarvell))
		Expect(b.GPIO0).To(BeTrue())

		// axe_ax88178_init, Marvell on GPIO0: RSE|GPO0EN, then a GPIO2
		// low pulse with GPO0EN held.
		Expect(r.model.GPIOWrites()).To(Equal([]byte{0x81, 0x31, 0x11, 0x31}))

		id, _ := asix.PHYIDOf(r.dev)
		Expect(id).To(Equal(uint32(0x01410cc2)), "Marvell 88E1111")
		Expect(uint32(r.model.PHY(2))<<16 | uint32(r.model.PHY(3))).To(Equal(id))

		Expect(r.model.PHY(asix.MIICtrl1000)).To(Equal(asix.Adv1000Full), "CTRL1000: 1000/full only")
		Expect(r.model.PHY(asix.MIIAdvertise)).To(Equal(asix.ADVAll | asix.ADVCSMA | asix.ADVPauseCap))
		Expect(r.model.PHY(asix.MIIMarvellCtrl)).To(Equal(uint16(asix.MarvellCtrlRxDelay|asix.MarvellCtrlTxDelay)), "RGMII delays")
		Expect(mdioWrites(r.model, asix.MIIMarvellLEDCtrl)).To(BeEmpty(), "LED mode 0 leaves LED control alone")

		regs := r.model.Registers()
		Expect(regs.PHYSelect).To(BeZero(), "external PHY selected")
		Expect(regs.SWReset).To(Equal(asix.SWResetPRL | asix.SWResetIPPD))
		Expect(regs.RxCtl&asix.RxCtlMFB).To(BeZero(), "2 KiB RX buffers for a 1514-byte hard MTU")
		Expect(regs.SWMII).To(BeFalse())
		Expect(r.dev.RxURBSize).To(Equal(2048))
	})

	It("comes up at 1000/full with GM and ENCK, and frames flow through the gigabit MAC", func() {
		r := newRig(opts178(0, ax88772.Link{}))
		r.loopback()
		r.open()
		Eventually(r.dev.Net.Speed).Should(Equal(1000))
		Eventually(func() uint16 { return r.model.Registers().Medium & (asix.MediumGM | asix.MediumENCK | asix.MediumFD) }).
			Should(Equal(asix.MediumGM | asix.MediumENCK | asix.MediumFD))
		for _, n := range []int{60, 61, 508, 1514} {
			r.roundTripOK(n)
		}
		Expect(r.model.TxStats().MediumMismatch + r.model.RxStats().MediumMismatch).To(BeZero())
	})

	It("gets carrier again when bound anew to the same chip (the PHY reset is a link restart the chip reports)", func() {
		r := newRig(opts178(0, ax88772.Link{}))
		r.open()
		Expect(r.dev.Net.Close()).To(Succeed())
		Expect(r.dev.Disconnect()).To(Succeed())
		d, err := usbnet.Probe(r.hw, fast)
		Expect(err).NotTo(HaveOccurred())
		r.dev = d // the rig's cleanup disconnects this one
		Expect(d.Net.Open()).To(Succeed())
		Eventually(d.Net.Carrier).WithTimeout(2*time.Second).Should(BeTrue(), "the second driver instance never heard of the link")
	})

	DescribeTable("negotiates with the partner and writes the matching medium mode",
		func(p ax88772.Link, mbps int, full bool) {
			r := newRig(opts178(0, p))
			r.loopback()
			r.open()
			Eventually(r.dev.Net.Speed).Should(Equal(mbps))
			var md uint16
			Eventually(func() uint16 {
				md = r.model.Registers().Medium
				return md & asix.MediumFD
			}).Should(Equal(map[bool]uint16{true: asix.MediumFD, false: 0}[full]))
			Expect(md&asix.MediumGM != 0).To(Equal(mbps == 1000), "GM %#04x", md)
			Expect(md&asix.MediumENCK).NotTo(BeZero(), "ENCK %#04x", md)
			if mbps == 10 {
				Expect(md&asix.MediumPS).To(BeZero(), "PS %#04x", md)
			} else {
				Expect(md&asix.MediumPS).NotTo(BeZero(), "PS %#04x", md)
			}
			Expect(md & asix.MediumRE).NotTo(BeZero())
			// The model refuses frames when the medium mode and the link
			// disagree: a round trip proves they agree.
			r.roundTripOK(200)
		},
		Entry("10/half", ax88772.Link{Mbps: 10}, 10, false),
		Entry("10/full", ax88772.Link{Mbps: 10, FullDuplex: true}, 10, true),
		Entry("100/half", ax88772.Link{Mbps: 100}, 100, false),
		Entry("100/full with pause", ax88772.Link{Mbps: 100, FullDuplex: true, Pause: true}, 100, true),
		Entry("1000/full", ax88772.Link{Mbps: 1000, FullDuplex: true}, 1000, true),
		Entry("1000/half: only 1000FULL is advertised, so 100/full", ax88772.Link{Mbps: 1000}, 100, true),
	)

	It("follows a renegotiation from 1000 to 100 and back on the link interrupt", func() {
		r := newRig(opts178(0, ax88772.Link{}))
		r.loopback()
		r.open()
		Eventually(r.dev.Net.Speed).Should(Equal(1000))
		r.model.SetCable(false)
		Eventually(r.dev.Net.Carrier).Should(BeFalse())
		r.model.SetPartner(ax88772.Link{Mbps: 100, FullDuplex: true})
		r.model.SetCable(true)
		Eventually(r.dev.Net.Speed).Should(Equal(100))
		Eventually(func() uint16 { return r.model.Registers().Medium & (asix.MediumGM | asix.MediumPS) }).Should(Equal(asix.MediumPS))
		r.roundTripOK(100)
	})

	It("dumps the gigabit PHY for diag: Marvell id, 1000/full resolved from CTRL1000/STAT1000", func() {
		r := newRig(opts178(0, ax88772.Link{}))
		r.open()
		Eventually(r.dev.Net.Speed).Should(Equal(1000))
		ph, err := asix.ReadPHY(r.dev)
		Expect(err).NotTo(HaveOccurred())
		Expect(ph.Addr).To(Equal(uint8(0x18)))
		Expect(ph.ID).To(Equal(uint32(0x01410cc2)))
		Expect(ph.Link.String()).To(Equal("1000/full pause"))
		Expect(ph.BMCR.AutoNeg).To(BeTrue())
		Expect(ph.BMCR.ForcedMbps).To(Equal(1000), "BMCR speed bits 6 alone")
		Expect(ph.BMSR.Abilities).To(ContainElements("1000baseT/Half", "1000baseT/Full"), "extended status")
		Expect(ph.Adv).To(ContainElement("1000baseT/Full"), "CTRL1000")
		Expect(ph.Adv).NotTo(ContainElement("1000baseT/Half"), "only 1000FULL is advertised")
		Expect(ph.Partner).To(ContainElement("1000baseT/Full"), "STAT1000")
	})

	It("uses the defaults when EEPROM word 0x17 is unprogrammed (0xffff)", func() {
		r := newRig(opts178(0xffff, ax88772.Link{}))
		b, ok := asix.BoardOf(r.dev)
		Expect(ok).To(BeTrue())
		Expect(b.Programmed).To(BeFalse())
		Expect(b.PHYMode).To(Equal(asix.PHYModeMarvell))
		Expect(b.GPIO0).To(BeTrue())
		Expect(b.LEDMode).To(BeZero())
		Expect(r.model.GPIOWrites()).To(Equal([]byte{0x81, 0x31, 0x11, 0x31}))
		Expect(r.model.PHY(asix.MIIMarvellCtrl)).To(Equal(uint16(0x0082)))
		r.open()
		Eventually(r.dev.Net.Speed).Should(Equal(1000))
	})

	It("Marvell on GPIO1 with LED mode 1: Linux's GPIO sequence, LED control and the speed LEDs", func() {
		r := newRig(opts178(0x0180, ax88772.Link{}))
		b, _ := asix.BoardOf(r.dev)
		Expect([]any{b.PHYMode, b.GPIO0, b.LEDMode}).To(Equal([]any{asix.PHYModeMarvell, false, uint8(1)}))
		Expect(r.model.GPIOWrites()).To(Equal([]byte{0x8c, 0x04, 0x0c}))
		// marvell_phy_init: bits 8..10 cleared, bits 0 and 8 set, from the
		// PHY's own value.
		Expect(r.model.PHY(asix.MIIMarvellLEDCtrl)).To(Equal(uint16(0x4101)))
		r.open()
		// marvell_led_status at 1000: the centre LED bits 0x03e0.
		Eventually(func() uint16 { return r.model.PHY(asix.MIIMarvellLEDMan) }).Should(Equal(uint16(0x03e0)))
	})

	It("RTL8211CL on GPIO1 with LED mode 12: its GPIO pulse and page-select writes", func() {
		r := newRig(opts178(0x0c8c, ax88772.Link{}))
		b, _ := asix.BoardOf(r.dev)
		Expect(b.PHYMode).To(Equal(asix.PHYModeRTL8211CL))
		Expect(b.PHYName()).To(Equal("Realtek RTL8211CL"))
		Expect(r.model.GPIOWrites()).To(Equal([]byte{0x0c, 0x3c, 0x1c, 0x3c}))
		id, _ := asix.PHYIDOf(r.dev)
		Expect(id).To(Equal(uint32(0x001cc913)))
		Expect(mdioWrites(r.model, asix.MIIPageSelect)).To(Equal([]uint16{5, 0, 2, 0}))
		Expect(r.model.PHYPage(5, 1)&0x0080).NotTo(BeZero(), "page 5 register 1 bit 7")
		Expect(r.model.PHYPage(2, 0x1a)).To(Equal(uint16(0x00cb)))
		Expect(r.model.PHY(asix.MIIPageSelect)).To(BeZero(), "back on page 0")
		Expect(mdioWrites(r.model, asix.MIIMarvellCtrl)).To(BeEmpty(), "no Marvell setup on a Realtek PHY")
		r.loopback()
		r.open()
		Eventually(r.dev.Net.Speed).Should(Equal(1000))
		r.roundTripOK(300)
	})

	It("fails with a clear error when the PHY never answers", func() {
		hwdev, m := ax88772.NewDevice(ax88772.Options{Chip: ax88772.AX88178, PHYSilent: true})
		DeferCleanup(hwdev.Close)
		_, err := usbnet.Probe(hwdev, fast)
		Expect(errors.Is(err, asix.ErrNoPHY)).To(BeTrue(), "%v", err)
		Expect(err.Error()).To(ContainSubstring("address 24"))
		Expect(err.Error()).To(ContainSubstring("0xffff"))
		Expect(m.GPIOWrites()).NotTo(BeEmpty(), "the power-up ran before the PHY was asked")
	})

	It("fails on a short EEPROM read, naming the word", func() {
		hwdev, m := ax88772.NewDevice(ax88772.Options{Chip: ax88772.AX88178})
		DeferCleanup(hwdev.Close)
		m.ShortReply(0x0b, 1)
		_, err := usbnet.Probe(hwdev, fast)
		Expect(errors.Is(err, hw.ErrShort)).To(BeTrue(), "%v", err)
		Expect(err.Error()).To(ContainSubstring("EEPROM word 0x17"))
		Expect(m.GPIOWrites()).To(BeEmpty(), "no GPIO sequence from a word never read")
	})

	It("fails on a short GPIO status read", func() {
		hwdev, m := ax88772.NewDevice(ax88772.Options{Chip: ax88772.AX88178})
		DeferCleanup(hwdev.Close)
		m.ShortReply(0x1e, 0)
		_, err := usbnet.Probe(hwdev, fast)
		Expect(errors.Is(err, hw.ErrShort)).To(BeTrue(), "%v", err)
		Expect(err.Error()).To(ContainSubstring("GPIO status"))
	})
})

var _ = Describe("AX88178 board word", func() {
	DescribeTable("decodes PHY mode, power pin and LED mode",
		func(w uint16, want asix.Board) {
			Expect(asix.DecodeBoard(w)).To(Equal(want))
		},
		Entry("unprogrammed", uint16(0xffff), asix.Board{Word: 0xffff, PHYMode: asix.PHYModeMarvell, GPIO0: true}),
		Entry("Marvell, GPIO0", uint16(0x0000), asix.Board{Word: 0, Programmed: true, PHYMode: asix.PHYModeMarvell, GPIO0: true}),
		Entry("Cicada, GPIO1, LED 2", uint16(0x0281), asix.Board{Word: 0x0281, Programmed: true, PHYMode: asix.PHYModeCicada, LEDMode: 2}),
		Entry("RTL8251CL, GPIO0", uint16(0x000e), asix.Board{Word: 0x000e, Programmed: true, PHYMode: asix.PHYModeRTL8251CL, GPIO0: true}),
	)

	DescribeTable("picks the GPIO sequence the board implies",
		func(w uint16, want []uint16) {
			var got []uint16
			for _, s := range asix.DecodeBoard(w).GPIOSequence() {
				got = append(got, s.Value)
				Expect(s.Wait).To(BeNumerically(">", 0))
			}
			Expect(got).To(Equal(want))
		},
		Entry("Cicada on GPIO0", uint16(0x0001), []uint16{0x83}),
		Entry("Cicada on GPIO1", uint16(0x0081), []uint16{0x8c}),
		Entry("Agere", uint16(0x0002), []uint16{0x8c, 0x3c, 0x1c, 0x3c}),
		Entry("RTL8211BN on GPIO0", uint16(0x000d), []uint16{0x03, 0x33, 0x13, 0x33}),
		Entry("Marvell on GPIO1, LED mode 0", uint16(0x0080), []uint16{0x8c, 0x3c, 0x1c, 0x3c}),
		Entry("unknown mode: Linux's sequence", uint16(0x0033), []uint16{0x8c, 0x3c, 0x1c, 0x3c}),
	)
})
