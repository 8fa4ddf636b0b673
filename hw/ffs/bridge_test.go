package ffs_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gleak"
	"golang.org/x/sys/unix"

	"dongle/hw"
	"dongle/hw/ffs"
	"dongle/hw/sim"
	"dongle/hw/usbmon"
)

// vendorModel: interrupt IN 0x81, bulk IN 0x82, bulk OUT 0x03 at high
// speed; vendor IN 0x13 answers a MAC, vendor OUT 0x10 (wLength 0) is
// accepted, everything else stalls; bulk OUT is echoed on bulk IN.
func vendorModel() (*sim.Static, func() [][]byte) {
	var mu sync.Mutex
	outs := &[][]byte{}
	m := &sim.Static{
		Device: []byte{18, 1, 0, 2, 0xff, 0xff, 0, 64, 0x95, 0x0b, 0x2b, 0x77, 1, 0, 1, 2, 3, 1},
		Configs: [][]byte{{9, 2, 39, 0, 1, 1, 0, 0xa0, 0x64,
			9, 4, 0, 0, 3, 0xff, 0xff, 0, 5,
			7, 5, 0x81, 3, 8, 0, 11,
			7, 5, 0x82, 2, 0, 2, 0,
			7, 5, 0x03, 2, 0, 2, 0}},
	}
	m.ControlFunc = func(s hw.Setup, data []byte) (int, error) {
		switch {
		case s.RequestType == 0xc0 && s.Request == 0x13:
			return copy(data, []byte{2, 0, 0, 0x77, 0x72, 0}), nil
		case s.RequestType == 0x40 && s.Request == 0x10:
			return 0, nil
		}
		return 0, hw.ErrStall
	}
	m.OutFunc = func(ep uint8, data []byte) {
		mu.Lock()
		*outs = append(*outs, append([]byte(nil), data...))
		mu.Unlock()
		m.Host().SendIn(0x82, data)
	}
	return m, func() [][]byte {
		mu.Lock()
		defer mu.Unlock()
		return append([][]byte(nil), *outs...)
	}
}

// serveBridge runs a Bridge between m, as a sim device with info, and a fake
// FunctionFS function, with opts, until the spec's cleanup: then it cancels
// Serve, fails the function's blocked I/O as unbinding the UDC does, and
// checks that Serve returned nil and left no goroutine behind.
func serveBridge(m sim.Model, info hw.Info, opts ffs.Options) (*fakeFunction, *ffs.Bridge, *sim.Host) {
	GinkgoHelper()
	return serveFunction(newFunction(), m, info, opts)
}

// serveFunction is serveBridge on a given fake function.
func serveFunction(fn *fakeFunction, m sim.Model, info hw.Info, opts ffs.Options) (*fakeFunction, *ffs.Bridge, *sim.Host) {
	GinkgoHelper()
	good := gleak.Goroutines()
	DeferCleanup(func() { Eventually(gleak.Goroutines).ShouldNot(gleak.HaveLeaked(good)) })
	dev := sim.New(m, info)
	DeferCleanup(dev.Close)
	br, err := ffs.New(context.Background(), dev, fn, opts)
	Expect(err).NotTo(HaveOccurred())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- br.Serve(ctx) }()
	DeferCleanup(func() {
		cancel()
		fn.closeAll() // what unbinding the UDC does to blocked FunctionFS I/O
		Eventually(done).Should(Receive(BeNil()))
	})
	return fn, br, dev.Host()
}

