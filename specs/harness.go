package specs

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gleak"

	"dongle/hw"
	"dongle/hw/record"
	"dongle/hw/sim"
	"dongle/netdev"
	"dongle/skbuff"
	"dongle/usbnet"
	"dongle/usbnet/drivers"
)

// TestEtherType is the EtherType of the specs' own frames (IEEE 802 local
// experimental 1), so that nothing else on a real wire is mistaken for them.
const TestEtherType = 0x88b5

// Harness is one spec's device: the backend's target, recorded, probed by
// usbnet, with a handler collecting the test frames the stack receives.
type Harness struct {
	B   Backend
	T   *Target
	Dev *usbnet.Dev
	Net *netdev.Device
	// Rx receives a copy of every TestEtherType frame the stack delivers.
	Rx chan []byte

	rec       *record.Device
	tracePath string
}

// Setup opens b for the current spec, probes the driver and registers
// cleanup: teardown in reverse order, then the leak checks every spec ends
// with. It fails the spec (not the suite) on any error.
func Setup(ctx context.Context, b Backend) *Harness {
	GinkgoHelper()
	before := gleak.Goroutines()
	liveBefore := skbuff.Live()
	h := &Harness{B: b, Rx: make(chan []byte, 4096)}

	t, err := b.Open(ctx)
	Expect(err).NotTo(HaveOccurred(), "open backend %s", b.Name())
	h.T = t

	f, err := os.CreateTemp("", "dongle-spec-*.pcap")
	Expect(err).NotTo(HaveOccurred())
	h.tracePath = f.Name()
	f.Close()
	h.rec, err = record.Create(t.HW, h.tracePath, record.Options{})
	Expect(err).NotTo(HaveOccurred())

	DeferCleanup(func(ctx SpecContext) {
		h.teardown()
		// Nothing lost: every buffer freed exactly once, no goroutine left.
		Eventually(skbuff.Live).WithTimeout(2*time.Second).Should(Equal(liveBefore), "live sk_buffs after teardown")
		Eventually(gleak.Goroutines).WithTimeout(3*time.Second).ShouldNot(gleak.HaveLeaked(before), "goroutines after teardown")
	})

	list := drivers.ForModels()
	if _, real := b.(*usbBackend); real {
		list = drivers.All()
	}
	h.Dev, err = usbnet.Probe(h.rec, list...)
	Expect(err).NotTo(HaveOccurred(), "probe %s", b.Name())
	h.Net = h.Dev.Net
	h.Net.AddHandler(TestEtherType, func(buf *skbuff.Buff) {
		c := append(append([]byte(nil), buf.MACHeader()...), buf.Data()...)
		buf.Free(skbuff.FreeRead)
		select {
		case h.Rx <- c:
		default:
		}
	})
	return h
}

// Up brings the interface up and, where the backend reports link, waits
// for the carrier.
func (h *Harness) Up(ctx context.Context) {
	GinkgoHelper()
	Expect(h.Net.Open()).To(Succeed())
	if has(h.B, CapLive) {
		Eventually(ctx, h.Net.Carrier).WithPolling(5*time.Millisecond).Should(BeTrue(), "carrier after open")
	}
}

// teardown closes in reverse order and keeps the trace if the spec failed.
func (h *Harness) teardown() {
	GinkgoHelper()
	if h.Dev != nil {
		if h.Net.Flags()&netdev.FlagUp != 0 {
			Expect(h.Net.Close()).To(Succeed(), "netdev close")
		}
		Expect(h.Dev.Disconnect()).To(Succeed(), "usbnet disconnect")
		h.checkBatchedReaping()
	}
	// record.Close closes the backend's device: that fails (ErrBusy) if a
	// transfer were still in flight or an interface still claimed.
	Expect(h.rec.Close()).To(Succeed(), "closing %s (transfers still in flight?)", h.B.Name())
	if h.T.Close != nil {
		if _, sim := h.B.(*simBackend); !sim {
			// The target's own Close does what the device's Close did not
			// (the libusb context, the driver-reattach check).
			if err := h.T.Close(); err != nil && !isAlreadyClosed(err) {
				Fail(fmt.Sprintf("closing %s: %v", h.B.Name(), err))
			}
		}
	}
	h.keepTrace()
}

