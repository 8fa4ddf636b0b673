package usbnet_test

import (
	"context"
	"sync"
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

// scripted is an ECM device whose transfers the spec completes by hand
// (sim.Fake), for the error paths a model does not produce.
type scripted struct {
	f       *sim.Fake
	d       *usbnet.Dev
	pending map[uint8][]*sim.Pending

	mu  sync.Mutex
	got [][]byte
}

func (s *scripted) received() [][]byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([][]byte(nil), s.got...)
}

func newScripted() *scripted {
	m := ecm.New(ecm.Options{})
	s := &scripted{f: sim.NewFake(m, m.Info()), pending: map[uint8][]*sim.Pending{}}
	d, err := usbnet.Probe(s.f, cdcecm.New())
	Expect(err).NotTo(HaveOccurred())
	s.d = d
	d.Net.AddHandler(testType, func(b *skbuff.Buff) {
		f := append(append([]byte(nil), b.MACHeader()...), b.Data()...)
		b.Free(skbuff.FreeRead)
		s.mu.Lock()
		s.got = append(s.got, f)
		s.mu.Unlock()
	})
	DeferCleanup(func() {
		Expect(d.Disconnect()).To(Succeed())
		Expect(s.f.Close()).To(Succeed())
	})
	Expect(d.Net.Open()).To(Succeed())
	return s
}

// next returns the oldest transfer submitted on ep, waiting for it.
func (s *scripted) next(ep uint8) *sim.Pending {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	for len(s.pending[ep]) == 0 {
		p, err := s.f.Next(ctx)
		Expect(err).NotTo(HaveOccurred(), "waiting for a transfer on %#02x", ep)
		s.pending[p.Endpoint()] = append(s.pending[p.Endpoint()], p)
	}
	p := s.pending[ep][0]
	s.pending[ep] = s.pending[ep][1:]
	return p
}

var _ = Describe("bulk IN error paths (scripted device)", func() {
	var s *scripted
	BeforeEach(func() {
		s = newScripted()
		connected := []byte{0xa1, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00}
		Expect(s.next(ecm.EpStatus).CompleteIn(connected, nil)).To(Succeed())
		Eventually(s.d.Net.Carrier).Should(BeTrue())
	})

	It("keeps RxURBs transfers of RxURBSize bytes in flight", func() {
		for i := 0; i < s.d.RxURBs; i++ {
			Expect(s.next(ecm.EpIn).Len()).To(Equal(1514))
		}
		Expect(s.d.Counters().Throttles.Load()).To(BeZero())
	})

	It("delivers a frame and resubmits", func() {
		frame := make([]byte, 60)
		copy(frame, s.d.Net.HardwareAddr())
		frame[12], frame[13] = 0x88, 0xb5
		Expect(s.next(ecm.EpIn).CompleteIn(frame, nil)).To(Succeed())
		Eventually(s.received).Should(HaveLen(1))
		Expect(s.received()[0]).To(Equal(frame))
		Expect(s.d.Net.Stats().RxPackets.Load()).To(BeEquivalentTo(1))
	})

	DescribeTable("counts a bad completion with Linux's counters and resubmits at once",
		func(complete func(p *sim.Pending), check func()) {
			// Complete the first of the eight in flight: a ninth
			// submission replaces it.
			first := s.next(ecm.EpIn)
			for i := 1; i < s.d.RxURBs; i++ {
				s.next(ecm.EpIn)
			}
			complete(first)
			Expect(s.next(ecm.EpIn).Len()).To(Equal(1514), "resubmitted")
			check()
			Expect(s.d.Net.Stats().RxPackets.Load()).To(BeZero())
		},
		Entry("a runt (10 bytes): rx_length_errors",
			func(p *sim.Pending) { Expect(p.CompleteIn(make([]byte, 10), nil)).To(Succeed()) },
			func() {
				Expect(s.d.Net.Stats().RxLengthErrors.Load()).To(BeEquivalentTo(1))
				Expect(s.d.Net.Stats().RxErrors.Load()).To(BeEquivalentTo(1))
			}),
		Entry("a lone ZLP: not an error",
			func(p *sim.Pending) { Expect(p.CompleteIn([]byte{}, nil)).To(Succeed()) },
			func() {
				Expect(s.d.Counters().RxZLPs.Load()).To(BeEquivalentTo(1))
				Expect(s.d.Net.Stats().RxErrors.Load()).To(BeZero())
			}),
		Entry("babble: rx_over_errors",
			func(p *sim.Pending) { Expect(p.CompleteIn(make([]byte, 2000), nil)).To(Succeed()) },
			func() {
				Expect(s.d.Net.Stats().RxOverErrors.Load()).To(BeEquivalentTo(1))
				Expect(s.d.Net.Stats().RxErrors.Load()).To(BeEquivalentTo(1))
			}),
		Entry("a timeout: counted, no error",
			func(p *sim.Pending) { Expect(p.Complete(0, hw.ErrTimeout)).To(Succeed()) },
			func() {
				Expect(s.d.Counters().Timeouts.Load()).To(BeEquivalentTo(1))
				Expect(s.d.Net.Stats().RxErrors.Load()).To(BeZero())
			}),
	)

	It("throttles resubmission after an I/O error (Linux's THROTTLE_JIFFIES)", func() {
		first := s.next(ecm.EpIn)
		for i := 1; i < s.d.RxURBs; i++ {
			s.next(ecm.EpIn)
		}
		start := time.Now()
		Expect(first.Complete(0, hw.ErrIO)).To(Succeed())
		Expect(s.next(ecm.EpIn).Len()).To(Equal(1514))
		Expect(time.Since(start)).To(BeNumerically(">=", 100*time.Millisecond))
		Expect(s.d.Net.Stats().RxErrors.Load()).To(BeEquivalentTo(1))
		Expect(s.d.Counters().Throttles.Load()).To(BeEquivalentTo(1))
	})

	It("reports a malformed notification and keeps polling", func() {
		Expect(s.next(ecm.EpStatus).CompleteIn([]byte{0xa1, 0x77, 0, 0, 0, 0, 0, 0}, nil)).To(Succeed())
		Expect(s.next(ecm.EpStatus).Len()).To(Equal(16))
		Expect(s.d.Counters().StatusErrors.Load()).To(BeEquivalentTo(1))
		Expect(s.d.Net.Carrier()).To(BeTrue())
	})
})