var _ = Describe("Bridge", func() {
	var (
		fn   *fakeFunction
		br   *ffs.Bridge
		capt *ffs.Capture
		outs func() [][]byte
		host *sim.Host
	)
	BeforeEach(func() {
		var m *sim.Static
		m, outs = vendorModel()
		capt = ffs.NewCapture()
		fn, br, host = serveBridge(m, hw.Info{}, ffs.Options{Capture: capt})
	})

	It("writes descriptors (v2, FS+HS, ALL_CTRL_RECIP) and then strings to ep0", func() {
		fn.ep0.mu.Lock()
		ops := append([]op(nil), fn.ep0.ops...)
		fn.ep0.mu.Unlock()
		Expect(len(ops)).To(BeNumerically(">=", 2))
		d := ops[0].data
		Expect(binary.LittleEndian.Uint32(d[0:])).To(BeEquivalentTo(3))
		Expect(binary.LittleEndian.Uint32(d[4:])).To(BeEquivalentTo(len(d)))
		Expect(binary.LittleEndian.Uint32(d[8:])).To(BeEquivalentTo(1 | 2 | 64))
		Expect(ops[1].data).To(Equal(ffs.Strings()))
		Expect(br.Endpoints()).To(Equal([]ffs.Endpoint{{0x81, 3, 8}, {0x82, 2, 512}, {0x03, 2, 512}}))
	})

	It("answers a vendor IN request with the model's bytes", func() {
		fn.ep0.event(ffs.EventEnable)
		fn.ep0.setup(hw.Setup{RequestType: 0xc0, Request: 0x13, Length: 6})
		Eventually(fn.ep0.acked).Should(Receive(Equal(op{write: true, data: []byte{2, 0, 0, 0x77, 0x72, 0}})))
		Eventually(br.Enabled).Should(BeTrue())
		Expect(br.Stats().Setups.Load()).To(BeEquivalentTo(1))
	})

	It("goes on serving ep0 after the host cancelled a request (EIDRM)", func() {
		fn.ep0.fail <- fmt.Errorf("ffs: read ep0: %w", unix.EIDRM)
		fn.ep0.setup(hw.Setup{RequestType: 0xc0, Request: 0x13, Length: 6})
		Eventually(fn.ep0.acked).Should(Receive(Equal(op{write: true, data: []byte{2, 0, 0, 0x77, 0x72, 0}})))
		Expect(br.Stats().Cancelled.Load()).To(BeEquivalentTo(1))
	})

	It("stalls an IN request the model refuses by reading ep0", func() {
		fn.ep0.setup(hw.Setup{RequestType: 0xc0, Request: 0x99, Length: 2})
		Eventually(fn.ep0.acked).Should(Receive(Equal(op{n: 0})))
		Expect(br.Stats().Stalls.Load()).To(BeEquivalentTo(1))
	})

	It("acks an accepted OUT request with a zero-length read and stalls a refused one with a zero-length write", func() {
		fn.ep0.setup(hw.Setup{RequestType: 0x40, Request: 0x10, Value: 0x98})
		Eventually(fn.ep0.acked).Should(Receive(Equal(op{n: 0})))
		fn.ep0.setup(hw.Setup{RequestType: 0x40, Request: 0x55})
		Eventually(fn.ep0.acked).Should(Receive(Equal(op{write: true, data: []byte{}})))
		Expect(br.Stats().Stalls.Load()).To(BeEquivalentTo(1))
	})

	It("counts an OUT request refused after its data stage as a late stall", func() {
		fn.ep0.data <- []byte{1, 2}
		fn.ep0.setup(hw.Setup{RequestType: 0x40, Request: 0x77, Length: 2})
		Eventually(fn.ep0.acked).Should(Receive(Equal(op{n: 2})))
		Eventually(br.Stats().LateStalls.Load).Should(BeEquivalentTo(1))
	})

	It("moves bulk OUT to the model and the model's IN writes out packet by packet", func() {
		frame := bytes.Repeat([]byte{0xab}, 700)
		fn.eps[3].host <- frame
		got := packets(fn.eps[2].host, 2)
		Expect(got[0]).To(HaveLen(512), "a full packet")
		Expect(got[1]).To(HaveLen(188), "the short packet ending the transfer")
		Expect(outs()).To(Equal([][]byte{frame}))

		br.HostAddresses()
		var in, out []usbmon.Record
		Eventually(func() int {
			in, out = nil, nil
			for _, r := range capt.Records() {
				if r.XferType == usbmon.XferBulk && r.Type == usbmon.Complete {
					if r.In() {
						in = append(in, r)
					} else {
						out = append(out, r)
					}
				}
			}
			return len(in)
		}).Should(Equal(1))
		Expect(in[0].Data).To(Equal(frame), "packets joined up to the short packet")
		Expect(in[0].Endpoint).To(BeEquivalentTo(0x92), "the host's address for ep2")
		Expect(out).To(HaveLen(1))
		Expect(out[0].Length).To(BeEquivalentTo(700))
	})

	It("reads bulk OUT one packet per FunctionFS request and hands the model each transfer whole", func() {
		// FunctionFS drops what an interrupted read request holds: a
		// request of one packet never holds part of a transfer.
		frame := bytes.Repeat([]byte{0x5a}, 1300)
		fn.eps[3].host <- frame
		Eventually(outs).Should(Equal([][]byte{frame}))
		Eventually(fn.eps[3].readSizes).Should(HaveLen(4), "three packets, and the read waiting for the next transfer")
		Expect(fn.eps[3].readSizes()).To(HaveEach(512), "no request longer than a packet (the model's, the file cannot tell)")
		Expect(br.Stats().OutReads.Load()).To(BeEquivalentTo(3))
		var out []usbmon.Record
		for _, r := range capt.Records() {
			if r.XferType == usbmon.XferBulk && r.Type == usbmon.Complete && !r.In() {
				out = append(out, r)
			}
		}
		Expect(out).To(HaveLen(1), "the capture keeps the host's transfer")
		Expect(out[0].Length).To(BeEquivalentTo(1300))
	})

	It("hands the engine a transfer without an end in 16 KiB pieces, which it joins", func() {
		frame := bytes.Repeat([]byte{0x3c}, 16384+100)
		fn.eps[3].host <- frame
		Eventually(outs).Should(Equal([][]byte{frame}))
		Expect(fn.eps[3].readSizes()).To(HaveEach(512))
		var lens []uint32
		for _, r := range capt.Records() {
			if r.XferType == usbmon.XferBulk && r.Type == usbmon.Complete && !r.In() {
				lens = append(lens, r.Length)
			}
		}
		Expect(lens).To(Equal([]uint32{16384, 100}))
	})

	It("hands a ZLP after whole packets on as the end of the host's transfer", func() {
		frame := bytes.Repeat([]byte{0x77}, 1024)
		fn.eps[3].host <- frame
		Consistently(outs, 50*time.Millisecond).Should(BeEmpty(), "no end yet: the engine holds the packets")
		fn.eps[3].host <- []byte{}
		Eventually(outs).Should(Equal([][]byte{frame}))
	})

	It("hands a lone ZLP on once, as an empty transfer", func() {
		fn.eps[3].host <- []byte{}
		Eventually(outs).Should(HaveLen(1))
		Consistently(outs, 50*time.Millisecond).Should(HaveLen(1), "one ZLP, one transfer")
		Expect(outs()[0]).To(BeEmpty())
	})

	It("keeps an interrupt packet whose write failed (endpoint reset) and drops a bulk one", func() {
		fn.eps[1].fail <- fmt.Errorf("ffs: write ep1: %w", unix.ESHUTDOWN)
		fn.eps[2].fail <- fmt.Errorf("ffs: write ep2: %w", unix.ESHUTDOWN)
		Expect(host.SendIn(0x81, []byte{0xa1, 0, 1, 0, 0, 0, 0, 0})).To(Succeed())
		Expect(host.SendIn(0x82, []byte{1, 2, 3})).To(Succeed())
		var p []byte
		Eventually(fn.eps[1].host).Should(Receive(&p))
		Expect(p).To(Equal([]byte{0xa1, 0, 1, 0, 0, 0, 0, 0}), "the link status survives the reset")
		Consistently(fn.eps[2].host, 50*time.Millisecond).ShouldNot(Receive(), "the bulk packet went with the reset")
		Expect(br.Stats().IOErrors.Load()).To(BeEquivalentTo(2))
	})

	It("counts an IN packet FunctionFS sent only in part as short, not as sent", func() {
		fn.eps[2].short <- 40
		Expect(host.SendIn(0x82, bytes.Repeat([]byte{7}, 100))).To(Succeed())
		Expect(host.SendIn(0x82, []byte{1, 2, 3})).To(Succeed())
		got := packets(fn.eps[2].host, 2)
		Expect(got[0]).To(HaveLen(40), "what the host took of the first")
		Expect(got[1]).To(Equal([]byte{1, 2, 3}))
		Eventually(br.Stats().InPackets.Load).Should(BeEquivalentTo(1), "only the whole one is sent")
		Expect(br.Stats().ShortIn.Load()).To(BeEquivalentTo(1))
	})

	It("sends a ZLP from the model as a zero-length write", func() {
		fn.eps[3].host <- []byte{}
		var p []byte
		Eventually(fn.eps[2].host).WithTimeout(2 * time.Second).Should(Receive(&p))
		Expect(p).To(BeEmpty())
	})
})

