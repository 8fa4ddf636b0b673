package asix_test

import (
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gleak"

	"dongle/hw/sim"
	"dongle/hw/sim/ax88772"
	"dongle/netdev"
	"dongle/skbuff"
	"dongle/usbnet"
	"dongle/usbnet/asix"
)

// fast is the driver with the chip's reset waits skipped (the model needs
// none).
var fast = &asix.Driver{Sleep: func(time.Duration) {}}

// rig is one modelled adapter bound by the driver, its Ethernet side on a
// wire whose far end is a loopback plug or a capture.
type rig struct {
	hw    *sim.Device
	model *ax88772.Model
	dev   *usbnet.Dev
	wire  *sim.Wire
	cap   *sim.Capture

	mu  sync.Mutex
	rx  [][]byte
	got chan struct{}
}

// newRig binds a model (no open). Cleanup disconnects and closes.
func newRig(o ax88772.Options) *rig {
	GinkgoHelper()
	r := &rig{got: make(chan struct{}, 1)}
	r.hw, r.model = ax88772.NewDevice(o)
	r.wire = sim.NewWire()
	r.model.Plug(r.wire.A())
	r.cap = sim.NewCapture()
	r.wire.B().Attach(r.cap)
	d, err := usbnet.Probe(r.hw, fast)
	Expect(err).NotTo(HaveOccurred())
	r.dev = d
	remove := d.Net.AddTap(func(b *skbuff.Buff, dir netdev.Direction) {
		if dir != netdev.DirRX {
			return
		}
		r.mu.Lock()
		// The link header was pulled (eth_type_trans): put it back.
		f := append(append([]byte(nil), b.MACHeader()...), b.Data()...)
		r.rx = append(r.rx, f)
		r.mu.Unlock()
		select {
		case r.got <- struct{}{}:
		default:
		}
	})
	DeferCleanup(func() {
		remove()
		_ = r.dev.Disconnect()
		_ = r.hw.Close()
	})
	return r
}

// open brings the interface up and waits for the carrier.
func (r *rig) open() {
	GinkgoHelper()
	Expect(r.dev.Net.Open()).To(Succeed())
	Eventually(r.dev.Net.Carrier).WithTimeout(2 * time.Second).Should(BeTrue())
}

// loopback puts a loopback plug at the far end of the wire.
func (r *rig) loopback() { sim.NewLoopback(r.wire.B()) }

func (r *rig) received() [][]byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([][]byte(nil), r.rx...)
}

func (r *rig) clearRx() {
	r.mu.Lock()
	r.rx = nil
	r.mu.Unlock()
}

// waitRx waits until n frames arrived.
func (r *rig) waitRx(n int) [][]byte {
	GinkgoHelper()
	Eventually(func() int { return len(r.received()) }).WithTimeout(3 * time.Second).WithPolling(time.Millisecond).Should(BeNumerically(">=", n))
	return r.received()
}

// ethFrame builds an n-byte Ethernet frame to dst from src with a
// recognisable payload.
func ethFrame(n int, dst, src []byte, seed byte) []byte {
	f := make([]byte, n)
	copy(f, dst)
	copy(f[6:], src)
	f[12], f[13] = 0x88, 0xb5 // IEEE local experimental EtherType
	for i := 14; i < n; i++ {
		f[i] = seed + byte(i*13)
	}
	return f
}

// xmit sends f through the netdev (with the 4+4 bytes of room ASIX
// framing needs: Linux's needed_headroom/needed_tailroom).
func (r *rig) xmit(f []byte) {
	GinkgoHelper()
	b := skbuff.Alloc(len(f) + 4)
	b.PutData(f)
	Expect(r.dev.Net.Xmit(b)).To(Succeed())
}

var _ = BeforeEach(func() {
	g := gleak.Goroutines()
	DeferCleanup(func() {
		Eventually(gleak.Goroutines).WithTimeout(2 * time.Second).ShouldNot(gleak.HaveLeaked(g))
		Eventually(skbuff.Live).WithTimeout(2 * time.Second).Should(BeZero())
	})
})
