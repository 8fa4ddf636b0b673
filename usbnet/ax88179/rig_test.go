package ax88179_test

import (
	"encoding/binary"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"dongle/hw/sim"
	simax "dongle/hw/sim/ax88179"
	"dongle/netdev"
	"dongle/skbuff"
	"dongle/usbnet"
	"dongle/usbnet/ax88179"
)

var fast = &ax88179.Driver{NoDelay: true}

type rxFrame struct {
	data []byte
	csum bool
}

// rig is a modelled AX88179 bound by the driver, its Ethernet side on a
// wire whose far end is a capture (or a loopback plug).
type rig struct {
	hw    *sim.Device
	model *simax.Model
	dev   *usbnet.Dev
	wire  *sim.Wire
	cap   *sim.Capture

	mu sync.Mutex
	rx []rxFrame
}

func newRig(cfg simax.Config) *rig {
	GinkgoHelper()
	r := &rig{}
	r.model, r.hw = simax.New(cfg)
	r.wire = sim.NewWire()
	r.model.Connect(r.wire.A())
	r.cap = sim.NewCapture()
	r.wire.B().Attach(r.cap)
	d, err := usbnet.Probe(r.hw, fast)
	Expect(err).NotTo(HaveOccurred())
	r.dev = d
	remove := d.Net.AddTap(func(b *skbuff.Buff, dir netdev.Direction) {
		if dir != netdev.DirRX {
			return
		}
		f := append(append([]byte(nil), b.MACHeader()...), b.Data()...)
		r.mu.Lock()
		r.rx = append(r.rx, rxFrame{f, b.CsumVerified})
		r.mu.Unlock()
	})
	DeferCleanup(func() {
		remove()
		_ = r.dev.Disconnect()
		_ = r.hw.Close()
	})
	return r
}

func (r *rig) open() {
	GinkgoHelper()
	Expect(r.dev.Net.Open()).To(Succeed())
	Eventually(r.dev.Net.Carrier).WithTimeout(2 * time.Second).Should(BeTrue())
	// LinkReset runs on the kevent worker after the carrier came up: wait
	// until it has programmed the medium mode.
	Eventually(func() uint16 { return r.model.Reg16(0x22) & 0x100 }).WithTimeout(2 * time.Second).ShouldNot(BeZero())
	Eventually(func() int { return r.dev.Net.Speed() }).WithTimeout(2 * time.Second).ShouldNot(BeZero())
}

func (r *rig) received() []rxFrame {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]rxFrame(nil), r.rx...)
}

func (r *rig) waitRx(n int) []rxFrame {
	GinkgoHelper()
	Eventually(func() int { return len(r.received()) }).WithTimeout(3 * time.Second).WithPolling(time.Millisecond).Should(BeNumerically(">=", n))
	return r.received()
}

// send puts f on the wire towards the adapter.
func (r *rig) send(f []byte) { r.wire.B().Send(f) }

func (r *rig) xmit(f []byte) {
	GinkgoHelper()
	b := skbuff.Alloc(len(f) + 8)
	b.PutData(f)
	Expect(r.dev.Net.Xmit(b)).To(Succeed())
}

func ethFrame(n int, dst, src []byte, seed byte) []byte {
	f := make([]byte, n)
	copy(f, dst)
	copy(f[6:], src)
	f[12], f[13] = 0x88, 0xb5
	for i := 14; i < n; i++ {
		f[i] = seed + byte(i*13)
	}
	return f
}

var peer = []byte{0x02, 0, 0, 0, 0, 0x99}

func (r *rig) mac() []byte { return r.dev.Net.HardwareAddr() }

// udpFrame is an IPv4/UDP frame to dst with a correct (or broken) checksum.
func udpFrame(dst []byte, payload int, breakSum bool) []byte {
	f := make([]byte, 14+20+8+payload)
	copy(f, dst)
	copy(f[6:], peer)
	f[12], f[13] = 0x08, 0x00
	ip := f[14:]
	ip[0], ip[8], ip[9] = 0x45, 64, 17
	binary.BigEndian.PutUint16(ip[2:], uint16(20+8+payload))
	copy(ip[12:], []byte{10, 0, 0, 1, 10, 0, 0, 2})
	binary.BigEndian.PutUint16(ip[10:], ^fold(sum(ip[:20], 0)))
	u := ip[20:]
	binary.BigEndian.PutUint16(u[0:], 1234)
	binary.BigEndian.PutUint16(u[2:], 5678)
	binary.BigEndian.PutUint16(u[4:], uint16(8+payload))
	for i := 8; i < len(u); i++ {
		u[i] = byte(i)
	}
	ps := sum(ip[12:20], 0) + 17 + uint32(len(u))
	c := ^fold(sum(u, ps))
	if breakSum {
		c ^= 0x5555
	}
	binary.BigEndian.PutUint16(u[6:], c)
	return f
}

func sum(b []byte, s uint32) uint32 {
	for ; len(b) >= 2; b = b[2:] {
		s += uint32(b[0])<<8 | uint32(b[1])
	}
	if len(b) == 1 {
		s += uint32(b[0]) << 8
	}
	return s
}

func fold(s uint32) uint16 {
	for s > 0xffff {
		s = s&0xffff + s>>16
	}
	return uint16(s)
}