// packets waits for n packets the bridge writes to a host-side endpoint.
func packets(host chan []byte, n int) [][]byte {
	GinkgoHelper()
	var got [][]byte
	for len(got) < n {
		var p []byte
		Eventually(host).Should(Receive(&p))
		got = append(got, p)
	}
	return got
}

var _ = Describe("Bridge on a full-speed connection", func() {
	It("reads OUT in packets of the connected speed and still hands the model whole transfers", func() {
		m, outs := vendorModel()
		fn := newFunction()
		fn.mps = map[int]int{3: 64} // what FUNCTIONFS_ENDPOINT_DESC says at full speed
		fn, _, _ = serveFunction(fn, m, hw.Info{}, ffs.Options{})
		frame := bytes.Repeat([]byte{0xa5}, 700)
		fn.eps[3].host <- frame
		Eventually(outs).Should(Equal([][]byte{frame}), "joined from 64-byte packets, though the model's packets are 512")
		Expect(fn.eps[3].readSizes()).To(HaveEach(64))
	})
})

var _ = Describe("Bridge log", func() {
	It("has a line for every interrupt packet written, with its bytes", func() {
		var mu sync.Mutex
		var lines []string
		logf := func(f string, a ...any) {
			mu.Lock()
			lines = append(lines, fmt.Sprintf(f, a...))
			mu.Unlock()
		}
		m, _ := vendorModel()
		fn, _, host := serveBridge(m, hw.Info{}, ffs.Options{Logf: logf})
		Expect(host.SendIn(0x81, []byte{0xa1, 0, 1, 0, 0, 0, 0, 0})).To(Succeed())
		Expect(host.SendIn(0x82, []byte{1, 2, 3})).To(Succeed())
		packets(fn.eps[1].host, 1)
		packets(fn.eps[2].host, 1)
		Eventually(func() []string {
			mu.Lock()
			defer mu.Unlock()
			return append([]string(nil), lines...)
		}).Should(ContainElement("ffs: ep1 (0x81) IN a1 00 01 00 00 00 00 00"))
		mu.Lock()
		defer mu.Unlock()
		Expect(lines).NotTo(ContainElement(ContainSubstring("ep2 (0x82) IN")), "bulk packets are too many to log")
	})
})

