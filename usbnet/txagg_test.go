package usbnet_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"dongle/hw"
	"dongle/hw/sim"
	"dongle/hw/sim/ecm"
	"dongle/skbuff"
	"dongle/usbnet"
	"dongle/usbnet/cdcecm"
)

// aggDriver is cdc_ether with a TxAggregator of its own making, so the
// framework's hook runs against the ECM model (whose wire then carries
// each block as one "frame") and against a scripted device. A block is
// frames each behind a le16 length, ended by a le16 0 that TxAggEnd
// writes:
//
//	len1 frame1 len2 frame2 ... 0000
type aggDriver struct {
	cdcecm.Driver
	size, max int
	timeout   time.Duration
	flags     usbnet.Flags // 0: cdc_ether's
	endErr    atomic.Bool  // TxAggEnd fails
	addErr    atomic.Bool  // TxAggAdd refuses every frame
	wrapFull  bool         // TxAggAdd wraps ErrTxAggFull with the block's length
	begins    atomic.Int64
	frames    int // in the block being filled (one block at a time)
}

var _ usbnet.TxAggregator = (*aggDriver)(nil)

var errRefused = errors.New("refused by the test driver")

func (a *aggDriver) Flags() usbnet.Flags {
	if a.flags != 0 {
		return a.flags
	}
	return a.Driver.Flags()
}

func (a *aggDriver) TxAggLimits(*usbnet.Dev) usbnet.TxAggLimits {
	return usbnet.TxAggLimits{Size: a.size, Timeout: a.timeout}
}

func (a *aggDriver) TxAggBegin(_ *usbnet.Dev, agg *skbuff.Buff) {
	a.begins.Add(1)
	a.frames = 0
	if agg.Len() != 0 {
		panic("TxAggBegin given a non-empty block")
	}
}

func (a *aggDriver) TxAggAdd(_ *usbnet.Dev, agg, f *skbuff.Buff) (bool, error) {
	if a.addErr.Load() {
		return false, errRefused
	}
	if agg.Len()+2+f.Len()+2 > a.size {
		if a.wrapFull {
			return false, fmt.Errorf("%d-byte block: %w", agg.Len(), usbnet.ErrTxAggFull)
		}
		return false, usbnet.ErrTxAggFull
	}
	binary.LittleEndian.PutUint16(agg.Put(2), uint16(f.Len()))
	agg.PutData(f.Data())
	a.frames++
	return a.max > 0 && a.frames >= a.max, nil
}

func (a *aggDriver) TxAggEnd(_ *usbnet.Dev, agg *skbuff.Buff) error {
	if a.endErr.Load() {
		return errRefused
	}
	if a.frames == 0 {
		panic("TxAggEnd on an empty block")
	}
	binary.LittleEndian.PutUint16(agg.Put(2), 0)
	return nil
}

// splitBlock undoes aggDriver's framing; a pad byte of the ZLP rule after
// the terminator is allowed and reported.
func splitBlock(p []byte) (frames [][]byte, pad int) {
	for {
		ExpectWithOffset(1, len(p)).To(BeNumerically(">=", 2), "block without its terminator")
		n := int(binary.LittleEndian.Uint16(p))
		p = p[2:]
		if n == 0 {
			return frames, len(p)
		}
		ExpectWithOffset(1, len(p)).To(BeNumerically(">=", n))
		frames = append(frames, p[:n])
		p = p[n:]
	}
}

// aggRig is the ECM model with a big wMaxSegmentSize (so a block passes
// as one frame) and a wire whose far end records what arrives.
type aggRig struct {
	dev *sim.Device
	m   *ecm.Model
	drv *aggDriver
	d   *usbnet.Dev

	mu     sync.Mutex
	blocks [][]byte
	at     []time.Time
}

func (r *aggRig) Receive(frame []byte) {
	r.mu.Lock()
	r.blocks = append(r.blocks, bytes.Clone(frame))
	r.at = append(r.at, time.Now())
	r.mu.Unlock()
}

func (r *aggRig) wire() [][]byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([][]byte(nil), r.blocks...)
}

func (r *aggRig) nblocks() int { return len(r.wire()) }

