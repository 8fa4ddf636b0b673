package ax88179_test

import (
	"bytes"
	"encoding/binary"
	"math/bits"
	"net"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"dongle/hw"
	"dongle/hw/sim"
	simax "dongle/hw/sim/ax88179"
	"dongle/usbnet/ax88179"
)

var _ = Describe("Bind", func() {
	It("resets the chip in Linux's order and takes the MAC from NODE_ID", func() {
		r := newRig(simax.Config{})
		Expect(r.dev.Net.HardwareAddr()).To(Equal(simax.DefaultMAC))
		Expect(r.dev.In.Address).To(Equal(uint8(0x82)))
		Expect(r.dev.Out.Address).To(Equal(uint8(0x03)))
		Expect(r.dev.Status.Address).To(Equal(uint8(0x81)))
		reqs := r.model.Requests()
		var macWrites []uint16
		for _, q := range reqs {
			Expect(q.Err).NotTo(HaveOccurred(), "request %v", q)
			if !q.Setup.In() && q.Setup.Request == 0x01 {
				macWrites = append(macWrites, q.Setup.Value)
			}
		}
		// ax88179_reset: PHYPWR, PHYPWR, CLK, NODE_ID, BULKIN, pause low/high,
		// RXCOE, TXCOE, RX_CTL, MONITOR, MEDIUM, then the LED setting.
		Expect(macWrites[:12]).To(Equal([]uint16{0x26, 0x26, 0x33, 0x10, 0x2e, 0x55, 0x54, 0x34, 0x35, 0x0b, 0x24, 0x22}))
		Expect(r.model.Writes(0x26)[1]).To(Equal([]byte{0x20, 0x00}))
		Expect(r.model.Writes(0x0b)[0]).To(Equal([]byte{0xaa, 0x03})) // DROPCRCERR|IPE|START|AP|AMALL|AB
		Expect(r.model.Writes(0x2e)[0]).To(Equal([]byte{7, 0x4f, 0, 0x12, 0xff}))
		Expect(r.model.Reg(0x10, 6)).To(Equal([]byte(simax.DefaultMAC)))
	})

	It("turns a short control read into a named error, never garbage", func() {
		r := newRig(simax.Config{})
		r.hw.ShortControl(0)
		_, err := ax88179.ReadLink(r.dev)
		Expect(err).To(MatchError(hw.ErrShort))
		Expect(err.Error()).To(ContainSubstring("read MAC register 0x02"))
		_, err = ax88179.ReadLink(r.dev)
		Expect(err).NotTo(HaveOccurred())
	})
})

var _ = Describe("Link", func() {
	DescribeTable("programs aggregation for USB and link speed",
		func(usb hw.Speed, mbps int, want []byte, urb int) {
			// ManualFlush: the frame below waits in the aggregation buffer
			// until Flush; with the timer it may leave before Pending is
			// polled (a loaded machine missed it).
			r := newRig(simax.Config{Speed: usb, LinkMbps: mbps, ManualFlush: true})
			r.open()
			Expect(r.dev.Net.Speed()).To(Equal(mbps))
			w := r.model.Writes(0x2e)
			Expect(w[len(w)-1]).To(Equal(want))
			Expect(r.dev.RxURBSize).To(Equal(urb))
			Expect(r.dev.RxURBSize).To(Equal(1024 * (int(want[3]) + 2)))
			med := r.model.Reg16(0x22)
			Expect(med&0x1 != 0).To(Equal(mbps == 1000), "GIGA bit")
			Expect(med&0x200 != 0).To(Equal(mbps == 100), "PS bit")
			Expect(med&0x2).NotTo(BeZero(), "full duplex")
			info, err := ax88179.ReadLinkInfo(r.dev)
			Expect(err).NotTo(HaveOccurred())
			Expect(info.Mbps).To(Equal(mbps))
			Expect(info.RxPause && info.TxPause).To(BeTrue())
			// Traffic flows at this speed.
			f := ethFrame(200, r.mac(), peer, 3)
			r.send(f)
			Eventually(r.model.Pending).Should(Equal(1))
			r.model.Flush()
			Expect(r.waitRx(1)[0].data).To(Equal(f))
		},
		Entry("high speed, 1000", hw.SpeedHigh, 1000, []byte{7, 0x20, 3, 0x16, 0xff}, 24*1024),
		Entry("high speed, 100", hw.SpeedHigh, 100, []byte{7, 0xae, 7, 0x18, 0xff}, 26*1024),
		Entry("high speed, 10", hw.SpeedHigh, 10, []byte{7, 0xcc, 0x4c, 0x18, 8}, 26*1024),
		Entry("SuperSpeed, 1000", hw.SpeedSuper, 1000, []byte{7, 0x4f, 0, 0x12, 0xff}, 20*1024),
		Entry("full speed, 1000", hw.SpeedFull, 1000, []byte{7, 0xcc, 0x4c, 0x18, 8}, 26*1024),
	)

	It("follows the cable: down, then up at another speed", func() {
		r := newRig(simax.Config{ManualFlush: true})
		r.open()
		Expect(r.dev.Net.Speed()).To(Equal(1000))
		r.model.UnplugCable()
		Eventually(r.dev.Net.Carrier).Should(BeFalse())
		r.model.PlugCable(100, true)
		Eventually(r.dev.Net.Carrier).Should(BeTrue())
		Eventually(r.dev.Net.Speed).Should(Equal(100))
		Eventually(func() []byte { w := r.model.Writes(0x2e); return w[len(w)-1] }).Should(Equal([]byte{7, 0xae, 7, 0x18, 0xff}))
	})
})

