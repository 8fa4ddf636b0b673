package cdcecm_test

import (
	"bytes"
	"encoding/binary"
	"net"
	"os"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"dongle/hw"
	"dongle/hw/record"
	"dongle/hw/replay"
	"dongle/hw/sim"
	"dongle/hw/sim/ecm"
	"dongle/hw/usbmon"
	"dongle/skbuff"
	"dongle/usbnet"
	"dongle/usbnet/cdcecm"
)

// faultType is the EtherType of the closed-loop frames (IEEE local experimental).
const faultType = 0x88b5

// faultRun is cdc_ether bound to a device (a recorder around the ECM model,
// or a model replay of what it recorded), collecting received frames.
type faultRun struct {
	d      *usbnet.Dev
	dev    hw.Device
	closed bool
	mu     sync.Mutex
	rx     [][]byte
}

// close disconnects the driver and closes the device (once).
func (r *faultRun) close() {
	GinkgoHelper()
	if r.closed {
		return
	}
	r.closed = true
	Expect(r.d.Disconnect()).To(Succeed())
	Expect(r.dev.Close()).To(Succeed())
}

func bindFaultRun(dev hw.Device) *faultRun {
	GinkgoHelper()
	r := &faultRun{dev: dev}
	d, err := usbnet.Probe(dev, cdcecm.New())
	Expect(err).NotTo(HaveOccurred())
	r.d = d
	d.Net.AddHandler(faultType, func(b *skbuff.Buff) {
		f := append(bytes.Clone(b.MACHeader()), b.Data()...)
		b.Free(skbuff.FreeRead)
		r.mu.Lock()
		r.rx = append(r.rx, f)
		r.mu.Unlock()
	})
	DeferCleanup(r.close)
	d.RxURBs = 4 // a small trace: a stall fails every RX transfer in flight
	Expect(d.Net.Open()).To(Succeed())
	Eventually(d.Net.Carrier, 5*time.Second).Should(BeTrue())
	return r
}

func (r *faultRun) frame(seq int) []byte {
	f := make([]byte, 100+seq) // never a multiple of 64: no ZLPs
	copy(f, r.d.Net.HardwareAddr())
	copy(f[6:], net.HardwareAddr{0x02, 0, 0, 0, 0, 0x99})
	binary.BigEndian.PutUint16(f[12:], faultType)
	binary.BigEndian.PutUint32(f[14:], uint32(seq))
	for i := 18; i < len(f); i++ {
		f[i] = byte(i * seq)
	}
	return f
}

func (r *faultRun) send(seq int) {
	GinkgoHelper()
	b := skbuff.Alloc(100 + seq)
	b.PutData(r.frame(seq))
	Expect(r.d.Net.Xmit(b)).To(Succeed())
}

func (r *faultRun) received() [][]byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([][]byte(nil), r.rx...)
}

func (r *faultRun) waitRx(n int) {
	GinkgoHelper()
	Eventually(func() int { return len(r.received()) }, 5*time.Second).Should(BeNumerically(">=", n))
}

// faultFigures are what the driver saw of the faults and how it recovered.
// netdev's RxErrors is left out: a stall fails every RX transfer in
// flight, one error each, and how many were in flight (all 4, or one
// fewer while the bottom half was still resubmitting the last) is timing,
// not the device.
type faultFigures struct {
	RxHaltsCleared, TxHaltsCleared, StatusHaltsCleared uint64
	Timeouts, TxRetries                                uint64
	TxErrors, RxPackets, TxPackets                     uint64
	Frames                                             int
}

func (r *faultRun) figures() faultFigures {
	c, s := r.d.Counters(), r.d.Net.Stats()
	return faultFigures{
		RxHaltsCleared: c.RxHaltsCleared.Load(), TxHaltsCleared: c.TxHaltsCleared.Load(), StatusHaltsCleared: c.StatusHaltsCleared.Load(),
		Timeouts: c.Timeouts.Load(), TxRetries: c.TxRetries.Load(),
		TxErrors: s.TxErrors.Load(), RxPackets: s.RxPackets.Load(), TxPackets: s.TxPackets.Load(),
		Frames: len(r.received()),
	}
}

// faults injects the closed loop's faults into the recorded device; the
// replay has none to inject (they come from the trace): a nil field
// injects nothing.
type faults struct {
	stallIn, stallOut, timeoutOut, timeoutIn, unplug func()
}

