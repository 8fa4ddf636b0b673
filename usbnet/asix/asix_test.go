package asix_test

import (
	"bytes"
	"errors"
	"net"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"dongle/hw"
	"dongle/hw/sim/ax88772"
	"dongle/usbnet"
	"dongle/usbnet/asix"
)

var _ = Describe("Bind", func() {
	It("reads the MAC from the EEPROM and programs the chip in the kernel's order", func() {
		mac := net.HardwareAddr{0x02, 0x11, 0x22, 0x33, 0x44, 0x55}
		r := newRig(ax88772.Options{MAC: mac})
		Expect(r.dev.Net.HardwareAddr()).To(Equal(mac))
		Expect(r.dev.RxURBSize).To(Equal(2048))

		regs := r.model.Registers()
		Expect(regs.IPG).To(Equal([3]byte{0x15, 0x0c, 0x12}))
		Expect(regs.NodeID).To(Equal(mac))
		Expect(regs.PHYSelect).To(Equal(uint16(0x11))) // SSEN | PSEL (embedded PHY)
		Expect(regs.SWReset).To(Equal(uint16(0x20)))   // IPRL: PHY running
		Expect(regs.SWMII).To(BeFalse(), "the MDIO bus is handed back")
		Expect(r.model.Stalled()).To(BeEmpty())

		// ax88772_bind → ax88772a_hw_reset request order (bRequest codes).
		var codes []uint8
		for _, q := range r.model.Requests() {
			codes = append(codes, q.Setup.Request)
		}
		Expect(len(codes)).To(BeNumerically(">", 20))
		Expect(codes[:20]).To(Equal([]uint8{
			0x0b, 0x0b, 0x0b, // MAC from EEPROM words 4..6
			0x19,                   // READ_PHY_ID
			0x09,                   // STATMNGSTS chip code
			0x1f,                   // GPIO RSE
			0x22,                   // PHY select
			0x20, 0x20, 0x20, 0x20, // SW_RESET IPPD|IPRL, IPRL, CLEAR, IPRL
			0x2a,                   // AX88772B queue control
			0x12, 0x14, 0x10, 0x1b, // IPG, NODE_ID, RX_CTL, medium
			0x0f, 0x1a, // read back RX_CTL, medium
			0x06, 0x09, // MII: SET_SW_MII, HostEn poll (PHYSID1 follows)
		}))
		words := []uint16{}
		for _, q := range r.model.Requests()[:3] {
			words = append(words, q.Setup.Value)
		}
		Expect(words).To(Equal([]uint16{4, 5, 6}))
	})

	It("waits for HostEn on the MII arbiter", func() {
		r := newRig(ax88772.Options{HostEnDelay: 5})
		Expect(r.dev).NotTo(BeNil())
		Expect(r.model.PHY(4)).To(Equal(uint16(asix.ADVAll | asix.ADVCSMA | asix.ADVPauseCap)))
	})

	It("fails cleanly when the MII arbiter never grants the bus", func() {
		hwdev, _ := ax88772.NewDevice(ax88772.Options{HostEnDelay: -1})
		DeferCleanup(hwdev.Close)
		_, err := usbnet.Probe(hwdev, fast)
		Expect(errors.Is(err, asix.ErrMIIBusy)).To(BeTrue(), "%v", err)
	})

	It("CVE-2025-71094: rejects a PHY address of 32 or more", func() {
		hwdev, m := ax88772.NewDevice(ax88772.Options{PHYAddr: 0x20})
		DeferCleanup(hwdev.Close)
		_, err := usbnet.Probe(hwdev, fast)
		var pe *asix.PHYAddrError
		Expect(errors.As(err, &pe)).To(BeTrue(), "%v", err)
		Expect(pe.Addr).To(Equal(uint8(0x20)))
		Expect(errors.Is(err, hw.ErrInvalid)).To(BeTrue())
		for _, q := range m.Requests() {
			Expect(q.Setup.Request).NotTo(Equal(uint8(0x07)), "no MII access with a bogus PHY address")
		}
	})

	It("CVE-2021-47101 / CVE-2022-49226: a short control read is an error, not garbage", func() {
		for _, c := range []struct {
			req  uint8
			n    int
			what string
		}{{0x0b, 1, "EEPROM"}, {0x19, 1, "PHY address"}, {0x09, 0, "chip code"}} {
			hwdev, m := ax88772.NewDevice(ax88772.Options{})
			m.ShortReply(c.req, c.n)
			_, err := usbnet.Probe(hwdev, fast)
			Expect(errors.Is(err, hw.ErrShort)).To(BeTrue(), "%v", err)
			Expect(err.Error()).To(ContainSubstring(c.what))
			Expect(hwdev.Close()).To(Succeed())
		}
		// The engine's own short-read fault, on a bound device.
		r := newRig(ax88772.Options{})
		r.hw.ShortControl(1)
		_, err := asix.ReadRegisters(r.dev)
		Expect(errors.Is(err, hw.ErrShort)).To(BeTrue(), "%v", err)
	})

	It("fails when the device is unplugged during bind", func() {
		hwdev, _ := ax88772.NewDevice(ax88772.Options{})
		DeferCleanup(hwdev.Close)
		hwdev.Unplug()
		_, err := usbnet.Probe(hwdev, fast)
		Expect(errors.Is(err, hw.ErrNoDevice)).To(BeTrue(), "%v", err)
	})
})

