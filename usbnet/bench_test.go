package usbnet_test

import (
	"encoding/binary"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"dongle/hw/sim"
	"dongle/hw/sim/ecm"
	"dongle/skbuff"
	"dongle/usbnet"
	"dongle/usbnet/cdcecm"
)

// bench is an opened ECM model device for plain tests and benchmarks. With
// loop the wire ends in a loopback plug; otherwise in a port that discards,
// and frames can be injected from the wire's far end.
type bench struct {
	dev   *sim.Device
	m     *ecm.Model
	wire  *sim.Wire
	d     *usbnet.Dev
	got   atomic.Uint64
	wake  chan struct{}
	frame []byte
	// rxTimer bounds waitRx without allocating a timer per wait.
	rxTimer *time.Timer
}

type discard struct{}

func (discard) Receive([]byte) {}

func newBench(tb testing.TB, speed int, loop bool, size int) *bench {
	tb.Helper()
	opts := ecm.Options{}
	if speed == 480 {
		opts.Speed = 3 // hw.SpeedHigh
	}
	be := &bench{wire: sim.NewWire(), wake: make(chan struct{}, 1), rxTimer: time.NewTimer(time.Hour)}
	be.rxTimer.Stop()
	be.dev, be.m = ecm.NewDevice(opts)
	be.m.Connect(be.wire.A())
	if loop {
		sim.NewLoopback(be.wire.B())
	} else {
		be.wire.B().Attach(discard{})
	}
	d, err := usbnet.Probe(be.dev, cdcecm.New())
	if err != nil {
		tb.Fatal(err)
	}
	be.d = d
	d.Net.SetTxQueueLen(1 << 16)
	d.Net.MaxBacklog = 1 << 12
	d.Net.AddHandler(testType, func(b *skbuff.Buff) {
		b.Free(skbuff.FreeRead)
		be.got.Add(1)
		select {
		case be.wake <- struct{}{}:
		default:
		}
	})
	if err := d.Net.Open(); err != nil {
		tb.Fatal(err)
	}
	waitCarrier(tb, d, 2*time.Second)
	be.frame = make([]byte, size)
	copy(be.frame, d.Net.HardwareAddr())
	copy(be.frame[6:], []byte{2, 0, 0, 0, 0, 9})
	binary.BigEndian.PutUint16(be.frame[12:], testType)
	tb.Cleanup(func() {
		if err := d.Disconnect(); err != nil {
			tb.Error(err)
		}
		if err := be.dev.Close(); err != nil {
			tb.Error(err)
		}
	})
	return be
}

func (be *bench) xmit() {
	b := skbuff.Alloc(len(be.frame))
	b.PutData(be.frame)
	if err := be.d.Net.Xmit(b); err != nil {
		panic(err)
	}
}

// waitRx waits until n frames have been handled.
func (be *bench) waitRx(n uint64) {
	if be.got.Load() >= n {
		return
	}
	be.rxTimer.Reset(time.Second)
	for be.got.Load() < n {
		select {
		case <-be.wake:
		case <-be.rxTimer.C:
			if be.got.Load() < n {
				panic("frames lost")
			}
			be.rxTimer.Reset(time.Second)
		}
	}
	be.rxTimer.Stop()
}

// waitTx waits until n frames completed on bulk OUT.
func (be *bench) waitTx(n uint64) {
	s := be.d.Net.Stats()
	for s.TxPackets.Load()+s.TxErrors.Load()+s.TxDropped.Load() < n {
		runtime.Gosched()
	}
}

// inject sends a frame into the device from the wire's far end.
func (be *bench) inject() { be.wire.B().Send(be.frame) }

const warm = 200