func newAggRig(drv *aggDriver, speed hw.Speed, txURBs int) *aggRig {
	r := &aggRig{drv: drv}
	w := sim.NewWire()
	r.dev, r.m = ecm.NewDevice(ecm.Options{Speed: speed, MaxSegmentSize: 16000})
	r.m.Connect(w.A())
	w.B().Attach(r)
	d, err := usbnet.Probe(r.dev, drv)
	Expect(err).NotTo(HaveOccurred())
	r.d = d
	if txURBs > 0 {
		d.TxURBs = txURBs
	}
	d.Net.SetTxQueueLen(1000)
	DeferCleanup(func() {
		Expect(d.Disconnect()).To(Succeed())
		Expect(r.dev.Close()).To(Succeed())
	})
	Expect(d.Net.Open()).To(Succeed())
	Eventually(d.Net.Carrier).Should(BeTrue())
	return r
}

// aggFrame is an n-byte frame carrying seq, to a far station.
func aggFrame(n int, seq int) []byte {
	f := make([]byte, n)
	copy(f, net.HardwareAddr{0x02, 0, 0, 0, 0, 0x42})
	copy(f[6:], net.HardwareAddr{0x02, 0, 0, 0, 0, 0x99})
	binary.BigEndian.PutUint16(f[12:], testType)
	for i := 14; i < n; i++ {
		f[i] = byte(seq*7 + i)
	}
	return f
}

func (r *aggRig) send(f []byte) {
	b := skbuff.Alloc(len(f))
	b.PutData(f)
	ExpectWithOffset(1, r.d.Net.Xmit(b)).To(Succeed())
}

// framesOnWire undoes the framing of every block the wire carried.
func (r *aggRig) framesOnWire() [][]byte {
	var out [][]byte
	for _, b := range r.wire() {
		fs, _ := splitBlock(b)
		out = append(out, fs...)
	}
	return out
}

func (r *aggRig) accounted() uint64 {
	s := r.d.Net.Stats()
	return s.TxPackets.Load() + s.TxErrors.Load() + s.TxDropped.Load()
}