// streamModel is vendorModel's device with a model that reads its OUT
// byte stream as packets arrive (sim.OutStreamer), taking all it is given.
type streamModel struct {
	*sim.Static
	mu  sync.Mutex
	got []streamCall
}

type streamCall struct {
	n   int
	end bool
}

var _ sim.OutStreamer = (*streamModel)(nil)

func (m *streamModel) StreamOut(ep uint8, data []byte, end bool) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.got = append(m.got, streamCall{len(data), end})
	return len(data)
}

func (m *streamModel) calls() []streamCall {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]streamCall(nil), m.got...)
}

var _ = Describe("Bridge to a model that streams OUT", func() {
	It("hands each packet on as it comes, so whole packets with no ZLP are not held", func() {
		static, outs := vendorModel()
		m := &streamModel{Static: static}
		fn, _, _ := serveBridge(m, hw.Info{}, ffs.Options{})
		fn.eps[3].host <- bytes.Repeat([]byte{1}, 1024)
		Eventually(m.calls).Should(Equal([]streamCall{{512, false}, {512, false}}))
		fn.eps[3].host <- bytes.Repeat([]byte{2}, 100)
		Eventually(m.calls).Should(HaveLen(3))
		Expect(m.calls()[2]).To(Equal(streamCall{100, true}))
		Expect(outs()).To(BeEmpty(), "Out is never called on a streaming model")
	})
})