// TestZeroAllocs proves the per-packet paths allocate nothing in steady
// state: a frame sent (Xmit → TxFixup → ZLP rule → Submit → completion →
// free), a frame received (completion → RxFixup → eth_type_trans → netif_rx
// → handler → free, slot refilled from the pool), and both at once through
// the loopback plug. Sizes include a multiple of wMaxPacketSize, so the
// explicit ZLP transfer is on the path.
func TestZeroAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are meaningless under -race (sync.Pool drops items)")
	}
	t.Cleanup(func() { // runs after every bench's own cleanup
		if n := skbuff.Live(); n != 0 {
			t.Errorf("%d sk_buffs live after disconnect", n)
		}
	})
	for _, size := range []int{60, 512, 1514} {
		be := newBench(t, 12, true, size)
		for i := 0; i < warm; i++ {
			be.xmit()
			be.waitRx(uint64(i + 1))
		}
		n := be.got.Load()
		allocs := testing.AllocsPerRun(500, func() {
			be.xmit()
			n++
			be.waitRx(n)
		})
		if allocs != 0 {
			t.Errorf("round trip of a %d-byte frame: %v allocs, want 0", size, allocs)
		}
	}

	be := newBench(t, 12, false, 1514)
	var sent uint64
	for i := 0; i < warm; i++ {
		be.xmit()
		sent++
		be.waitTx(sent)
	}
	if a := testing.AllocsPerRun(500, func() { be.xmit(); sent++; be.waitTx(sent) }); a != 0 {
		t.Errorf("TX path: %v allocs per frame, want 0", a)
	}
	var rx uint64
	for i := 0; i < warm; i++ {
		be.inject()
		rx++
		be.waitRx(rx)
	}
	if a := testing.AllocsPerRun(500, func() { be.inject(); rx++; be.waitRx(rx) }); a != 0 {
		t.Errorf("RX path: %v allocs per frame, want 0", a)
	}
	if be.d.Counters().ZLPs.Load() != 0 {
		t.Errorf("a 1514-byte frame at full speed needs no ZLP")
	}
}

// noLiveAtEnd checks, after the bench's cleanup, that every sk_buff was
// freed.
func noLiveAtEnd(tb testing.TB) {
	tb.Cleanup(func() {
		if n := skbuff.Live(); n != 0 {
			tb.Errorf("%d sk_buffs live after disconnect", n)
		}
	})
}

func reportFPS(b *testing.B, frames int) {
	b.ReportMetric(float64(frames)/b.Elapsed().Seconds(), "frames/s")
}

// BenchmarkECMTx: frames queued on the netdev and sent through the ECM
// model to a wire that discards them, TX slots kept busy (pipelined).
func BenchmarkECMTx(b *testing.B) {
	for _, c := range []struct {
		name        string
		speed, size int
	}{{"FS-60", 12, 60}, {"FS-1514", 12, 1514}, {"HS-512-ZLP", 480, 512}, {"HS-1514", 480, 1514}} {
		b.Run(c.name, func(b *testing.B) {
			noLiveAtEnd(b)
			be := newBench(b, c.speed, false, c.size)
			for i := 0; i < warm; i++ {
				be.xmit()
			}
			be.waitTx(warm)
			b.SetBytes(int64(c.size))
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				be.xmit()
				if i%64 == 63 {
					be.waitTx(uint64(warm + i + 1 - 64)) // bound the netdev queue
				}
			}
			be.waitTx(uint64(warm + b.N))
			b.StopTimer()
			reportFPS(b, b.N)
		})
	}
}

// BenchmarkECMRx: frames injected from the wire, received through the ECM
// model by the RX transfers in flight and delivered to a netdev handler.
func BenchmarkECMRx(b *testing.B) {
	for _, c := range []struct {
		name        string
		speed, size int
	}{{"FS-60", 12, 60}, {"FS-1514", 12, 1514}, {"HS-1514", 480, 1514}} {
		b.Run(c.name, func(b *testing.B) {
			noLiveAtEnd(b)
			be := newBench(b, c.speed, false, c.size)
			for i := 0; i < warm; i++ {
				be.inject()
				be.waitRx(uint64(i + 1))
			}
			b.SetBytes(int64(c.size))
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				be.inject()
				if i%4 == 3 { // stay within the model's IN queue
					be.waitRx(uint64(warm + i + 1))
				}
			}
			be.waitRx(uint64(warm + b.N))
			b.StopTimer()
			reportFPS(b, b.N)
			if hb := be.m.Counters().HostBusy; hb != 0 {
				b.Fatalf("%d frames dropped at the device", hb)
			}
		})
	}
}

// BenchmarkECMRoundTrip: one frame at a time, out through bulk OUT, back
// through the loopback plug and bulk IN: the latency of the whole path.
func BenchmarkECMRoundTrip(b *testing.B) {
	for _, size := range []int{60, 1514} {
		b.Run(map[int]string{60: "60", 1514: "1514"}[size], func(b *testing.B) {
			noLiveAtEnd(b)
			be := newBench(b, 12, true, size)
			for i := 0; i < warm; i++ {
				be.xmit()
				be.waitRx(uint64(i + 1))
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				be.xmit()
				be.waitRx(uint64(warm + i + 1))
			}
			b.StopTimer()
			reportFPS(b, b.N)
		})
	}
}
