package usbnet_test

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"dongle/hw"
	"dongle/hw/sim/ecm"
	"dongle/netdev"
	"dongle/skbuff"
	"dongle/usbnet"
	"dongle/usbnet/cdcecm"
)

var _ = Describe("data path through the ECM model (loopback wire)", func() {
	DescribeTable("frames round-trip intact, with a ZLP after every multiple of wMaxPacketSize",
		func(speed hw.Speed, sizes ...int) {
			r := newRig(rigOpts{ecm: ecm.Options{Speed: speed}})
			mps := r.d.MaxPacket()
			wantZLP := 0
			for i, n := range sizes {
				Expect(r.send(r.frame(n, uint32(i)))).To(Succeed())
				if n%mps == 0 {
					wantZLP++
				}
			}
			r.waitRx(len(sizes))
			got := r.received()
			Expect(got).To(HaveLen(len(sizes)))
			for i, n := range sizes {
				Expect(got[i]).To(Equal(r.frame(n, uint32(i))), "frame %d (%d bytes)", i, n)
			}
			// What the device put on the wire is exactly what was sent.
			Expect(r.wireFrames()).To(HaveLen(len(sizes)))
			c := r.m.Counters()
			Expect(c.ZLPs).To(BeEquivalentTo(wantZLP), "ZLPs the device saw")
			Expect(c.NoZLP).To(BeZero(), "frames glued for want of a ZLP")
			Expect(c.EmptyOut).To(BeZero())
			Expect(r.d.Counters().ZLPs.Load()).To(BeEquivalentTo(wantZLP))
			Expect(r.d.Counters().PadBytes.Load()).To(BeZero())
			s := r.d.Net.Stats()
			// A TX completion may be reaped after the looped-back frame.
			Eventually(s.TxPackets.Load).Should(BeEquivalentTo(len(sizes)))
			Expect(s.RxPackets.Load()).To(BeEquivalentTo(len(sizes)))
			var bytes uint64
			for _, n := range sizes {
				bytes += uint64(n)
			}
			Expect(s.TxBytes.Load()).To(Equal(bytes))
			Expect(s.RxBytes.Load()).To(Equal(bytes))
			Expect(s.TxErrors.Load() + s.RxErrors.Load() + s.TxDropped.Load() + s.RxDropped.Load()).To(BeZero())
		},
		Entry("full speed: 60 and 1514", hw.SpeedFull, 60, 1514),
		Entry("full speed: multiples of 64", hw.SpeedFull, 64, 128, 512, 1024, 1472),
		Entry("full speed: around a packet boundary", hw.SpeedFull, 63, 64, 65, 127, 128, 129),
		Entry("high speed: 60 and 1514", hw.SpeedHigh, 60, 1514),
		Entry("high speed: multiples of 512 and of 64", hw.SpeedHigh, 512, 1024, 64, 640),
		Entry("high speed: around a packet boundary", hw.SpeedHigh, 511, 512, 513, 1023, 1024, 1025),
	)

	It("appends one 0x00 pad byte instead of a ZLP without FlagSendZLP (Linux's default)", func() {
		r := newRig(rigOpts{driver: flagged{flags: usbnet.FlagEthernet | usbnet.FlagLinkIntr}})
		Expect(r.send(r.frame(64, 1))).To(Succeed())
		Expect(r.send(r.frame(60, 2))).To(Succeed())
		r.waitRx(2)
		w := r.wireFrames()
		Expect(w).To(HaveLen(2))
		Expect(w[0]).To(Equal(append(r.frame(64, 1), 0x00)), "65 bytes, the last one the pad")
		Expect(w[1]).To(Equal(r.frame(60, 2)))
		Expect(r.d.Counters().PadBytes.Load()).To(BeEquivalentTo(1))
		Expect(r.d.Counters().ZLPs.Load()).To(BeZero())
		Expect(r.m.Counters().ZLPs).To(BeZero())
		Expect(r.m.Counters().NoZLP).To(BeZero())
		Eventually(r.d.Net.Stats().TxBytes.Load).Should(BeEquivalentTo(124), "tx_bytes counts the frame, not the pad")
	})

	It("adds nothing with FlagTxPadsItself (and the device then glues frames, which is why the rule exists)", func() {
		r := newRig(rigOpts{driver: flagged{flags: usbnet.FlagEthernet | usbnet.FlagLinkIntr | usbnet.FlagTxPadsItself}})
		Expect(r.send(r.frame(64, 1))).To(Succeed())
		Expect(r.send(r.frame(60, 2))).To(Succeed())
		Eventually(func() int { return len(r.wireFrames()) }).Should(Equal(1))
		Expect(r.wireFrames()[0]).To(Equal(append(r.frame(64, 1), r.frame(60, 2)...)))
		Expect(r.m.Counters().NoZLP).To(BeEquivalentTo(1))
		Expect(r.d.Counters().PadBytes.Load() + r.d.Counters().ZLPs.Load()).To(BeZero())
	})

	It("accounts for every frame under a saturated TX queue, losing none (busy/retry)", func() {
		const n = 400
		// One TX slot: taking it stops the queue every time, so the
		// busy/retry path runs for every frame whatever the scheduler does
		// (with two, a stop needed the bottom half to fall behind).
		r := newRig(rigOpts{txURBs: 1, qlen: n})
		for i := 0; i < n; i++ {
			Expect(r.send(r.frame(60+i%1400, uint32(i)))).To(Succeed())
		}
		Eventually(r.txAccounted, 10*time.Second).Should(BeEquivalentTo(n))
		s := r.d.Net.Stats()
		Expect(s.TxPackets.Load()).To(BeEquivalentTo(n), "no frame lost")
		Expect(s.TxDropped.Load() + s.TxErrors.Load()).To(BeZero())
		Expect(r.m.Counters().ToWire).To(BeEquivalentTo(n))
		Expect(r.d.Counters().TxQueueStops.Load()).To(BeNumerically(">=", n), "the queue was stopped for want of a slot")
		// The frames went out in order.
		w := r.wireFrames()
		for i := range w {
			Expect(w[i]).To(Equal(r.frame(60+i%1400, uint32(i))))
		}
		// Each frame that came back was delivered or counted.
		Eventually(func() uint64 {
			return uint64(r.nrx()) + s.RxDropped.Load() + r.m.Counters().HostBusy
		}).Should(BeEquivalentTo(n))
	})

	It("counts each frame once as sent or dropped when the queue overflows", func() {
		const n = 300
		r := newRig(rigOpts{txURBs: 1, qlen: 8})
		refused := 0
		for i := 0; i < n; i++ {
			if err := r.send(r.frame(1514, uint32(i))); err != nil {
				Expect(err).To(MatchError(netdev.ErrQueueFull))
				refused++
			}
		}
		Eventually(r.txAccounted, 10*time.Second).Should(BeEquivalentTo(n))
		s := r.d.Net.Stats()
		Expect(s.TxDropped.Load()).To(BeEquivalentTo(refused))
		Expect(s.TxPackets.Load()).To(BeEquivalentTo(n - refused))
		Expect(r.m.Counters().ToWire).To(BeEquivalentTo(n - refused))
	})

	It("keeps traffic off the device without carrier: dropped and counted", func() {
		r := newRig(rigOpts{ecm: ecm.Options{Flavor: ecm.Gadget, LinkDown: true}, noOpen: true})
		Expect(r.d.Net.Open()).To(Succeed())
		Consistently(r.d.Net.Carrier, "50ms").Should(BeFalse())
		Expect(r.send(r.frame(60, 1))).To(MatchError(netdev.ErrNoCarrier))
		// The driver's own check, should a frame reach it anyway.
		b := skbuff.Alloc(60)
		b.PutData(r.frame(60, 2))
		Expect(r.d.HardStartXmit(b, r.d.Net)).To(Equal(netdev.XmitOK))
		Expect(r.d.Net.Stats().TxDropped.Load()).To(BeEquivalentTo(2))
		Expect(r.m.Counters().ToWire).To(BeZero())
		r.m.SetLink(true)
		Eventually(r.d.Net.Carrier).Should(BeTrue())
		Expect(r.d.Net.Speed()).To(Equal(425))
		Expect(r.send(r.frame(60, 3))).To(Succeed())
		r.waitRx(1)
	})

	It("survives open/stop cycles with traffic, freeing everything each time", func() {
		r := newRig(rigOpts{})
		for cycle := 0; cycle < 3; cycle++ {
			for i := 0; i < 10; i++ {
				Expect(r.send(r.frame(100+i, uint32(i)))).To(Succeed())
			}
			r.waitRx(10 * (cycle + 1))
			Expect(r.d.Net.Close()).To(Succeed())
			Expect(skbuff.Live()).To(BeZero(), "stop frees every RX buffer")
			Expect(r.d.Net.Open()).To(Succeed())
			Eventually(r.d.Net.Carrier).Should(BeTrue())
		}
	})
})