var _ = Describe("TX aggregation hook (TxAggregator)", func() {
	It("sends a block as soon as the driver says it is full, counting each frame once it completes", func() {
		r := newAggRig(&aggDriver{size: 8000, max: 4, timeout: time.Hour}, hw.SpeedHigh, 0)
		var want [][]byte
		var bytes uint64
		for i := range 8 {
			f := aggFrame(60+i*100, i)
			want = append(want, f)
			bytes += uint64(len(f))
			r.send(f)
		}
		Eventually(r.nblocks).Should(Equal(2))
		Expect(r.framesOnWire()).To(Equal(want))
		for _, b := range r.wire() {
			fs, _ := splitBlock(b)
			Expect(fs).To(HaveLen(4))
		}
		s := r.d.Net.Stats()
		Eventually(s.TxPackets.Load).Should(BeEquivalentTo(8))
		Expect(s.TxBytes.Load()).To(Equal(bytes), "tx_bytes: the frames, not the framing")
		c := r.d.Counters()
		Expect(c.TxAggFull.Load()).To(BeEquivalentTo(2))
		Expect(c.TxAggregates.Load()).To(BeEquivalentTo(2))
		Expect(c.TxAggTimer.Load() + c.TxAggNoRoom.Load()).To(BeZero())
		Expect(s.TxDropped.Load() + s.TxErrors.Load()).To(BeZero())
	})

	It("sends a block when the next frame does not fit, and starts the next block with that frame", func() {
		// 2+500 three times plus the terminator fits 1600; a fourth does not.
		r := newAggRig(&aggDriver{size: 1600, timeout: 20 * time.Millisecond}, hw.SpeedHigh, 0)
		var want [][]byte
		for i := range 4 {
			f := aggFrame(500, i)
			want = append(want, f)
			r.send(f)
		}
		Eventually(r.nblocks).Should(Equal(2))
		Expect(r.framesOnWire()).To(Equal(want))
		fs, _ := splitBlock(r.wire()[0])
		Expect(fs).To(HaveLen(3))
		c := r.d.Counters()
		Expect(c.TxAggNoRoom.Load()).To(BeEquivalentTo(1))
		Expect(c.TxAggTimer.Load()).To(BeEquivalentTo(1), "the fourth frame waits for the timer")
		Eventually(r.d.Net.Stats().TxPackets.Load).Should(BeEquivalentTo(4))
	})

	It("sends a lone frame when the timer expires, not before", func() {
		const timeout = 60 * time.Millisecond
		r := newAggRig(&aggDriver{size: 8000, max: 10, timeout: timeout}, hw.SpeedHigh, 0)
		start := time.Now()
		r.send(aggFrame(100, 1))
		Consistently(r.nblocks, timeout/2, 5*time.Millisecond).Should(BeZero())
		Eventually(r.nblocks).Should(Equal(1))
		r.mu.Lock()
		at := r.at[0]
		r.mu.Unlock()
		Expect(at.Sub(start)).To(BeNumerically(">=", timeout))
		Expect(r.framesOnWire()).To(Equal([][]byte{aggFrame(100, 1)}))
		Expect(r.d.Counters().TxAggTimer.Load()).To(BeEquivalentTo(1))
		Eventually(r.d.Net.Stats().TxPackets.Load).Should(BeEquivalentTo(1))
		// A second lone frame, after the timer fired, goes too.
		r.send(aggFrame(200, 2))
		Eventually(r.nblocks).Should(Equal(2))
		Expect(r.d.Counters().TxAggTimer.Load()).To(BeEquivalentTo(2))
	})

	It("sets the timer once for blocks that leave before it fires, and a lone frame after them still waits its own timeout", func() {
		r := newAggRig(&aggDriver{size: 8000, max: 2, timeout: time.Hour}, hw.SpeedHigh, 0)
		c := r.d.Counters()
		for i := range 12 {
			r.send(aggFrame(100, i)) // each block full at its second frame
		}
		Eventually(r.nblocks).Should(Equal(6))
		Expect(c.TxAggFull.Load()).To(BeEquivalentTo(6))
		Expect(c.TxAggTimerArms.Load()).To(BeEquivalentTo(1), "the timer was set again for a block while it ran")
		// A lone frame while the first block's timer still runs: it joins
		// that timer, and goes by its own deadline, not that one's (nor a
		// whole timeout after that one fired).
		const timeout = 600 * time.Millisecond
		r2 := newAggRig(&aggDriver{size: 8000, max: 2, timeout: timeout}, hw.SpeedHigh, 0)
		c2 := r2.d.Counters()
		r2.send(aggFrame(100, 1))
		r2.send(aggFrame(100, 2)) // full: the block leaves, the timer runs on
		Eventually(r2.nblocks).Should(Equal(1))
		time.Sleep(100 * time.Millisecond)
		start := time.Now()
		r2.send(aggFrame(100, 3))
		Expect(c2.TxAggTimerArms.Load()).To(BeEquivalentTo(1), "the lone frame set the timer itself: the first one had stopped")
		Eventually(r2.nblocks, 2*timeout).Should(Equal(2))
		r2.mu.Lock()
		at := r2.at[1]
		r2.mu.Unlock()
		Expect(at.Sub(start)).To(BeNumerically(">=", timeout), "the lone frame left before its own timeout")
		Expect(at.Sub(start)).To(BeNumerically("<", timeout+300*time.Millisecond), "the flusher re-armed for a whole timeout, not what was left")
		Expect(c2.TxAggTimer.Load()).To(BeEquivalentTo(1))
		Expect(c2.TxAggTimerArms.Load()).To(BeEquivalentTo(2), "set by the first block, set again by the flusher for the lone frame")
	})

	DescribeTable("refuses to open with a block size it cannot use, naming the driver",
		func(size int) {
			drv := &aggDriver{size: size}
			dev, m := ecm.NewDevice(ecm.Options{Speed: hw.SpeedHigh, MaxSegmentSize: 16000})
			w := sim.NewWire()
			m.Connect(w.A())
			d, err := usbnet.Probe(dev, drv)
			Expect(err).NotTo(HaveOccurred())
			DeferCleanup(func() {
				Expect(d.Disconnect()).To(Succeed())
				Expect(dev.Close()).To(Succeed())
			})
			err = d.Net.Open()
			Expect(err).To(MatchError(usbnet.ErrTxAggLimits))
			Expect(err.Error()).To(ContainSubstring(drv.Name()))
			Expect(err.Error()).To(ContainSubstring(fmt.Sprintf("block size %d", size)))
		},
		Entry("0 bytes", 0),
		Entry("negative", -1),
	)

	It("uses Linux's 400 µs when the driver gives no timeout", func() {
		r := newAggRig(&aggDriver{size: 8000, max: 10}, hw.SpeedHigh, 0)
		r.send(aggFrame(100, 1))
		Eventually(r.nblocks, 100*time.Millisecond, time.Millisecond).Should(Equal(1))
		Expect(r.d.Counters().TxAggTimer.Load()).To(BeEquivalentTo(1))
	})

	It("knows ErrTxAggFull wrapped with context: the block goes, the frame starts the next, or fits none", func() {
		r := newAggRig(&aggDriver{size: 1600, timeout: 20 * time.Millisecond, wrapFull: true}, hw.SpeedHigh, 0)
		var want [][]byte
		for i := range 4 {
			f := aggFrame(500, i)
			want = append(want, f)
			r.send(f)
		}
		r.send(aggFrame(1700, 9)) // fits no block
		Eventually(r.nblocks).Should(Equal(2))
		Expect(r.framesOnWire()).To(Equal(want))
		c := r.d.Counters()
		Expect(c.TxAggNoRoom.Load()).To(BeEquivalentTo(2), "the fourth frame and the big one each sent a block")
		Expect(c.TxAggTooBig.Load()).To(BeEquivalentTo(1))
		Eventually(r.d.Net.Stats().TxPackets.Load).Should(BeEquivalentTo(4))
		Expect(r.d.Net.Stats().TxDropped.Load()).To(BeEquivalentTo(1))
	})

	It("wakes the queue owed by a block given back under the aggregation lock without deadlocking (netdev runs HardStartXmit from WakeQueue)", func() {
		// Built here rather than with newAggRig: if the flusher deadlocks,
		// Disconnect would wait for it forever, so the spec fails instead
		// and leaves the device behind.
		drv := &aggDriver{size: 8000, timeout: 20 * time.Millisecond}
		r := &aggRig{drv: drv}
		w := sim.NewWire()
		r.dev, r.m = ecm.NewDevice(ecm.Options{Speed: hw.SpeedHigh, MaxSegmentSize: 16000})
		r.m.Connect(w.A())
		w.B().Attach(r)
		d, err := usbnet.Probe(r.dev, drv)
		Expect(err).NotTo(HaveOccurred())
		r.d = d
		d.TxURBs = 2
		d.Net.SetTxQueueLen(10)
		settled := false
		DeferCleanup(func() {
			if settled {
				Expect(d.Disconnect()).To(Succeed())
				Expect(r.dev.Close()).To(Succeed())
			}
		})
		Expect(d.Net.Open()).To(Succeed())
		Eventually(d.Net.Carrier).Should(BeTrue())

		drv.endErr.Store(true) // the timer's flush fails: its slot comes back under the lock
		r.send(aggFrame(100, 0))
		d.StopTxQueue() // ... owing the queue a wake
		r.send(aggFrame(100, 1))
		Expect(d.Net.QueueStopped()).To(BeTrue(), "frame 1 waits in netdev's queue")
		st := d.Net.Stats()
		Eventually(st.TxDropped.Load).WithTimeout(2*time.Second).Should(BeEquivalentTo(2),
			"frame 1 went to HardStartXmit from the wake and its block was refused too; 1 here: the flusher deadlocked")
		Expect(d.Net.QueueStopped()).To(BeFalse())
		settled = true
	})

	It("drops a frame that fits no block, counting it, and goes on", func() {
		r := newAggRig(&aggDriver{size: 600, max: 1, timeout: time.Hour}, hw.SpeedHigh, 2)
		r.send(aggFrame(1000, 1))
		s := r.d.Net.Stats()
		Expect(s.TxDropped.Load()).To(BeEquivalentTo(1))
		Expect(r.d.Counters().TxAggTooBig.Load()).To(BeEquivalentTo(1))
		for i := range 4 { // more than the two slots: the empty block gave its slot back
			r.send(aggFrame(100, i))
		}
		Eventually(r.nblocks).Should(Equal(4))
		Eventually(s.TxPackets.Load).Should(BeEquivalentTo(4))
		Expect(s.TxErrors.Load()).To(BeZero())
	})

	It("drops a frame the driver refuses, leaving the block as it was", func() {
		drv := &aggDriver{size: 8000, max: 2, timeout: time.Hour}
		r := newAggRig(drv, hw.SpeedHigh, 0)
		r.send(aggFrame(100, 1))
		drv.addErr.Store(true)
		r.send(aggFrame(100, 2))
		drv.addErr.Store(false)
		r.send(aggFrame(100, 3))
		Eventually(r.nblocks).Should(Equal(1))
		Expect(r.framesOnWire()).To(Equal([][]byte{aggFrame(100, 1), aggFrame(100, 3)}))
		Eventually(r.accounted).Should(BeEquivalentTo(3))
		Expect(r.d.Net.Stats().TxDropped.Load()).To(BeEquivalentTo(1))
	})

	It("counts every frame of a block TxAggEnd refuses as dropped", func() {
		drv := &aggDriver{size: 8000, max: 3, timeout: time.Hour}
		r := newAggRig(drv, hw.SpeedHigh, 0)
		drv.endErr.Store(true)
		for i := range 3 {
			r.send(aggFrame(100, i))
		}
		Expect(r.d.Net.Stats().TxDropped.Load()).To(BeEquivalentTo(3))
		drv.endErr.Store(false)
		for i := range 3 {
			r.send(aggFrame(100, i))
		}
		Eventually(r.d.Net.Stats().TxPackets.Load).Should(BeEquivalentTo(3))
		Expect(r.nblocks()).To(Equal(1))
	})

	DescribeTable("applies the ZLP rule to the whole block",
		func(flags usbnet.Flags, wantZLP, wantPad int) {
			// Full speed, 64-byte packets: one 60-byte frame is 2+60+2 = 64.
			drv := &aggDriver{size: 8000, max: 1, timeout: time.Hour, flags: flags}
			r := newAggRig(drv, hw.SpeedFull, 0)
			r.send(aggFrame(60, 1))
			Eventually(r.nblocks).Should(Equal(1))
			fs, pad := splitBlock(r.wire()[0])
			Expect(fs).To(Equal([][]byte{aggFrame(60, 1)}))
			Expect(pad).To(Equal(wantPad))
			Expect(r.d.Counters().ZLPs.Load()).To(BeEquivalentTo(wantZLP))
			Expect(r.d.Counters().PadBytes.Load()).To(BeEquivalentTo(wantPad))
			Expect(r.m.Counters().NoZLP).To(BeZero())
			Eventually(r.d.Net.Stats().TxPackets.Load).Should(BeEquivalentTo(1))
			Expect(r.d.Net.Stats().TxBytes.Load()).To(BeEquivalentTo(60))
		},
		Entry("FlagSendZLP: an explicit ZLP", usbnet.FlagEthernet|usbnet.FlagLinkIntr|usbnet.FlagSendZLP, 1, 0),
		Entry("no flag: one pad byte", usbnet.FlagEthernet|usbnet.FlagLinkIntr, 0, 1),
	)

	It("resends a timed-out block whole and counts its frames once", func() {
		r := newAggRig(&aggDriver{size: 8000, max: 3, timeout: time.Hour}, hw.SpeedHigh, 0)
		r.dev.TimeoutNext(ecm.EpOut, 1)
		for i := range 3 {
			r.send(aggFrame(100, i))
		}
		Eventually(r.nblocks).Should(Equal(1))
		Eventually(r.d.Net.Stats().TxPackets.Load).Should(BeEquivalentTo(3))
		Expect(r.d.Counters().TxRetries.Load()).To(BeEquivalentTo(1))
	})

	It("counts each frame of a stalled block as a tx error, clears the halt and goes on", func() {
		r := newAggRig(&aggDriver{size: 8000, max: 3, timeout: time.Hour}, hw.SpeedHigh, 0)
		r.dev.Stall(ecm.EpOut)
		for i := range 3 {
			r.send(aggFrame(100, i))
		}
		Eventually(r.d.Counters().TxHaltsCleared.Load).Should(BeEquivalentTo(1))
		Expect(r.d.Net.Stats().TxErrors.Load()).To(BeEquivalentTo(3))
		for i := range 3 {
			r.send(aggFrame(100, 10+i))
		}
		Eventually(r.nblocks).Should(Equal(1))
		Eventually(r.d.Net.Stats().TxPackets.Load).Should(BeEquivalentTo(3))
		Eventually(r.accounted).Should(BeEquivalentTo(6))
		Expect(r.d.Net.QueueStopped()).To(BeFalse())
	})

	It("on Stop, drops the block being filled, counting its frames, and leaks no timer", func() {
		r := newAggRig(&aggDriver{size: 8000, max: 10, timeout: time.Hour}, hw.SpeedHigh, 0)
		for i := range 3 {
			r.send(aggFrame(100, i))
		}
		Expect(r.d.Net.Close()).To(Succeed())
		s := r.d.Net.Stats()
		Expect(s.TxDropped.Load()).To(BeEquivalentTo(3))
		Expect(s.TxPackets.Load()).To(BeZero())
		Expect(r.nblocks()).To(BeZero())
		Expect(skbuff.Live()).To(BeZero())
		// Open again: a fresh block, timer and flusher.
		r.drv.max = 2
		Expect(r.d.Net.Open()).To(Succeed())
		Eventually(r.d.Net.Carrier).Should(BeTrue())
		r.send(aggFrame(100, 7))
		r.send(aggFrame(100, 8))
		Eventually(r.nblocks).Should(Equal(1))
		Eventually(s.TxPackets.Load).Should(BeEquivalentTo(2))
	})

	It("on unplug, drops what is filling and what is in flight, each frame once", func() {
		r := newAggRig(&aggDriver{size: 8000, max: 4, timeout: time.Hour}, hw.SpeedHigh, 0)
		const n = 30 // seven full blocks and two frames filling
		for i := range n {
			r.send(aggFrame(300, i))
		}
		r.dev.Unplug()
		Eventually(r.d.Gone()).Should(BeClosed())
		Expect(r.d.Disconnect()).To(Succeed())
		Eventually(r.accounted).Should(BeEquivalentTo(n))
		Expect(r.d.Net.Stats().TxPackets.Load()).To(BeEquivalentTo(len(r.framesOnWire())))
		Expect(skbuff.Live()).To(BeZero())
	})
})