var _ = Describe("Frames", func() {
	DescribeTable("round-trip through the chip and a loopback plug",
		func(n int, usb hw.Speed) {
			r := newRig(simax.Config{Speed: usb})
			if n > 1514 {
				Expect(r.dev.Net.SetMTU(n - 14)).To(Succeed())
			}
			sim.NewLoopback(r.wire.B())
			r.open()
			if n > 1514 {
				Expect(r.model.Reg16(0x22) & 0x8040).To(Equal(uint16(0x8040)))
			}
			f := ethFrame(n, r.mac(), peer, byte(n))
			r.xmit(f)
			got := r.waitRx(1)
			Expect(got[0].data).To(Equal(f))
			st := r.model.Stats()
			Expect(st.TxErrors()).To(BeZero())
			Expect(st.TxFrames).To(Equal(uint64(1)))
		},
		Entry("60", 60, hw.SpeedHigh), Entry("61", 61, hw.SpeedHigh), Entry("64", 64, hw.SpeedHigh),
		Entry("503", 503, hw.SpeedHigh), Entry("504 (fills 512)", 504, hw.SpeedHigh), Entry("1000", 1000, hw.SpeedHigh),
		Entry("1514", 1514, hw.SpeedHigh), Entry("1514 full speed", 1514, hw.SpeedFull),
		Entry("1514 SuperSpeed", 1514, hw.SpeedSuper), Entry("jumbo 4000", 4000, hw.SpeedHigh),
		Entry("jumbo 4102 (MTU 4088)", 4102, hw.SpeedSuper),
	)

	It("drops jumbo frames while the MTU (and so MEDIUM.JUMBO) is standard", func() {
		r := newRig(simax.Config{})
		r.open()
		r.send(ethFrame(3000, r.mac(), peer, 1))
		Expect(r.model.Stats().RxTooLong).To(Equal(uint64(1)))
	})

	DescribeTable("sets the padding flag when header+frame fills whole packets",
		func(usb hw.Speed, n int) {
			r := newRig(simax.Config{Speed: usb})
			r.open()
			mps := r.dev.MaxPacket()
			Expect((n + 8) % mps).To(BeZero())
			f := ethFrame(n, peer, r.mac(), 9)
			r.xmit(f)
			Eventually(r.cap.Len).Should(Equal(1))
			Expect(r.cap.Frames()[0]).To(Equal(f))
			st := r.model.Stats()
			Expect(st.TxMissingPad + st.TxNoPadBytes + st.TxSpuriousPad).To(BeZero())
			// and one byte less needs no padding
			r.xmit(f[:n-1])
			Eventually(r.cap.Len).Should(Equal(2))
			Expect(r.model.Stats().TxErrors()).To(BeZero())
		},
		Entry("64 (full speed)", hw.SpeedFull, 120),
		Entry("512 (high speed)", hw.SpeedHigh, 1016),
		Entry("1024 (SuperSpeed)", hw.SpeedSuper, 1016),
	)

	It("has the model catch a missing padding flag and a bad header", func() {
		r := newRig(simax.Config{})
		r.open()
		bad := make([]byte, 512)
		binary.LittleEndian.PutUint32(bad, 504) // no padding flag in word 1
		r.model.Out(0x03, bad)
		Expect(r.model.Stats().TxMissingPad).To(Equal(uint64(1)))
		r.model.Out(0x03, []byte{1, 2, 3})
		Expect(r.model.Stats().TxBadHeader).To(Equal(uint64(1)))
		hdr := make([]byte, 20)
		binary.LittleEndian.PutUint32(hdr, 100)
		r.model.Out(0x03, hdr)
		Expect(r.model.Stats().TxTruncated).To(Equal(uint64(1)))
	})
})

