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
	"sync/atomic"
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
	"dongle/usbnet/catalog"
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
	// Rx receives a copy of every test frame of this run (IsTestFrame) the
	// stack delivers; RxIgnored counts the TestEtherType frames it left out.
	Rx        chan []byte
	RxIgnored atomic.Uint64
	// RxOthers counts every received frame that is not one of this run's
	// test frames (a real wire's other stations: ARP, IPv6 ND, LLDP, STP),
	// so that counter checks can leave them out (RxTestPackets). RxTest
	// counts those that are, at the same point (the stack's RX tap).
	RxOthers, RxTest atomic.Uint64

	rec       *record.Device
	tracePath string
	// found is the device finding the spec saw, if any (finding.go).
	found *seenFinding
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

	_, real := b.(*usbBackend)
	list, err := catalog.Drivers(DriverSelection(), !real)
	Expect(err).NotTo(HaveOccurred(), "driver choice")
	h.Dev, err = usbnet.Probe(h.rec, list...)
	Expect(err).NotTo(HaveOccurred(), "probe %s", b.Name())
	h.Net = h.Dev.Net
	h.Net.AddTap(func(b *skbuff.Buff, dir netdev.Direction) {
		if dir != netdev.DirRX {
			return
		}
		if isTestBuff(b) {
			h.RxTest.Add(1)
		} else {
			h.RxOthers.Add(1)
		}
	})
	h.Net.AddHandler(TestEtherType, func(buf *skbuff.Buff) {
		c := append(append([]byte(nil), buf.MACHeader()...), buf.Data()...)
		buf.Free(skbuff.FreeRead)
		if !IsTestFrame(c) {
			// Another run's frame (or anyone's on a shared wire).
			h.RxIgnored.Add(1)
			return
		}
		select {
		case h.Rx <- c:
		default:
		}
	})
	return h
}

// isTestBuff is IsTestFrame on a received buffer, without copying it.
func isTestBuff(b *skbuff.Buff) bool {
	hdr, data := b.MACHeader(), b.Data()
	return len(hdr) >= 14 && len(data) >= MinFrame-14 &&
		binary.BigEndian.Uint16(hdr[12:]) == TestEtherType &&
		binary.BigEndian.Uint32(data[tagOffset-14:]) == runTag
}

// RxTestPackets is rx_packets without the frames of other stations
// (RxOthers): what the driver received of this run's test frames. A frame
// is counted in rx_packets by the driver a moment before the stack's tap
// sees it, so a check against it should allow that moment (Eventually),
// and it is no baseline to count from: another station's frame in that
// moment makes it one too high. RxTest is.
func (h *Harness) RxTestPackets() uint64 {
	// RxOthers first: a frame counted by both between the two loads then
	// makes the result high for a moment, never low (a low one could
	// match a check that a frame stuck high should fail).
	others := h.RxOthers.Load()
	return h.Net.Stats().RxPackets.Load() - others
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
	h.reportIgnored()
	h.keepTrace()
}

// reportIgnored records, where anything was ignored, how many frames on a
// real wire were not this run's: a busy wire is worth knowing about when a
// spec fails.
func (h *Harness) reportIgnored() {
	var wire uint64
	if p, ok := h.T.Peer.(interface{ Ignored() uint64 }); ok {
		wire = p.Ignored()
	}
	if rx := h.RxIgnored.Load(); wire+rx > 0 {
		AddReportEntry("ignored-frames", fmt.Sprintf("not this run's test frames: %d at the peer, %d delivered by the stack", wire, rx))
	}
}

// checkBatchedReaping proves, on a device model, that the spec ran the
// production reaping path: usbnet's bottom half gives WaitBatch room for
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

// keepTrace keeps the spec's USB trace where it is evidence: a failed
// spec's, and a passed spec's that showed a device finding (finding.go).
// Every other trace is removed.
func (h *Harness) keepTrace() {
	name := unsafeName.ReplaceAllString(CurrentSpecReport().FullText(), "_")
	if len(name) > 120 {
		name = name[:120]
	}
	if !CurrentSpecReport().Failed() {
		if !h.reportFinding(name) {
			os.Remove(h.tracePath)
		}
		return
	}
	if dst, ok := h.copyTrace(name); ok {
		os.Remove(h.tracePath)
		AddReportEntry("usb-trace", dst, ReportEntryVisibilityAlways)
		return
	}
	AddReportEntry("usb-trace", h.tracePath, ReportEntryVisibilityAlways)
}

// copyTrace copies the spec's USB trace to ReportDir/name.pcap.
func (h *Harness) copyTrace(name string) (string, bool) {
	dst := filepath.Join(ReportDir, name+".pcap")
	if err := os.MkdirAll(ReportDir, 0o755); err != nil {
		return "", false
	}
	b, err := os.ReadFile(h.tracePath)
	if err != nil || os.WriteFile(dst, b, 0o644) != nil {
		return "", false
	}
	return dst, true
}

// Frame builds a test frame of size bytes (header included) from src to dst:
// this run's tag and seq in the first payload bytes (tag.go), a pattern
// after them.
func Frame(dst, src net.HardwareAddr, size, seq int) []byte {
	if size < MinFrame {
		panic(fmt.Sprintf("specs.Frame: size %d under %d", size, MinFrame))
	}
	f := make([]byte, size)
	copy(f, dst)
	copy(f[6:], src)
	binary.BigEndian.PutUint16(f[12:], TestEtherType)
	binary.BigEndian.PutUint32(f[tagOffset:], runTag)
	binary.BigEndian.PutUint32(f[seqOffset:], uint32(seq))
	for i := MinFrame; i < size; i++ {
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

// OnWire waits until the peer has captured the test frame with sequence
// number seq (since its last Reset) and returns it; frames the device sent
// before it, which on a real wire may arrive late, are passed over.
func (h *Harness) OnWire(ctx context.Context, seq int) ([]byte, error) {
	for n := 1; ; {
		got, err := h.T.Peer.Received(ctx, n)
		if err != nil {
			return nil, fmt.Errorf("frame %d not on the wire: %w", seq, err)
		}
		for _, f := range got {
			if FrameSeq(f) == seq {
				return f, nil
			}
		}
		n = len(got) + 1
	}
}

// NoFrameWithin asserts that nothing is delivered for d.
func (h *Harness) NoFrameWithin(d time.Duration) {
	GinkgoHelper()
	Consistently(h.Rx).WithTimeout(d).ShouldNot(Receive(), "a frame was delivered")
}