var _ = Describe("errors on the bus", func() {
	It("clears a bulk IN stall and resumes receiving", func() {
		r := newRig(rigOpts{})
		Expect(r.send(r.frame(60, 0))).To(Succeed())
		r.waitRx(1)
		r.dev.Stall(ecm.EpIn)
		Eventually(r.d.Counters().RxHaltsCleared.Load).Should(BeEquivalentTo(1))
		Expect(r.d.Net.Stats().RxErrors.Load()).To(BeNumerically(">=", 1))
		for i := 1; i <= 5; i++ {
			Expect(r.send(r.frame(60+i, uint32(i)))).To(Succeed())
		}
		r.waitRx(6)
		Expect(r.received()[5]).To(Equal(r.frame(65, 5)))
	})

	It("clears a bulk OUT stall, counts the frame it lost, and resumes sending", func() {
		r := newRig(rigOpts{})
		r.dev.Stall(ecm.EpOut)
		Expect(r.send(r.frame(60, 0))).To(Succeed())
		Eventually(r.d.Counters().TxHaltsCleared.Load).Should(BeEquivalentTo(1))
		Expect(r.d.Net.Stats().TxErrors.Load()).To(BeEquivalentTo(1))
		for i := 1; i <= 5; i++ {
			Expect(r.send(r.frame(60+i, uint32(i)))).To(Succeed())
		}
		r.waitRx(5)
		Eventually(r.txAccounted).Should(BeEquivalentTo(6))
		Expect(r.d.Net.QueueStopped()).To(BeFalse())
	})

	It("clears a status endpoint stall and keeps reading notifications", func() {
		r := newRig(rigOpts{})
		r.dev.Stall(ecm.EpStatus)
		Eventually(r.d.Counters().StatusHaltsCleared.Load).Should(BeEquivalentTo(1))
		n := r.d.Counters().StatusEvents.Load()
		Eventually(r.d.Counters().StatusEvents.Load).Should(BeNumerically(">", n))
	})

	It("retries a timed-out TX transfer and delivers the frame", func() {
		r := newRig(rigOpts{})
		r.dev.TimeoutNext(ecm.EpOut, 1)
		Expect(r.send(r.frame(200, 7))).To(Succeed())
		r.waitRx(1)
		Expect(r.received()[0]).To(Equal(r.frame(200, 7)))
		Expect(r.d.Counters().Timeouts.Load()).To(BeEquivalentTo(1))
		// The retry is counted once its resubmission returns, which may
		// be after the echoed frame already arrived.
		Eventually(r.d.Counters().TxRetries.Load).Should(BeEquivalentTo(1))
		Eventually(r.d.Net.Stats().TxPackets.Load).Should(BeEquivalentTo(1))
	})

	It("gives up on a frame after three timeouts, counting it, and goes on", func() {
		r := newRig(rigOpts{})
		r.dev.TimeoutNext(ecm.EpOut, 3)
		Expect(r.send(r.frame(200, 1))).To(Succeed())
		Eventually(func() uint64 { return r.d.Net.Stats().TxErrors.Load() }).Should(BeEquivalentTo(1))
		Expect(r.d.Counters().Timeouts.Load()).To(BeEquivalentTo(3))
		Expect(r.send(r.frame(200, 2))).To(Succeed())
		r.waitRx(1)
		Expect(r.received()[0]).To(Equal(r.frame(200, 2)))
	})

	It("counts RX timeouts and keeps receiving", func() {
		r := newRig(rigOpts{})
		r.dev.TimeoutNext(ecm.EpIn, 3)
		Eventually(r.d.Counters().Timeouts.Load).Should(BeEquivalentTo(3))
		Expect(r.send(r.frame(100, 1))).To(Succeed())
		r.waitRx(1)
	})

	It("stops cleanly on unplug in the middle of traffic, freeing everything", func() {
		const n = 200
		r := newRig(rigOpts{txURBs: 4, qlen: n})
		for i := 0; i < n; i++ {
			Expect(r.send(r.frame(1000, uint32(i)))).To(Succeed())
		}
		r.dev.Unplug()
		Eventually(r.d.Gone()).Should(BeClosed())
		Expect(r.d.Net.Carrier()).To(BeFalse())
		Expect(r.send(r.frame(60, 0))).To(HaveOccurred(), "no carrier: refused and counted")
		Eventually(r.txAccounted).Should(BeEquivalentTo(n + 1))
		Expect(r.d.Net.Stats().TxPackets.Load()).To(BeEquivalentTo(r.m.Counters().ToWire))
		// The cleanup (Disconnect, then the leak and live-buffer checks)
		// runs after this: the device unregisters, nothing leaks.
	})

	It("notices an unplug while idle and disconnects cleanly", func() {
		r := newRig(rigOpts{})
		r.dev.Unplug()
		Eventually(r.d.Gone()).Should(BeClosed())
		Expect(r.d.Disconnect()).To(Succeed())
		Expect(r.d.Net.Registered()).To(BeFalse())
		Expect(r.d.Net.Open()).NotTo(Succeed())
	})
})

