package netdev_test

import (
	"testing"

	"dongle/netdev"
	"dongle/skbuff"
)

// loopRig is an open loopback device whose IPv4 handler frees each frame
// and signals its arrival.
type loopRig struct {
	lo   *netdev.Device
	got  chan struct{}
	done func()
}

func newLoopRig(tb testing.TB) *loopRig {
	r := &loopRig{lo: netdev.Loopback(), got: make(chan struct{}, 1)}
	if err := netdev.Register(r.lo); err != nil {
		tb.Fatal(err)
	}
	if err := r.lo.Open(); err != nil {
		tb.Fatal(err)
	}
	remove := r.lo.AddHandler(0x0800, func(b *skbuff.Buff) {
		b.Free(skbuff.FreeRead)
		r.got <- struct{}{}
	})
	r.done = func() {
		remove()
		if err := netdev.Unregister(r.lo); err != nil {
			tb.Fatal(err)
		}
	}
	return r
}

// once sends one 60-byte IPv4 frame through lo and waits for its delivery.
func (r *loopRig) once() {
	b := skbuff.Alloc(1536)
	h := b.Put(60)
	h[12], h[13] = 0x08, 0x00
	if err := r.lo.Xmit(b); err != nil {
		panic(err)
	}
	<-r.got
}

func BenchmarkLoopbackXmit(b *testing.B) {
	r := newLoopRig(b)
	defer r.done()
	b.ReportAllocs()
	for b.Loop() {
		r.once()
	}
}

func TestLoopbackXmitAllocatesNothing(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops items at random under -race")
	}
	r := newLoopRig(t)
	defer r.done()
	r.once() // warm up pools
	if n := testing.AllocsPerRun(500, r.once); n != 0 {
		t.Fatalf("xmit through lo and receive allocated %v times per frame, want 0", n)
	}
	if skbuff.Live() != 0 {
		t.Fatalf("Live() = %d", skbuff.Live())
	}
}

// openDummyForAllocs registers and opens a dummy device for an allocation
// count, unregistered when t ends.
func openDummyForAllocs(t *testing.T) *netdev.Device {
	t.Helper()
	if raceEnabled {
		t.Skip("sync.Pool drops items at random under -race")
	}
	d := netdev.Dummy()
	if err := netdev.Register(d); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { netdev.Unregister(d) })
	if err := d.Open(); err != nil {
		t.Fatal(err)
	}
	return d
}

func TestDummyXmitAllocatesNothing(t *testing.T) {
	d := openDummyForAllocs(t)
	// A refused Xmit allocates nothing either, so every frame must also be
	// accepted and counted as sent for the zero to mean anything.
	var xerr error
	send := func() {
		b := skbuff.Alloc(1536)
		b.Put(60)
		if err := d.Xmit(b); err != nil && xerr == nil {
			xerr = err
		}
	}
	send()
	before := d.Stats().TxPackets.Load()
	n := testing.AllocsPerRun(500, send)
	if xerr != nil {
		t.Fatalf("Xmit through dummy: %v", xerr)
	}
	if n != 0 {
		t.Fatalf("xmit through dummy allocated %v times per frame, want 0", n)
	}
	// AllocsPerRun makes one warm-up call before its 500 measured runs.
	if got := d.Stats().TxPackets.Load() - before; got != 501 {
		t.Fatalf("dummy counted %d tx_packets for 501 frames", got)
	}
	if skbuff.Live() != 0 {
		t.Fatalf("Live() = %d: dummy did not free what it sent", skbuff.Live())
	}
}

// TestRxListAllocatesNothing: handing a driver's frames over as a list, and
// their delivery by the bottom half, allocate nothing per frame.
func TestRxListAllocatesNothing(t *testing.T) {
	d := openDummyForAllocs(t)
	const batch = 8
	got := make(chan struct{}, batch)
	d.AddHandler(0x0800, func(b *skbuff.Buff) { b.Free(skbuff.FreeRead); got <- struct{}{} })
	var q skbuff.Queue
	once := func() {
		for range batch {
			b := skbuff.Alloc(1536)
			b.Put(60)
			b.Protocol = 0x0800
			q.QueueTail(b)
		}
		d.RxList(&q)
		for range batch {
			<-got
		}
	}
	once()
	if n := testing.AllocsPerRun(200, once); n != 0 {
		t.Fatalf("RxList of %d frames and their delivery allocated %v times, want 0", batch, n)
	}
	if dropped := d.Stats().RxDropped.Load(); dropped != 0 {
		t.Fatalf("rx_dropped %d: the frames must be delivered for the zero to mean anything", dropped)
	}
	if skbuff.Live() != 0 {
		t.Fatalf("Live() = %d", skbuff.Live())
	}
}