// scriptedAgg is the aggregating driver on a scripted device: bulk OUT
// transfers complete only when the spec says so.
func scriptedAgg(drv *aggDriver, txURBs int) (*sim.Fake, *usbnet.Dev, func(uint8) *sim.Pending) {
	m := ecm.New(ecm.Options{MaxSegmentSize: 16000})
	f := sim.NewFake(m, m.Info())
	d, err := usbnet.Probe(f, drv)
	Expect(err).NotTo(HaveOccurred())
	d.TxURBs = txURBs
	d.Net.SetTxQueueLen(100)
	DeferCleanup(func() {
		Expect(d.Disconnect()).To(Succeed())
		Expect(f.Close()).To(Succeed())
	})
	Expect(d.Net.Open()).To(Succeed())
	pending := map[uint8][]*sim.Pending{}
	next := func(ep uint8) *sim.Pending {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		for len(pending[ep]) == 0 {
			p, err := f.Next(ctx)
			ExpectWithOffset(1, err).NotTo(HaveOccurred(), "waiting for a transfer on %#02x", ep)
			pending[p.Endpoint()] = append(pending[p.Endpoint()], p)
		}
		p := pending[ep][0]
		pending[ep] = pending[ep][1:]
		return p
	}
	connected := []byte{0xa1, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00}
	Expect(next(ecm.EpStatus).CompleteIn(connected, nil)).To(Succeed())
	Eventually(d.Net.Carrier).Should(BeTrue())
	return f, d, next
}