var _ = Describe("Aggregation", func() {
	// High speed gigabit: BULKIN size 0x16 = 22 KiB. A transfer of N frames
	// is sum(pad+len, 8-aligned) + 8N + 8 bytes.
	It("sends a transfer exactly when frames fill the aggregation size", func() {
		r := newRig(simax.Config{ManualFlush: true})
		r.open()
		var sent [][]byte
		for i := 0; i < 14; i++ {
			f := ethFrame(1514, r.mac(), peer, byte(i))
			sent = append(sent, f)
			r.send(f)
		}
		Expect(r.model.Pending()).To(Equal(14))
		last := ethFrame(1118, r.mac(), peer, 99) // 14*1528 + 1120+8 + 8 = 22528
		sent = append(sent, last)
		r.send(last)
		Expect(r.model.Pending()).To(BeZero())
		Expect(r.model.Stats().RxTransfers).To(Equal(uint64(1)))
		got := r.waitRx(15)
		for i := range sent {
			Expect(got[i].data).To(Equal(sent[i]))
		}
		Expect(r.dev.Net.Stats().RxErrors.Load()).To(BeZero())
	})

	It("holds a transfer one padding unit short of the size until the timer (Flush)", func() {
		r := newRig(simax.Config{ManualFlush: true})
		r.open()
		for i := 0; i < 14; i++ {
			r.send(ethFrame(1514, r.mac(), peer, byte(i)))
		}
		r.send(ethFrame(1110, r.mac(), peer, 98)) // 8 bytes short
		Expect(r.model.Pending()).To(Equal(15))
		r.model.Flush()
		Expect(r.waitRx(15)).To(HaveLen(15))
	})

	It("flushes by the real timer", func() {
		r := newRig(simax.Config{TimerUnit: time.Microsecond})
		r.open()
		f := ethFrame(100, r.mac(), peer, 5)
		r.send(f)
		Expect(r.waitRx(1)[0].data).To(Equal(f))
	})
})

var _ = Describe("Filters", func() {
	mc1 := net.HardwareAddr{0x01, 0x00, 0x5e, 0x00, 0x00, 0x01}
	mc2 := net.HardwareAddr{0x33, 0x33, 0x00, 0x00, 0x00, 0x02}
	other := []byte{0x02, 0x11, 0x22, 0x33, 0x44, 0x55}
	DescribeTable("accept exactly what RX_CTL allows",
		func(setup func(r *rig), dst func(r *rig) []byte, accepted bool, rxctlBits uint16) {
			r := newRig(simax.Config{ManualFlush: true})
			r.open()
			setup(r)
			Expect(r.model.Reg16(0x0b) & rxctlBits).To(Equal(rxctlBits))
			r.send(ethFrame(80, dst(r), peer, 1))
			marker := ethFrame(90, r.mac(), peer, 2) // always passes, and comes last
			r.send(marker)
			r.model.Flush()
			// Wait for the marker, not for a count: an accepted frame
			// and the marker are delivered one after the other, and a
			// count of one can be read between them.
			Eventually(func() bool {
				rs := r.received()
				return len(rs) > 0 && bytes.Equal(rs[len(rs)-1].data, marker)
			}).WithTimeout(3*time.Second).WithPolling(time.Millisecond).Should(BeTrue(), "the marker arrived")
			got := r.received()
			Consistently(func() int { return len(r.received()) }).WithTimeout(50 * time.Millisecond).Should(Equal(len(got)))
			if accepted {
				Expect(got).To(HaveLen(2))
				Expect(got[0].data[:6]).To(Equal(dst(r)))
			} else {
				Expect(got).To(HaveLen(1))
				Expect(r.model.Stats().RxFiltered).To(Equal(uint64(1)))
			}
		},
		Entry("unicast to us", func(*rig) {}, func(r *rig) []byte { return r.mac() }, true, uint16(0x0288)),
		Entry("unicast to another station", func(*rig) {}, func(*rig) []byte { return other }, false, uint16(0)),
		Entry("promiscuous: another station", func(r *rig) { r.dev.Net.SetPromisc(1) }, func(*rig) []byte { return other }, true, uint16(0x01)),
		Entry("broadcast", func(*rig) {}, func(*rig) []byte { return []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff} }, true, uint16(0x08)),
		Entry("joined multicast (hash)", func(r *rig) { Expect(r.dev.Net.AddMulticast(mc1)).To(Succeed()) }, func(*rig) []byte { return mc1 }, true, uint16(0x10)),
		Entry("multicast not joined", func(r *rig) { Expect(r.dev.Net.AddMulticast(mc1)).To(Succeed()) }, func(*rig) []byte { return mc2 }, false, uint16(0x10)),
		Entry("all-multicast", func(r *rig) { r.dev.Net.SetAllMulti(1) }, func(*rig) []byte { return mc2 }, true, uint16(0x02)),
		Entry("more than 64 groups: AMALL", func(r *rig) {
			for i := 0; i < 65; i++ {
				Expect(r.dev.Net.AddMulticast(net.HardwareAddr{0x01, 0x00, 0x5e, 0x01, 0x00, byte(i)})).To(Succeed())
			}
		}, func(*rig) []byte { return mc2 }, true, uint16(0x02)),
	)

	It("writes the hash Linux's ether_crc gives", func() {
		r := newRig(simax.Config{})
		r.open()
		Expect(r.dev.Net.AddMulticast(mc1)).To(Succeed())
		w := r.model.Writes(0x16)
		// Linux: ether_crc = bitrev32(crc32_le(~0, a)), bit = ether_crc >> 26;
		// crc32_le computed bit by bit here, independently of hash/crc32.
		crc := ^uint32(0)
		for _, b := range mc1 {
			for i := 0; i < 8; i++ {
				if (crc^uint32(b>>i))&1 != 0 {
					crc = crc>>1 ^ 0xedb88320
				} else {
					crc >>= 1
				}
			}
		}
		bit := bits.Reverse32(crc) >> 26
		want := make([]byte, 8)
		want[bit/8] = 1 << (bit % 8)
		Expect(w[len(w)-1]).To(Equal(want))
	})
})