var _ = Describe("Link", func() {
	DescribeTable("writes the medium mode for the negotiated link",
		func(p ax88772.Link, mbps int, medium uint16) {
			r := newRig(ax88772.Options{Partner: p})
			r.open()
			Eventually(func() uint16 { return r.model.Registers().Medium }).Should(Equal(medium))
			Expect(r.dev.Net.Speed()).To(Equal(mbps))
		},
		Entry("100/full with pause", ax88772.Link{Mbps: 100, FullDuplex: true, Pause: true}, 100, uint16(0x0336)),
		Entry("100/full", ax88772.Link{Mbps: 100, FullDuplex: true}, 100, uint16(0x0306)),
		Entry("100/half", ax88772.Link{Mbps: 100}, 100, uint16(0x0304)),
		Entry("10/full with pause", ax88772.Link{Mbps: 10, FullDuplex: true, Pause: true}, 10, uint16(0x0136)),
		Entry("10/half", ax88772.Link{Mbps: 10}, 10, uint16(0x0104)),
	)

	It("follows the link interrupt: down, then up at a new speed", func() {
		r := newRig(ax88772.Options{})
		r.open()
		r.model.SetCable(false)
		Eventually(r.dev.Net.Carrier).Should(BeFalse())
		r.model.SetPartner(ax88772.Link{Mbps: 10, FullDuplex: false})
		r.model.SetCable(true)
		Eventually(r.dev.Net.Carrier).Should(BeTrue())
		Eventually(func() uint16 { return r.model.Registers().Medium }).Should(Equal(uint16(0x0104)))
		Eventually(r.dev.Net.Speed).Should(Equal(10))
	})

	It("rejects a short interrupt packet", func() {
		r := newRig(ax88772.Options{})
		err := fast.Status(r.dev, []byte{0xa1, 0, 1})
		Expect(errors.Is(err, asix.ErrStatus)).To(BeTrue())
	})
})