var _ = Describe("TX aggregation busy/stop-queue contract (scripted device)", func() {
	It("keeps taking frames into the last slot's block, stops the queue when it leaves, and wakes it on completion", func() {
		_, d, next := scriptedAgg(&aggDriver{size: 8000, max: 2, timeout: time.Hour}, 2)
		xmit := func(i int) {
			b := skbuff.Alloc(100)
			b.PutData(aggFrame(100, i))
			Expect(d.Net.Xmit(b)).To(Succeed())
		}
		xmit(0)
		xmit(1)
		first := next(ecm.EpOut)
		Expect(d.Net.QueueStopped()).To(BeFalse(), "one slot left")
		xmit(2)
		Expect(d.Net.QueueStopped()).To(BeFalse(), "the last slot's block still takes frames")
		xmit(3)
		second := next(ecm.EpOut)
		Expect(d.Net.QueueStopped()).To(BeTrue(), "both blocks in flight, no slot left")
		Expect(d.Counters().TxQueueStops.Load()).To(BeEquivalentTo(1))
		// Frames offered now wait in netdev's queue, not lost.
		xmit(4)
		xmit(5)
		Expect(d.Net.Stats().TxPackets.Load()).To(BeZero())
		Expect(first.Complete(first.Len(), nil)).To(Succeed())
		third := next(ecm.EpOut)
		fs, _ := splitBlock(third.Sent())
		Expect(fs).To(Equal([][]byte{aggFrame(100, 4), aggFrame(100, 5)}))
		Expect(second.Complete(second.Len(), nil)).To(Succeed())
		Expect(third.Complete(third.Len(), nil)).To(Succeed())
		Eventually(d.Net.Stats().TxPackets.Load).Should(BeEquivalentTo(6))
		Expect(d.Net.Stats().TxBytes.Load()).To(BeEquivalentTo(600))
		Eventually(d.Net.QueueStopped).Should(BeFalse())
	})

	It("answers busy for a frame that does not fit when no slot is left for the next block, and sends it later", func() {
		_, d, next := scriptedAgg(&aggDriver{size: 1000, timeout: time.Hour}, 1)
		xmit := func(i int) {
			b := skbuff.Alloc(400)
			b.PutData(aggFrame(400, i))
			Expect(d.Net.Xmit(b)).To(Succeed())
		}
		xmit(0)
		xmit(1)
		xmit(2) // does not fit: the block goes, and no slot is left
		p := next(ecm.EpOut)
		fs, _ := splitBlock(p.Sent())
		Expect(fs).To(HaveLen(2))
		Expect(d.Counters().TxBusy.Load()).To(BeEquivalentTo(1))
		Expect(d.Net.QueueStopped()).To(BeTrue())
		Expect(p.Complete(p.Len(), nil)).To(Succeed())
		Eventually(d.Net.QueueStopped).Should(BeFalse())
		Eventually(d.Net.Stats().TxPackets.Load).Should(BeEquivalentTo(2))
		// The busy frame was requeued by netdev and now fills a block.
		Expect(d.Counters().TxAggregates.Load()).To(BeEquivalentTo(1))
		Expect(d.Net.Stats().TxDropped.Load()).To(BeZero())
	})

	It("holds a block through a bulk OUT halt and sends it once the halt is cleared", func() {
		// No timer: only the end of the halt can send the filling block.
		_, d, next := scriptedAgg(&aggDriver{size: 8000, max: 2, timeout: time.Hour}, 2)
		xmit := func(i int) {
			b := skbuff.Alloc(100)
			b.PutData(aggFrame(100, i))
			Expect(d.Net.Xmit(b)).To(Succeed())
		}
		xmit(0)
		xmit(1)
		p := next(ecm.EpOut)
		xmit(2) // starts the second slot's block
		Expect(p.Complete(0, hw.ErrStall)).To(Succeed())
		// The halt is cleared once nothing is in flight; the filling block
		// does not count as in flight, and goes afterwards.
		Eventually(d.Counters().TxHaltsCleared.Load).Should(BeEquivalentTo(1))
		q := next(ecm.EpOut)
		fs, _ := splitBlock(q.Sent())
		Expect(fs).To(Equal([][]byte{aggFrame(100, 2)}))
		Expect(q.Complete(q.Len(), nil)).To(Succeed())
		Eventually(d.Net.Stats().TxPackets.Load).Should(BeEquivalentTo(1))
		Expect(d.Net.Stats().TxErrors.Load()).To(BeEquivalentTo(2))
	})
})