// faultSession is the same driver session for the recording and the
// replay: traffic with a bulk IN stall, a bulk OUT stall (losing frame 4),
// an OUT timeout (frame 7 retried), two RX timeouts (f.timeoutIn times
// out the next two IN transfers), then an unplug. It waits for each
// recovery before going on, so that the OUT sequence is the same in both
// runs.
func faultSession(r *faultRun, f faults) {
	GinkgoHelper()
	c := r.d.Counters()
	do := func(fn func()) {
		if fn != nil {
			fn()
		}
	}
	r.send(0)
	r.waitRx(1)
	do(f.stallIn)
	Eventually(c.RxHaltsCleared.Load).Should(BeEquivalentTo(1))
	for i := 1; i <= 3; i++ {
		r.send(i)
	}
	r.waitRx(4)
	do(f.stallOut)
	r.send(4)
	Eventually(c.TxHaltsCleared.Load).Should(BeEquivalentTo(1))
	r.send(5)
	r.send(6)
	r.waitRx(6)
	do(f.timeoutOut)
	r.send(7)
	r.waitRx(7)
	Eventually(c.TxRetries.Load).Should(BeEquivalentTo(1))
	do(f.timeoutIn)
	Eventually(c.Timeouts.Load).Should(BeEquivalentTo(3))
	r.send(8)
	r.waitRx(8)
	Eventually(func() uint64 { return r.d.Net.Stats().TxPackets.Load() }).Should(BeEquivalentTo(8))
	do(f.unplug)
	Eventually(r.d.Gone(), 5*time.Second).Should(BeClosed())
}

// recordFaultRun records the session against the ECM model and returns
// the trace and what the driver saw.
func recordFaultRun() ([]usbmon.Record, faultFigures, [][]byte) {
	GinkgoHelper()
	var trace bytes.Buffer
	var figs faultFigures
	var frames [][]byte
	func() {
		dev, m := ecm.NewDevice(ecm.Options{})
		wire := sim.NewWire()
		m.Connect(wire.A())
		sim.NewLoopback(wire.B())
		rec, err := record.New(dev, &trace, record.Options{})
		Expect(err).NotTo(HaveOccurred())
		r := bindFaultRun(rec)
		faultSession(r, faults{
			stallIn:    func() { dev.Stall(ecm.EpIn) },
			stallOut:   func() { dev.Stall(ecm.EpOut) },
			timeoutOut: func() { dev.TimeoutNext(ecm.EpOut, 1) },
			timeoutIn:  func() { dev.TimeoutNext(ecm.EpIn, 2) },
			unplug:     dev.Unplug,
		})
		// Gone is closed: the driver stopped; its figures are final.
		figs, frames = r.figures(), r.received()
		r.close() // flushes the trace
	}()
	recs, _, err := usbmon.ReadAll(&trace)
	Expect(err).NotTo(HaveOccurred())
	Expect(record.Recorded(recs)).To(BeTrue())
	return recs, figs, frames
}

var _ = Describe("cdc_ether against a model replay of its own faulty recording", func() {
	It("sees the same stalls, timeouts and unplug, and recovers the same way", func() {
		recs, want, wantFrames := recordFaultRun()
		// The recording is what the test claims it is.
		Expect(want.RxHaltsCleared).To(BeEquivalentTo(1))
		Expect(want.TxHaltsCleared).To(BeEquivalentTo(1))
		Expect(want.Timeouts).To(BeEquivalentTo(3))
		Expect(want.Frames).To(Equal(8), "frames 0-8 less frame 4, lost to the OUT stall")
		statuses := map[int32]int{}
		for i := range recs {
			if recs[i].Type != usbmon.Submit && recs[i].XferType == usbmon.XferBulk {
				statuses[recs[i].Status]++
			}
		}
		Expect(statuses).To(HaveKey(int32(-usbmon.EPIPE)))
		Expect(statuses).To(HaveKey(int32(-usbmon.ETIMEDOUT)))
		Expect(statuses).To(HaveKey(int32(-usbmon.ENODEV)))
		GinkgoWriter.Printf("recorded %d records, bulk statuses %v, figures %+v\n", len(recs), statuses, want)

		m, err := replay.NewModel(recs, replay.ModelOptions{Name: "sim-ecm-faults", Logf: GinkgoWriter.Printf})
		Expect(err).NotTo(HaveOccurred())
		r := bindFaultRun(m)
		faultSession(r, faults{})
		Eventually(r.figures).Should(Equal(want))
		Expect(r.received()).To(Equal(wantFrames))
		Eventually(r.d.Net.Stats().RxErrors.Load).Should(BeNumerically(">=", 1), "the replayed stall failed RX transfers")
		st := m.Stats()
		GinkgoWriter.Printf("replayed figures %+v, model stats %+v\n", r.figures(), st)
		Expect(st.Halts).To(Equal(2), "one bulk IN halt, one bulk OUT halt")
		Expect(st.HaltsCleared).To(Equal(2))
		Expect(st.Unplugged).To(BeTrue())
		Expect(st.OutMismatched).To(BeZero())
		Expect(st.ControlStalled).To(BeZero())
	})

	It("skips the recorded faults with IgnoreErrors: no halts, no timeouts, every recorded frame", func() {
		recs, want, wantFrames := recordFaultRun()
		m, err := replay.NewModel(recs, replay.ModelOptions{Name: "sim-ecm-faults", IgnoreErrors: true, Logf: GinkgoWriter.Printf})
		Expect(err).NotTo(HaveOccurred())
		r := bindFaultRun(m)
		r.waitRx(want.Frames)
		Consistently(r.figures, 100*time.Millisecond).Should(And(
			HaveField("RxHaltsCleared", BeZero()), HaveField("Timeouts", BeZero())))
		Expect(r.received()).To(Equal(wantFrames))
		Expect(m.Stats().Halts).To(BeZero())
		Expect(m.Stats().Unplugged).To(BeFalse())
	})
})