var _ = Describe("Frames", func() {
	var r *rig
	BeforeEach(func() {
		r = newRig(ax88772.Options{})
		r.loopback()
		r.open()
	})

	roundTrip := func(n int) {
		GinkgoHelper()
		r.clearRx()
		f := ethFrame(n, r.dev.Net.HardwareAddr(), []byte{2, 0, 0, 0, 0, 1}, byte(n))
		r.xmit(f)
		got := r.waitRx(1)
		Expect(got).To(HaveLen(1))
		Expect(bytes.Equal(got[0], f)).To(BeTrue(), "frame of %d bytes changed", n)
	}

	DescribeTable("round-trip through the chip", roundTrip,
		Entry("minimum 60", 60), Entry("odd 61", 61),
		Entry("507 (header+frame 511)", 507), Entry("508 (header+frame 512: pad)", 508), Entry("509", 509),
		Entry("1019", 1019), Entry("1020 (1024: pad)", 1020), Entry("1021", 1021),
		Entry("1513", 1513), Entry("maximum 1514", 1514),
	)

	It("round-trips every size from 60 to 1514", func() {
		for n := 60; n <= 1514; n++ {
			roundTrip(n)
		}
		tx := r.model.TxStats()
		Expect(tx.BadHeader + tx.Truncated + tx.MissingPad + tx.NeedlessPad).To(BeZero())
		Expect(tx.Pads).To(Equal(2)) // 508 and 1020 at 512-byte packets
	})
})

var _ = Describe("TX padding", func() {
	DescribeTable("appends 00 00 ff ff exactly when the transfer would end on a packet boundary",
		func(full bool, sizes []int, pads int) {
			r := newRig(ax88772.Options{FullSpeed: full})
			r.open()
			Expect(r.dev.MaxPacket()).To(Equal(map[bool]int{true: 64, false: 512}[full]))
			for _, n := range sizes {
				r.xmit(ethFrame(n, []byte{2, 9, 9, 9, 9, 9}, r.dev.Net.HardwareAddr(), 1))
			}
			Eventually(r.cap.Len).Should(Equal(len(sizes)))
			tx := r.model.TxStats()
			Expect(tx.Pads).To(Equal(pads))
			Expect(tx.MissingPad).To(BeZero())
			Expect(tx.NeedlessPad).To(BeZero())
			for i, f := range r.cap.Frames() {
				Expect(f).To(HaveLen(sizes[i]))
			}
		},
		Entry("full speed, 64-byte packets", true, []int{60, 61, 124, 125, 188, 508, 1020, 1500}, 5),
		Entry("high speed, 512-byte packets", false, []int{60, 124, 188, 507, 508, 509, 1020}, 2),
	)
})

var _ = Describe("RX framing across transfers", func() {
	DescribeTable("a header split at each offset of the next transfer",
		func(k int) {
			r := newRig(ax88772.Options{})
			r.open()
			mac := r.dev.Net.HardwareAddr()
			f1 := ethFrame(101, mac, []byte{2, 1, 1, 1, 1, 1}, 1) // odd: one pad byte
			f2 := ethFrame(300, mac, []byte{2, 1, 1, 1, 1, 1}, 2)
			f3 := ethFrame(64, mac, []byte{2, 1, 1, 1, 1, 1}, 3)
			r.model.SetRxChunk(4 + 102 + k) // cut k bytes into f2's header
			r.model.Inject(f1, f2, f3)
			got := r.waitRx(3)
			Expect(got).To(Equal([][]byte{f1, f2, f3}))
			Expect(r.model.RxStats().Writes).To(BeNumerically(">=", 3))
			Expect(r.dev.Net.Stats().RxFrameErrors.Load()).To(BeZero())
		},
		Entry("offset 0 (header starts the transfer)", 0), Entry("offset 1", 1),
		Entry("offset 2", 2), Entry("offset 3", 3),
	)

	It("packs frames into 2 KiB transfers and splits frames between them", func() {
		r := newRig(ax88772.Options{})
		r.open()
		mac := r.dev.Net.HardwareAddr()
		var fs [][]byte
		for i := 0; i < 20; i++ {
			fs = append(fs, ethFrame(60+i*71, mac, []byte{2, 1, 1, 1, 1, 1}, byte(i)))
		}
		r.model.Inject(fs...)
		Expect(r.waitRx(20)).To(Equal(fs))
	})

	It("counts a corrupted header as a frame error and resynchronises", func() {
		r := newRig(ax88772.Options{})
		r.open()
		mac := r.dev.Net.HardwareAddr()
		bad := ethFrame(200, mac, []byte{2, 1, 1, 1, 1, 1}, 1)
		r.model.CorruptNextRxHeader(1)
		r.model.Inject(bad)
		Eventually(r.dev.Net.Stats().RxFrameErrors.Load).Should(Equal(uint64(1)))
		good := ethFrame(300, mac, []byte{2, 1, 1, 1, 1, 1}, 2)
		r.model.Inject(good)
		Expect(r.waitRx(1)).To(Equal([][]byte{good}))
		Expect(r.dev.Net.Stats().RxErrors.Load()).To(Equal(uint64(1)))
	})

	It("counts an oversize length as a length error", func() {
		r := newRig(ax88772.Options{})
		r.open()
		h := uint32(1600) | uint32(^1600&0xffff)<<16
		r.model.InjectRaw(append([]byte{byte(h), byte(h >> 8), byte(h >> 16), byte(h >> 24)}, make([]byte, 100)...))
		Eventually(r.dev.Net.Stats().RxLengthErrors.Load).Should(Equal(uint64(1)))
	})
})