// aggBench is the aggregating driver on the ECM model with a wire that
// counts blocks and discards them, for allocation counts and benchmarks.
type aggBench struct {
	d     *usbnet.Dev
	frame []byte
}

type countPort struct{ n atomic.Uint64 }

func (c *countPort) Receive([]byte) { c.n.Add(1) }

func newAggBench(tb testing.TB, drv *aggDriver, size int) *aggBench {
	tb.Helper()
	w := sim.NewWire()
	dev, m := ecm.NewDevice(ecm.Options{Speed: hw.SpeedHigh, MaxSegmentSize: 16000})
	m.Connect(w.A())
	w.B().Attach(&countPort{})
	d, err := usbnet.Probe(dev, drv)
	if err != nil {
		tb.Fatal(err)
	}
	d.Net.SetTxQueueLen(1 << 16)
	if err := d.Net.Open(); err != nil {
		tb.Fatal(err)
	}
	for deadline := time.Now().Add(2 * time.Second); !d.Net.Carrier(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			tb.Fatal("no carrier")
		}
	}
	tb.Cleanup(func() {
		if err := d.Disconnect(); err != nil {
			tb.Error(err)
		}
		if err := dev.Close(); err != nil {
			tb.Error(err)
		}
	})
	return &aggBench{d: d, frame: aggFrame(size, 1)}
}