var _ = Describe("CVE-2022-48805 bounds", func() {
	DescribeTable("a lying transfer is rejected and counted, and the next one is fine",
		func(c simax.Corruption) {
			r := newRig(simax.Config{ManualFlush: true})
			r.open()
			st := r.dev.Net.Stats()
			r.model.CorruptNext(c)
			r.send(ethFrame(100, r.mac(), peer, 1))
			r.model.Flush()
			Eventually(st.RxLengthErrors.Load).Should(Equal(uint64(1)))
			Expect(st.RxErrors.Load()).To(Equal(uint64(1)))
			Eventually(r.dev.Counters().RxFixupErrors.Load).Should(Equal(uint64(1)))
			good := ethFrame(200, r.mac(), peer, 2)
			r.send(good)
			r.model.Flush()
			got := r.waitRx(1)
			Expect(got[len(got)-1].data).To(Equal(good))
		},
		Entry("buffer shorter than 4 bytes", simax.CorruptShort),
		Entry("pkt_cnt == 0", simax.CorruptNoPackets),
		Entry("hdr_off into the trailer", simax.CorruptHdrOffInTrailer),
		Entry("header array past the trailer", simax.CorruptHdrArrayPastEnd),
		Entry("packet overlapping the header array", simax.CorruptPacketOverlapsHdr),
		Entry("packet past the end", simax.CorruptPacketPastEnd),
	)

	It("counts CRC errors per packet and keeps the rest of the transfer", func() {
		r := newRig(simax.Config{ManualFlush: true})
		r.open()
		Expect(ax88179.WriteMAC16(r.dev, 0x0b, 0x02ab&^0x100)).To(Succeed()) // keep CRC errors
		r.model.InjectCRCErrors(1)
		r.send(ethFrame(100, r.mac(), peer, 1))
		ok := ethFrame(120, r.mac(), peer, 2)
		r.send(ok)
		r.model.Flush()
		Expect(r.waitRx(1)[0].data).To(Equal(ok))
		Expect(r.dev.Net.Stats().RxCRCErrors.Load()).To(Equal(uint64(1)))
	})
})

var _ = Describe("Checksum offload", func() {
	DescribeTable("CsumVerified follows the chip's L3/L4 verdict",
		func(mk func(r *rig) []byte, want bool) {
			r := newRig(simax.Config{ManualFlush: true})
			r.open()
			f := mk(r)
			r.send(f)
			r.model.Flush()
			got := r.waitRx(1)
			Expect(got[0].data).To(Equal(f))
			Expect(got[0].csum).To(Equal(want))
		},
		Entry("UDP, good checksum", func(r *rig) []byte { return udpFrame(r.mac(), 300, false) }, true),
		Entry("UDP, bad checksum", func(r *rig) []byte { return udpFrame(r.mac(), 300, true) }, false),
		Entry("UDP, short (copied) frame", func(r *rig) []byte { return udpFrame(r.mac(), 20, false) }, true),
		Entry("not IP", func(r *rig) []byte { return ethFrame(300, r.mac(), peer, 1) }, false),
	)
})