var _ = Describe("Receive filter", func() {
	var (
		r      *rig
		mac    net.HardwareAddr
		src    = []byte{2, 7, 7, 7, 7, 7}
		group  = net.HardwareAddr{0x01, 0x00, 0x5e, 0x00, 0x00, 0xfb}
		other  = net.HardwareAddr{0x01, 0x00, 0x5e, 0x11, 0x22, 0x33}
		bcast  = net.HardwareAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
		stray  = net.HardwareAddr{0x02, 0xaa, 0xbb, 0xcc, 0xdd, 0xee}
		expect = func(accepted ...net.HardwareAddr) {
			GinkgoHelper()
			r.clearRx()
			dsts := []net.HardwareAddr{mac, bcast, group, other, stray}
			var fs [][]byte
			for i, d := range dsts {
				fs = append(fs, ethFrame(80, d, src, byte(i)))
			}
			r.model.Inject(fs...)
			got := r.waitRx(len(accepted))
			Consistently(func() int { return len(r.received()) }).WithTimeout(50 * time.Millisecond).Should(Equal(len(accepted)))
			var dstGot []net.HardwareAddr
			for _, f := range got {
				dstGot = append(dstGot, net.HardwareAddr(f[:6]))
			}
			Expect(dstGot).To(Equal(accepted))
		}
	)
	BeforeEach(func() {
		r = newRig(ax88772.Options{})
		r.open()
		mac = r.dev.Net.HardwareAddr()
		Expect(asix.HashIndex(group)).NotTo(Equal(asix.HashIndex(other)))
	})

	It("directed and broadcast by default", func() {
		Expect(r.model.Registers().RxCtl).To(Equal(uint16(ax88772.RxCtlSO | ax88772.RxCtlAB)))
		expect(mac, bcast)
	})
	It("promiscuous", func() {
		r.dev.Net.SetPromisc(1)
		Expect(r.model.Registers().RxCtl).To(Equal(uint16(ax88772.RxCtlSO | ax88772.RxCtlAB | ax88772.RxCtlPRO)))
		expect(mac, bcast, group, other, stray)
	})
	It("all-multicast", func() {
		r.dev.Net.SetAllMulti(1)
		Expect(r.model.Registers().RxCtl).To(Equal(uint16(ax88772.RxCtlSO | ax88772.RxCtlAB | ax88772.RxCtlAMALL)))
		expect(mac, bcast, group, other)
	})
	It("the multicast hash: only subscribed groups", func() {
		Expect(r.dev.Net.AddMulticast(group)).To(Succeed())
		regs := r.model.Registers()
		Expect(regs.RxCtl).To(Equal(uint16(ax88772.RxCtlSO | ax88772.RxCtlAB | ax88772.RxCtlAM)))
		bit := ax88772.HashBit(group) // the model's own bit-serial CRC
		var want [8]byte
		want[bit>>3] = 1 << (bit & 7)
		Expect(regs.Multicast).To(Equal(want))
		expect(mac, bcast, group)
	})
	It("more than 64 groups: all-multicast", func() {
		for i := 0; i < 65; i++ {
			Expect(r.dev.Net.AddMulticast(net.HardwareAddr{0x01, 0x00, 0x5e, 0x01, 0x00, byte(i)})).To(Succeed())
		}
		Expect(r.model.Registers().RxCtl & ax88772.RxCtlAMALL).NotTo(BeZero())
	})
})