// checkBatchedReaping proves, on a device model, that the spec ran the
// production reaping path: usbnet's bulk IN reaper gives WaitBatch room for
// every transfer it has in flight, so no reap may have left a completed
// transfer behind at the model (sim LeftDone), and each batch the model
// handed out must have reached usbnet as one (sim Reaps = RxReaps). A
// wrapper between them, such as the recorder every spec runs under, that
// reaped one at a time would fail any spec in which two transfers were
// done at once: a burst, a cancel at Stop, a stall.
func (h *Harness) checkBatchedReaping() {
	GinkgoHelper()
	sd, ok := h.T.HW.(*sim.Device)
	if !ok {
		return
	}
	st := sd.Stats(h.Dev.In.Address)
	Expect(st.LeftDone).To(BeZero(), "bulk IN reaps that left a completed transfer at the model (something between usbnet and %s shrank WaitBatch's out)", h.B.Name())
	Expect(h.Dev.Counters().RxReaps.Load()).To(Equal(st.Reaps), "bulk IN batches usbnet reaped vs batches %s handed out", h.B.Name())
}

// isAlreadyClosed reports whether err says only that something was closed
// already (the device, which the recorder closed first): every leaf of the
// error tree must be hw.ErrClosed, so a real close error joined with one
// still fails the spec.
func isAlreadyClosed(err error) bool {
	switch e := err.(type) {
	case nil:
		return false
	case interface{ Unwrap() []error }:
		leaves := e.Unwrap()
		for _, l := range leaves {
			if !isAlreadyClosed(l) {
				return false
			}
		}
		return len(leaves) > 0
	}
	if err == hw.ErrClosed {
		return true
	}
	return isAlreadyClosed(errors.Unwrap(err))
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

func (h *Harness) keepTrace() {
	if !CurrentSpecReport().Failed() {
		os.Remove(h.tracePath)
		return
	}
	name := unsafeName.ReplaceAllString(CurrentSpecReport().FullText(), "_")
	if len(name) > 120 {
		name = name[:120]
	}
	dst := filepath.Join(ReportDir, name+".pcap")
	if err := os.MkdirAll(ReportDir, 0o755); err == nil {
		if b, err := os.ReadFile(h.tracePath); err == nil && os.WriteFile(dst, b, 0o644) == nil {
			os.Remove(h.tracePath)
			AddReportEntry("usb-trace", dst, ReportEntryVisibilityAlways)
			return
		}
	}
	AddReportEntry("usb-trace", h.tracePath, ReportEntryVisibilityAlways)
}

// Frame builds a test frame of size bytes (header included) from src to dst,
// with seq in the first payload bytes and a pattern after it.
func Frame(dst, src net.HardwareAddr, size, seq int) []byte {
	if size < 14+4 {
		panic(fmt.Sprintf("specs.Frame: size %d under 18", size))
	}
	f := make([]byte, size)
	copy(f, dst)
	copy(f[6:], src)
	binary.BigEndian.PutUint16(f[12:], TestEtherType)
	binary.BigEndian.PutUint32(f[14:], uint32(seq))
	for i := 18; i < size; i++ {
		f[i] = byte(i*7 + seq)
	}
	return f
}

// PeerMAC is the address the specs' peer uses.
var PeerMAC = net.HardwareAddr{0x02, 0x00, 0x00, 0xaa, 0xbb, 0xcc}

// Send queues one frame for transmission through the whole stack.
func (h *Harness) Send(frame []byte) error {
	b := skbuff.Alloc(len(frame))
	b.PutData(frame)
	b.Protocol = TestEtherType
	return h.Net.Xmit(b)
}

// Receive waits for the next test frame the stack delivers.
func (h *Harness) Receive(ctx context.Context) ([]byte, error) {
	select {
	case f := <-h.Rx:
		return f, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("no frame received: %w", ctx.Err())
	}
}

// NoFrameWithin asserts that nothing is delivered for d.
func (h *Harness) NoFrameWithin(d time.Duration) {
	GinkgoHelper()
	Consistently(h.Rx).WithTimeout(d).ShouldNot(Receive(), "a frame was delivered")
}