var _ = Describe("netdev methods", func() {
	It("bounds the MTU by wMaxSegmentSize", func() {
		r := newRig(rigOpts{noOpen: true})
		Expect(r.d.Net.SetMTU(1500)).To(Succeed())
		Expect(r.d.Net.SetMTU(1501)).NotTo(Succeed())
		Expect(r.d.ChangeMTU(r.d.Net, 1501)).To(MatchError(ContainSubstring("above the device's 1500")))
		Expect(r.d.Net.SetMTU(576)).To(Succeed())
	})

	It("accepts a unicast MAC in software and refuses others", func() {
		r := newRig(rigOpts{noOpen: true})
		mac := []byte{0x02, 1, 2, 3, 4, 5}
		Expect(r.d.Net.ChangeHardwareAddr(mac)).To(Succeed())
		Expect(r.d.Net.HardwareAddr()).To(BeEquivalentTo(mac))
		Expect(r.d.Net.ChangeHardwareAddr([]byte{0x01, 0, 0x5e, 0, 0, 1})).NotTo(Succeed())
		Expect(r.d.Net.ChangeHardwareAddr([]byte{0, 0, 0, 0, 0, 0})).NotTo(Succeed())
	})

	It("returns netdev's own counters from GetStats", func() {
		r := newRig(rigOpts{noOpen: true})
		Expect(r.d.GetStats(r.d.Net)).To(BeIdenticalTo(r.d.Net.Stats()))
	})

	It("refuses to open twice and stops idempotently", func() {
		r := newRig(rigOpts{})
		Expect(r.d.Open(r.d.Net)).To(MatchError(ContainSubstring("already open")))
		Expect(r.d.Net.Close()).To(Succeed())
		Expect(r.d.Stop(r.d.Net)).To(Succeed())
	})
})

