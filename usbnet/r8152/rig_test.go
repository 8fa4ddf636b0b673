package r8152_test

import (
	"sync"
	"testing"
	"time"

	"dongle/hw/sim"
	"dongle/netdev"
	"dongle/skbuff"
	"dongle/usbnet"
	"dongle/usbnet/r8152"
)

var fast = &r8152.Driver{Sleep: func(time.Duration) {}}

// rig is the fake chip bound by the driver through usbnet.Probe.
type rig struct {
	t    testing.TB
	chip *fakeChip
	hw   *sim.Device
	dev  *usbnet.Dev

	mu sync.Mutex
	rx []rxFrame
}

type rxFrame struct {
	data []byte
	csum bool
}

func newRig(t testing.TB, o fakeOpts, drivers ...usbnet.Minidriver) *rig {
	t.Helper()
	r := &rig{t: t}
	r.chip, r.hw = newFake(o)
	if len(drivers) == 0 {
		drivers = []usbnet.Minidriver{fast}
	}
	d, err := usbnet.Probe(r.hw, drivers...)
	if err != nil {
		_ = r.hw.Close()
		t.Fatalf("probe: %v", err)
	}
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
	t.Cleanup(func() {
		remove()
		_ = r.dev.Disconnect()
		_ = r.hw.Close()
	})
	return r
}

// open brings the interface up and the link with it (an interrupt packet
// with INTR_LINK), and waits for the carrier LinkReset turns on.
func (r *rig) open() {
	r.t.Helper()
	if err := r.dev.Net.Open(); err != nil {
		r.t.Fatalf("open: %v", err)
	}
	r.link(true)
	r.eventually("carrier on", func() bool { return r.dev.Net.Carrier() })
}

func (r *rig) link(up bool) {
	r.t.Helper()
	p := []byte{0, 0}
	if up {
		p[0] = byte(r8152.IntrLink)
	}
	if err := r.chip.host.SendIn(fakeIntr, p); err != nil {
		r.t.Fatalf("interrupt: %v", err)
	}
}

func (r *rig) eventually(what string, cond func() bool) {
	r.t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			r.t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func (r *rig) received() []rxFrame {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]rxFrame(nil), r.rx...)
}

func (r *rig) waitRx(n int) []rxFrame {
	r.t.Helper()
	r.eventually("received frames", func() bool { return len(r.received()) >= n })
	return r.received()
}

func (r *rig) sendIn(p []byte) {
	r.t.Helper()
	if err := r.chip.host.SendIn(fakeIn, p); err != nil {
		r.t.Fatalf("bulk IN: %v", err)
	}
}

func (r *rig) xmit(f []byte) {
	r.t.Helper()
	b := skbuff.Alloc(len(f) + 16)
	b.Reserve(16)
	b.PutData(f)
	if err := r.dev.Net.Xmit(b); err != nil {
		r.t.Fatalf("xmit: %v", err)
	}
}

var peer = []byte{0x02, 0, 0, 0, 0, 0x99}

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

func (r *rig) mac() []byte { return r.dev.Net.HardwareAddr() }