// With DONGLE_WRITE_FAULT_FIXTURE=FILE this writes the recording as
// fixtures/sim-ecm-faults.pcap is made (see its .md): URB ids rewritten
// from the recorder's mark to kernel-style addresses, so that replay.Open
// takes it for a foreign trace and model-replays it.
var _ = It("writes the sim-ecm-faults fixture when asked", func() {
	path := os.Getenv("DONGLE_WRITE_FAULT_FIXTURE")
	if path == "" {
		Skip("a fixture generator, not a check: set DONGLE_WRITE_FAULT_FIXTURE=FILE to rewrite fixtures/sim-ecm-faults.pcap (the spec above replays the committed one)")
	}
	recs, figs, _ := recordFaultRun()
	var buf bytes.Buffer
	w, err := usbmon.NewWriter(&buf)
	Expect(err).NotTo(HaveOccurred())
	for i := range recs {
		r := recs[i]
		Expect(record.IsTagged(r.ID)).To(BeTrue())
		r.ID = 0xffff8880_00000000 | (r.ID&0xffffffff)<<8
		Expect(w.Write(&r)).To(Succeed())
	}
	Expect(os.WriteFile(path, buf.Bytes(), 0o644)).To(Succeed())
	back, _, err := usbmon.ReadFile(path)
	Expect(err).NotTo(HaveOccurred())
	Expect(back).To(HaveLen(len(recs)))
	Expect(record.Recorded(back)).To(BeFalse())
	GinkgoWriter.Printf("wrote %s: %d records, figures %+v\n", path, len(back), figs)
})

// The committed capture (fixtures/sim-ecm-faults.md): a foreign trace to
// replay.Open, which model-replays it with its faults.
var _ = It("replays fixtures/sim-ecm-faults.pcap with the faults its .md lists", func() {
	dev, err := replay.Open(fixture("sim-ecm-faults.pcap"), replay.ModelOptions{Logf: GinkgoWriter.Printf})
	Expect(err).NotTo(HaveOccurred())
	m, ok := dev.(*replay.Model)
	Expect(ok).To(BeTrue(), "a foreign trace: model replay, not strict")
	r := bindFaultRun(m)
	DeferCleanup(func() {
		if CurrentSpecReport().Failed() {
			GinkgoWriter.Printf("on failure: driver figures %+v\nreplay stats %+v\nframes %d\n", r.figures(), m.Stats(), len(r.received()))
		}
	})
	faultSession(r, faults{})
	Eventually(r.figures).Should(Equal(faultFigures{
		RxHaltsCleared: 1, TxHaltsCleared: 1, Timeouts: 3, TxRetries: 1,
		TxErrors: 1, RxPackets: 8, TxPackets: 8, Frames: 8,
	}))
	var want [][]byte
	for _, seq := range []int{0, 1, 2, 3, 5, 6, 7, 8} {
		want = append(want, r.frame(seq))
	}
	Expect(r.received()).To(Equal(want))
	st := m.Stats()
	Expect([]int{st.Halts, st.HaltsCleared, st.OutMismatched}).To(Equal([]int{2, 2, 0}))
	Expect(st.Unplugged).To(BeTrue())
})