var _ = Describe("Faults", func() {
	It("recovers from a bulk IN stall", func() {
		r := newRig(simax.Config{ManualFlush: true})
		r.open()
		r.hw.Stall(0x82)
		Eventually(r.dev.Counters().RxHaltsCleared.Load).WithTimeout(3 * time.Second).Should(BeNumerically(">=", 1))
		f := ethFrame(300, r.mac(), peer, 4)
		r.send(f)
		r.model.Flush()
		Expect(r.waitRx(1)[0].data).To(Equal(f))
	})

	It("survives timeouts on bulk IN", func() {
		r := newRig(simax.Config{ManualFlush: true})
		r.open()
		r.hw.TimeoutNext(0x82, 3)
		f := ethFrame(300, r.mac(), peer, 5)
		Eventually(func() int {
			r.send(f)
			r.model.Flush()
			return len(r.received())
		}).WithTimeout(3 * time.Second).Should(BeNumerically(">=", 1))
		Expect(r.received()[0].data).To(Equal(f))
	})

	It("turns an unplug into Gone with nothing leaked", func() {
		r := newRig(simax.Config{ManualFlush: true})
		r.open()
		r.send(ethFrame(300, r.mac(), peer, 6))
		r.hw.Unplug()
		r.model.Flush()
		Eventually(r.dev.Gone()).WithTimeout(3 * time.Second).Should(BeClosed())
		Expect(r.dev.Net.Carrier()).To(BeFalse())
	})

	It("stalls and logs unknown vendor requests", func() {
		r := newRig(simax.Config{})
		err := r.dev.VendorIn(0x42, 0, 0, make([]byte, 2))
		Expect(err).To(MatchError(hw.ErrStall))
		reqs := r.model.Requests()
		Expect(reqs[len(reqs)-1].Err).To(MatchError(hw.ErrStall))
		Expect(r.model.Stats().Unknown).To(Equal(uint64(1)))
	})
})

var _ = Describe("Diagnostics", func() {
	It("dumps registers, PHY, EEPROM and link", func() {
		r := newRig(simax.Config{LinkMbps: 100})
		r.open()
		regs, err := ax88179.DumpMAC(r.dev)
		Expect(err).NotTo(HaveOccurred())
		Expect(regs).To(HaveLen(len(ax88179.MACRegs)))
		var node []byte
		for _, v := range regs {
			if v.Name == "NODE_ID" {
				node = v.Data
			}
		}
		Expect(node).To(Equal([]byte(simax.DefaultMAC)))
		p, err := ax88179.ReadPHYRegs(r.dev)
		Expect(err).NotTo(HaveOccurred())
		Expect(p.Decode()).To(ContainElement(ContainSubstring("link up, 100 Mbit/s, full duplex")))
		e, err := ax88179.ReadEEPROM(r.dev)
		Expect(err).NotTo(HaveOccurred())
		Expect(e.Valid()).To(BeTrue())
		Expect(e.MagicOK()).To(BeTrue())
		Expect([]byte(e[:6])).To(Equal([]byte(simax.DefaultMAC)))
		Expect(bytes.Equal(e, r.model.EEPROM())).To(BeTrue())
		info, err := ax88179.ReadLinkInfo(r.dev)
		Expect(err).NotTo(HaveOccurred())
		Expect(info.String()).To(ContainSubstring("100 Mbit/s full duplex (USB high)"))
		Expect(info.String()).To(ContainSubstring("flow control rx+tx"))
	})

	It("writes the EEPROM only with the magic", func() {
		r := newRig(simax.Config{})
		Expect(ax88179.WriteEEPROM(r.dev, 0x81, []byte{0xaa}, 0x1234)).To(MatchError(ax88179.ErrBadMagic))
		Expect(ax88179.WriteEEPROM(r.dev, 0x81, []byte{0xaa, 0xbb}, ax88179.EEPROMMagic)).To(Succeed())
		Expect(r.model.EEPROM()[0x81:0x83]).To(Equal([]byte{0xaa, 0xbb}))
		Expect(r.model.EEPROM()[0x80]).To(Equal(byte(0xff)))
	})
})
