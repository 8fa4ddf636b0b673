package usbnet_test

import (
	"encoding/binary"
	"io"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"dongle/hw/record"
	"dongle/hw/sim"
	"dongle/hw/sim/ecm"
	"dongle/skbuff"
	"dongle/usbnet/cdcecm"
)

// TestBatchReap: through the stack the suite runs (the ECM model behind the
// recorder), every frame of a window in both directions (through the
// model's loopback plug) arrives once, intact and in order, each bulk IN
// reap takes at least one transfer, the RX path allocates nothing per
// frame, recorder included, and Disconnect leaves no buffer live.
func TestBatchReap(t *testing.T) {
	noLiveAtEnd(t)
	sd, m := ecm.NewDevice(ecm.Options{})
	wire := sim.NewWire()
	m.Connect(wire.A())
	sim.NewLoopback(wire.B())
	rec, err := record.New(sd, io.Discard, record.Options{})
	if err != nil {
		t.Fatal(err)
	}
	d := probed(t, rec, cdcecm.New(), rec, nil)
	d.Net.SetTxQueueLen(1 << 12)
	d.Net.MaxBacklog = 1 << 12
	var (
		mu   sync.Mutex
		seqs []uint32
		bad  int
		got  atomic.Uint64
		wake = make(chan struct{}, 1)
	)
	const size = 1514
	d.Net.AddHandler(testType, func(b *skbuff.Buff) {
		p := b.Data()
		mu.Lock()
		if len(p) != size-14 {
			bad++
		} else {
			s := binary.BigEndian.Uint32(p)
			for i := 4; i < len(p); i++ {
				if p[i] != byte(s)+byte(i) {
					bad++
					break
				}
			}
			if len(seqs) < cap(seqs) {
				seqs = append(seqs, s)
			}
		}
		mu.Unlock()
		b.Free(skbuff.FreeRead)
		got.Add(1)
		select {
		case wake <- struct{}{}:
		default:
		}
	})
	if err := d.Net.Open(); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(2 * time.Second); !d.Net.Carrier(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("no carrier")
		}
	}
	timeout := time.NewTimer(time.Hour) // one timer, reset per wait: waitFor allocates nothing
	timeout.Stop()
	waitFor := func(n uint64) {
		timeout.Reset(5 * time.Second)
		defer timeout.Stop()
		for got.Load() < n {
			select {
			case <-wake:
			case <-timeout.C:
				t.Fatalf("%d of %d frames after 5 s (stats %+v)", got.Load(), n, d.Net.Stats().Snapshot())
			}
		}
	}
	xmit := func(s uint32) {
		b := skbuff.Alloc(size)
		f := b.Put(size)
		copy(f, d.Net.HardwareAddr())
		copy(f[6:], []byte{2, 0, 0, 0, 0, 9})
		binary.BigEndian.PutUint16(f[12:], testType)
		binary.BigEndian.PutUint32(f[14:], s)
		for i := 4; i < size-14; i++ {
			f[14+i] = byte(s) + byte(i)
		}
		if err := d.Net.Xmit(b); err != nil {
			t.Fatal(err)
		}
	}

	// Windows of 8 frames: more at once overflow the model's IN FIFO
	// (HostBusy), as they would a real adapter's.
	const burst, window = 400, 8
	seqs = make([]uint32, 0, burst)
	for i := 0; i < burst; i += window {
		for j := range window {
			xmit(uint32(i + j))
		}
		waitFor(uint64(i + window))
	}
	if c := m.Counters(); c.HostBusy != 0 {
		t.Fatalf("the model dropped %d frames (IN FIFO full): the test's window is too large", c.HostBusy)
	}
	mu.Lock()
	if bad != 0 {
		t.Errorf("%d frames corrupted", bad)
	}
	if len(seqs) != burst {
		t.Fatalf("%d frames, want %d", len(seqs), burst)
	}
	for i, s := range seqs {
		if s != uint32(i) {
			t.Fatalf("frame %d has sequence %d: out of order", i, s)
		}
	}
	mu.Unlock()
	// A looped-back frame can be received before its own TX completion is
	// reaped and counted: wait for the TX side to catch up.
	for deadline := time.Now().Add(5 * time.Second); d.Net.Stats().TxPackets.Load() < burst && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	if st := d.Net.Stats(); st.RxPackets.Load() != burst || st.TxPackets.Load() != burst || st.RxErrors.Load() != 0 {
		t.Errorf("stats: rx %d tx %d rx_errors %d, want %d, %d, 0", st.RxPackets.Load(), st.TxPackets.Load(), st.RxErrors.Load(), burst, burst)
	}
	if c := d.Counters(); c.RxReaps.Load() == 0 || c.RxReaps.Load() > burst || c.RxMaxBatch.Load() == 0 {
		t.Fatalf("%d bulk IN reaps (largest %d) for %d frames: want 1..%d reaps", c.RxReaps.Load(), c.RxMaxBatch.Load(), burst, burst)
	}
	t.Logf("%d bulk IN reaps for %d frames, largest batch %d", d.Counters().RxReaps.Load(), burst, d.Counters().RxMaxBatch.Load())

	if raceEnabled {
		return // allocation counts are meaningless under -race
	}
	frame := make([]byte, size)
	copy(frame, d.Net.HardwareAddr())
	binary.BigEndian.PutUint16(frame[12:], testType)
	n := got.Load()
	mu.Lock()
	seqs = seqs[:0]
	mu.Unlock()
	allocs := testing.AllocsPerRun(300, func() {
		wire.B().Send(frame)
		n++
		waitFor(n)
	})
	if allocs != 0 {
		t.Errorf("RX path with batch reaping: %v allocs per frame, want 0", allocs)
	}
}