var _ = Describe("control requests", func() {
	It("fails a short control IN with hw.ErrShort, naming the request, never returning garbage", func() {
		r := newRig(rigOpts{noOpen: true})
		buf := make([]byte, 18)
		r.dev.ShortControl(4)
		err := r.d.ControlIn(hw.TypeStandard|hw.RecipDevice, hw.ReqGetDescriptor, 0x0100, 0, buf)
		Expect(err).To(MatchError(hw.ErrShort))
		Expect(err.Error()).To(ContainSubstring("standard IN request 0x06"))
		Expect(err.Error()).To(ContainSubstring("4 of 18 bytes"))
		Expect(err.Error()).To(ContainSubstring("0525:a4a2"))
		Expect(r.d.ControlIn(hw.TypeStandard|hw.RecipDevice, hw.ReqGetDescriptor, 0x0100, 0, buf)).To(Succeed())
		Expect(buf[:4]).To(Equal([]byte{0x12, 0x01, 0x00, 0x02}))
	})

	It("reports a stalled vendor request with its name", func() {
		r := newRig(rigOpts{noOpen: true})
		err := r.d.VendorOut(0x10, 1, 2, nil)
		Expect(err).To(MatchError(hw.ErrStall))
		Expect(err.Error()).To(ContainSubstring("vendor OUT request 0x10"))
		err = r.d.VendorIn(0x07, 0, 0, make([]byte, 2))
		Expect(err).To(MatchError(hw.ErrStall))
		Expect(err.Error()).To(ContainSubstring("vendor IN request 0x07"))
	})

	It("sends class requests the model takes", func() {
		r := newRig(rigOpts{noOpen: true})
		Expect(r.d.ControlOut(hw.TypeClass|hw.RecipInterface, cdcecm.ReqSetEthernetPacketFilter, 0x1f, 0, nil)).To(Succeed())
		bits, _ := r.m.Filter()
		Expect(bits).To(BeEquivalentTo(0x1f))
	})
})