func (be *aggBench) xmit() {
	b := skbuff.Alloc(len(be.frame))
	b.PutData(be.frame)
	if err := be.d.Net.Xmit(b); err != nil {
		panic(err)
	}
}

func (be *aggBench) waitTx(n uint64) {
	s := be.d.Net.Stats()
	for s.TxPackets.Load()+s.TxErrors.Load()+s.TxDropped.Load() < n {
		runtime.Gosched()
	}
}

// TestTxAggZeroAllocs: a frame through the aggregation hook (Xmit →
// TxAggAdd → block full → TxAggEnd → Submit → completion → counted, block
// freed) allocates nothing in steady state, for blocks of 1 and of 8
// frames.
func TestTxAggZeroAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are meaningless under -race (sync.Pool drops items)")
	}
	noLiveAtEnd(t)
	for _, per := range []int{1, 8} {
		be := newAggBench(t, &aggDriver{size: 16000, max: per, timeout: time.Hour}, 1514)
		var sent uint64
		run := func() {
			for range per {
				be.xmit()
			}
			sent += uint64(per)
			be.waitTx(sent)
		}
		for range warm {
			run()
		}
		if a := testing.AllocsPerRun(300, run); a != 0 {
			t.Errorf("blocks of %d frames: %v allocs per block, want 0", per, a)
		}
		if s := be.d.Net.Stats(); s.TxPackets.Load() != sent {
			t.Errorf("tx_packets %d, sent %d", s.TxPackets.Load(), sent)
		}
	}
}

// BenchmarkTxAgg: frames through the hook, 8 per block, to the ECM model.
func BenchmarkTxAgg(b *testing.B) {
	for _, size := range []int{64, 1514} {
		b.Run(fmt.Sprintf("%dB", size), func(b *testing.B) {
			be := newAggBench(b, &aggDriver{size: 16000, max: 8, timeout: time.Hour}, size)
			b.ReportAllocs()
			var sent uint64
			b.ResetTimer()
			for b.Loop() {
				for range 8 {
					be.xmit()
				}
				sent += 8
				be.waitTx(sent)
			}
			b.ReportMetric(float64(sent)/b.Elapsed().Seconds(), "frames/s")
		})
	}
}
