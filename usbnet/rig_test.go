package usbnet_test

import (
	"bytes"
	"encoding/binary"
	"net"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"dongle/hw/sim"
	"dongle/hw/sim/ecm"
	"dongle/skbuff"
	"dongle/usbnet"
	"dongle/usbnet/cdcecm"
)

// testType is the EtherType of the specs' frames (IEEE local experimental).
const testType = 0x88b5

// flagged is cdc_ether with other framework flags (and, optionally, another
// ID table), to exercise the framework's rules on the same model.
type flagged struct {
	cdcecm.Driver
	flags usbnet.Flags
	ids   []usbnet.ID
	name  string
}

func (f flagged) Flags() usbnet.Flags { return f.flags }
func (f flagged) IDs() []usbnet.ID {
	if f.ids != nil {
		return f.ids
	}
	return f.Driver.IDs()
}
func (f flagged) Name() string {
	if f.name != "" {
		return f.name
	}
	return f.Driver.Name()
}

// rig is an ECM model whose wire ends in a loopback plug, probed and
// opened by usbnet, with a handler collecting what comes back.
type rig struct {
	dev  *sim.Device
	m    *ecm.Model
	wire *sim.Wire
	d    *usbnet.Dev

	mu   sync.Mutex
	rx   [][]byte // received frames, link header included
	onRx chan struct{}

	wireMu sync.Mutex
	onWire [][]byte // frames the model put on the wire
}

type rigOpts struct {
	ecm    ecm.Options
	driver usbnet.Minidriver
	rxURBs int
	txURBs int
	qlen   int
	noOpen bool
}

func newRig(o rigOpts) *rig {
	r := &rig{wire: sim.NewWire(), onRx: make(chan struct{}, 1)}
	r.dev, r.m = ecm.NewDevice(o.ecm)
	r.m.Connect(r.wire.A())
	sim.NewLoopback(r.wire.B())
	r.wire.Tap(func(from *sim.End, frame []byte) {
		if from == r.wire.A() {
			r.wireMu.Lock()
			r.onWire = append(r.onWire, bytes.Clone(frame))
			r.wireMu.Unlock()
		}
	})
	drv := o.driver
	if drv == nil {
		drv = cdcecm.New()
	}
	d, err := usbnet.Probe(r.dev, drv)
	Expect(err).NotTo(HaveOccurred())
	r.d = d
	if o.rxURBs > 0 {
		d.RxURBs = o.rxURBs
	}
	if o.txURBs > 0 {
		d.TxURBs = o.txURBs
	}
	if o.qlen > 0 {
		d.Net.SetTxQueueLen(o.qlen)
	}
	d.Net.AddHandler(testType, func(b *skbuff.Buff) {
		f := append(bytes.Clone(b.MACHeader()), b.Data()...)
		b.Free(skbuff.FreeRead)
		r.mu.Lock()
		r.rx = append(r.rx, f)
		r.mu.Unlock()
		select {
		case r.onRx <- struct{}{}:
		default:
		}
	})
	DeferCleanup(func() {
		Expect(d.Disconnect()).To(Succeed())
		Expect(d.Net.Registered()).To(BeFalse())
		Expect(r.dev.Close()).To(Succeed())
	})
	if !o.noOpen {
		Expect(d.Net.Open()).To(Succeed())
		Eventually(d.Net.Carrier).Should(BeTrue())
	}
	return r
}

// frame builds an n-byte frame to our own MAC carrying seq.
func (r *rig) frame(n int, seq uint32) []byte {
	f := make([]byte, n)
	copy(f, r.d.Net.HardwareAddr())
	copy(f[6:], net.HardwareAddr{0x02, 0, 0, 0, 0, 0x99})
	binary.BigEndian.PutUint16(f[12:], testType)
	if n >= 18 {
		binary.BigEndian.PutUint32(f[14:], seq)
	}
	for i := 18; i < n; i++ {
		f[i] = byte(i + int(seq))
	}
	return f
}

// send queues frame on the netdev.
func (r *rig) send(frame []byte) error {
	b := skbuff.Alloc(len(frame))
	b.PutData(frame)
	return r.d.Net.Xmit(b)
}

func (r *rig) received() [][]byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([][]byte(nil), r.rx...)
}

func (r *rig) nrx() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.rx)
}

func (r *rig) wireFrames() [][]byte {
	r.wireMu.Lock()
	defer r.wireMu.Unlock()
	return append([][]byte(nil), r.onWire...)
}

func (r *rig) waitRx(n int) {
	Eventually(r.nrx, 5*time.Second).Should(BeNumerically(">=", n))
}

// txAccounted is every frame the driver or netdev took, counted once.
func (r *rig) txAccounted() uint64 {
	s := r.d.Net.Stats()
	return s.TxPackets.Load() + s.TxDropped.Load() + s.TxErrors.Load()
}