var _ = Describe("Faults", func() {
	It("recovers from a bulk IN stall with nothing leaked", func() {
		r := newRig(ax88772.Options{})
		r.loopback()
		r.open()
		r.hw.Stall(ax88772.EPBulkIn)
		mac := r.dev.Net.HardwareAddr()
		f := ethFrame(100, mac, []byte{2, 3, 3, 3, 3, 3}, 1)
		Eventually(func() int {
			r.xmit(f)
			time.Sleep(5 * time.Millisecond)
			return len(r.received())
		}).WithTimeout(3 * time.Second).Should(BeNumerically(">", 0))
		Expect(r.dev.Counters().RxHaltsCleared.Load()).To(BeNumerically(">=", 1))
	})

	It("survives an unplug while running and frees its partial frame", func() {
		r := newRig(ax88772.Options{})
		r.open()
		mac := r.dev.Net.HardwareAddr()
		// Leave half a frame in the deframer.
		f := ethFrame(1000, mac, []byte{2, 3, 3, 3, 3, 3}, 1)
		r.model.SetRxChunk(500)
		r.model.Inject(f)
		Eventually(func() bool { return asix.RxStatsOf(r.dev) != nil }).Should(BeTrue())
		r.hw.Unplug()
		Eventually(r.dev.Gone()).Should(BeClosed())
	})

	It("times out a control request during link reset and still comes up later", func() {
		r := newRig(ax88772.Options{})
		r.open()
		r.hw.TimeoutNext(0, 1)
		err := fast.LinkReset(r.dev)
		Expect(errors.Is(err, hw.ErrTimeout)).To(BeTrue(), "%v", err)
		Expect(fast.LinkReset(r.dev)).To(Succeed())
	})
})

var _ = Describe("Diagnostics", func() {
	It("reads the registers, the PHY and the EEPROM", func() {
		mac := net.HardwareAddr{0x02, 0xde, 0xad, 0x00, 0xbe, 0xef}
		r := newRig(ax88772.Options{MAC: mac})
		r.open()
		regs, err := asix.ReadRegisters(r.dev)
		Expect(err).NotTo(HaveOccurred())
		Expect(regs.NodeID).To(Equal(mac))
		Expect(regs.IPG).To(Equal([3]byte{0x15, 0x0c, 0x12}))
		Expect(regs.ChipCode).To(Equal(asix.ChipCode772B))
		Expect(regs.RxCtlFlags).To(Equal([]string{"AB", "SO"}))
		Expect(regs.RxBufferBytes).To(Equal(2048))
		Expect(regs.PHYAddr[1]).To(Equal(asix.EmbeddedPHY))

		phy, err := asix.ReadPHY(r.dev)
		Expect(err).NotTo(HaveOccurred())
		Expect(phy.Addr).To(Equal(uint8(0x10)))
		Expect(phy.BMSR.Link).To(BeTrue())
		Expect(phy.Link).To(Equal(asix.LinkMode{Up: true, Mbps: 100, FullDuplex: true, RxPause: true, TxPause: true}))
		Expect(phy.Partner).To(ContainElement("100baseTX/Full"))
		Expect(phy.Adv).NotTo(ContainElement(HavePrefix("1000")), "a 10/100 PHY advertises no gigabit mode")
		Expect(phy.ID).To(Equal(uint32(r.model.PHY(2))<<16 | uint32(r.model.PHY(3))))

		ee, err := asix.ReadEEPROM(r.dev, 16)
		Expect(err).NotTo(HaveOccurred())
		Expect(ee.MAC).To(Equal(mac))
		Expect(ee.Magic).To(Equal(asix.EEPROMMagic))
		ee.Magic = 0
		Expect(errors.Is(ee.Check(), asix.ErrEEPROM)).To(BeTrue())
	})
})
