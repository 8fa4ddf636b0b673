package sim_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"dongle/hw"
	"dongle/hw/sim"
)

const (
	epIn  = 0x81
	epOut = 0x01
)

// bulkDevice is a one-interface device with a bulk pair of wMaxPacketSize
// mps; OUT transfers the model receives are recorded.
type bulkDevice struct {
	*sim.Device
	model   *sim.Static
	in, out hw.Endpoint
	mu      sync.Mutex
	got     [][]byte
}

func bulkConfig(mps int) []byte {
	return []byte{
		9, 2, 32, 0, 1, 1, 0, 0x80, 50,
		9, 4, 0, 0, 2, 0xff, 0, 0, 0,
		7, 5, epIn, 2, byte(mps), byte(mps >> 8), 0,
		7, 5, epOut, 2, byte(mps), byte(mps >> 8), 0,
	}
}

var bulkDeviceDesc = []byte{18, 1, 0, 2, 0, 0, 0, 64, 0x34, 0x12, 0x78, 0x56, 0, 1, 1, 2, 0, 1}

func newBulk(t testing.TB, mps int) *bulkDevice {
	b := &bulkDevice{}
	b.model = &sim.Static{Device: bulkDeviceDesc, Configs: [][]byte{bulkConfig(mps)},
		Strings: map[uint8]string{1: "dongle", 2: "bulk"},
		OutFunc: func(ep uint8, data []byte) {
			b.mu.Lock()
			b.got = append(b.got, append([]byte{}, data...))
			b.mu.Unlock()
		}}
	b.Device = sim.New(b.model, hw.Info{Bus: 1, Address: 3, Backend: "sim:bulk"})
	if err := b.Claim(0); err != nil {
		t.Fatal(err)
	}
	var err error
	if b.in, err = b.OpenEndpoint(epIn); err != nil {
		t.Fatal(err)
	}
	if b.out, err = b.OpenEndpoint(epOut); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, ep := range []hw.Endpoint{b.in, b.out} {
			ep.Cancel()
			for ep.InFlight() > 0 {
				if _, err := ep.Wait(context.Background()); err != nil {
					break
				}
			}
			if err := ep.Close(); err != nil {
				t.Errorf("close: %v", err)
			}
		}
		if err := b.Release(0); err != nil {
			t.Errorf("release: %v", err)
		}
		if err := b.Close(); err != nil {
			t.Errorf("close device: %v", err)
		}
	})
	return b
}

func (b *bulkDevice) outs() [][]byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.got
}

func pattern(n int, seed byte) []byte {
	p := make([]byte, n)
	for i := range p {
		p[i] = seed + byte(i)
	}
	return p
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	t.Cleanup(cancel)
	return ctx
}

type write struct {
	n   int
	zlp bool
}

type result struct {
	n   int
	err hw.Errno
}

// TestInPacketSemantics drives device writes into host IN transfers of a
// given size and checks how the bytes were cut into transfers.
func TestInPacketSemantics(t *testing.T) {
	for _, c := range []struct {
		name   string
		mps    int
		writes []write
		buf    int
		want   []result
	}{
		{"short write, one transfer", 64, []write{{100, false}}, 512, []result{{100, 0}}},
		{"writes never merge after a short packet", 64, []write{{100, false}, {30, false}}, 512, []result{{100, 0}, {30, 0}}},
		{"write spans transfers of maxpacket", 64, []write{{200, false}}, 64, []result{{64, 0}, {64, 0}, {64, 0}, {8, 0}}},
		{"write spans transfers of 2*maxpacket", 64, []write{{200, false}}, 128, []result{{128, 0}, {72, 0}}},
		{"multiple without ZLP merges with the next write", 64, []write{{128, false}, {30, false}}, 512, []result{{158, 0}}},
		{"multiple with ZLP ends the transfer", 64, []write{{128, true}, {30, false}}, 512, []result{{128, 0}, {30, 0}}},
		{"ZLP requested on a non-multiple sends none", 64, []write{{100, true}, {30, false}}, 512, []result{{100, 0}, {30, 0}}},
		{"empty write is a ZLP", 64, []write{{0, false}}, 512, []result{{0, 0}}},
		{"exact buffer fill ends the transfer", 64, []write{{128, false}, {30, false}}, 128, []result{{128, 0}, {30, 0}}},
		{"ZLP after a full buffer is its own transfer", 64, []write{{128, true}}, 128, []result{{128, 0}, {0, 0}}},
		{"babble: packet larger than the space left", 64, []write{{128, false}, {10, false}}, 100, []result{{100, hw.ErrOverflow}, {10, 0}}},
		{"babble on a small buffer", 64, []write{{64, true}}, 10, []result{{10, hw.ErrOverflow}, {0, 0}}},
		{"non-multiple buffer takes a short packet that fits", 64, []write{{90, false}}, 100, []result{{90, 0}}},
		{"high speed 512", 512, []write{{1514, false}, {1024, true}}, 2048, []result{{1514, 0}, {1024, 0}}},
		{"high speed 512 without ZLP", 512, []write{{1024, false}, {60, false}}, 2048, []result{{1084, 0}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			b := newBulk(t, c.mps)
			h := b.Host()
			var all []byte
			for i, w := range c.writes {
				p := pattern(w.n, byte(i*50))
				all = append(all, p...)
				var err error
				if w.zlp {
					err = h.SendInZLP(epIn, p)
				} else {
					err = h.SendIn(epIn, p)
				}
				if err != nil {
					t.Fatal(err)
				}
			}
			var got []byte
			for i, want := range c.want {
				tr := &hw.Transfer{Buf: make([]byte, c.buf)}
				if err := b.in.Submit(tr); err != nil {
					t.Fatal(err)
				}
				if _, err := b.in.Wait(ctxT(t)); err != nil {
					t.Fatalf("transfer %d: %v", i, err)
				}
				if tr.N != want.n || hw.StatusOf(tr.Err) != want.err {
					t.Errorf("transfer %d: N=%d Err=%v, want N=%d Err=%v", i, tr.N, tr.Err, want.n, want.err)
				}
				if want.err == 0 {
					got = append(got, tr.Data()...)
				}
			}
			if c.want[0].err == 0 && !bytes.Equal(got, all) {
				t.Errorf("bytes received differ from bytes written")
			}
			if q := h.Queued(epIn); q != 0 {
				t.Errorf("%d device writes left queued", q)
			}
			// Nothing more is pending: a further transfer must wait.
			tr := &hw.Transfer{Buf: make([]byte, c.buf)}
			_ = b.in.Submit(tr)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Millisecond)
			defer cancel()
			if _, err := b.in.Wait(ctx); !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("an extra transfer completed: N=%d Err=%v", tr.N, tr.Err)
			}
		})
	}
}

// TestInPendingTransfersComplete: host transfers submitted before the data
// complete, in order, as the device writes arrive.
func TestInPendingTransfersComplete(t *testing.T) {
	b := newBulk(t, 64)
	trs := make([]*hw.Transfer, 3)
	for i := range trs {
		trs[i] = &hw.Transfer{Buf: make([]byte, 512)}
		if err := b.in.Submit(trs[i]); err != nil {
			t.Fatal(err)
		}
	}
	if w := b.Host().Waiting(epIn); w != 3 {
		t.Errorf("Waiting = %d, want 3", w)
	}
	for i, n := range []int{10, 70, 200} {
		if err := b.Host().SendIn(epIn, pattern(n, byte(i))); err != nil {
			t.Fatal(err)
		}
	}
	for i, n := range []int{10, 70, 200} {
		got, err := b.in.Wait(ctxT(t))
		if err != nil || got != trs[i] || !bytes.Equal(got.Data(), pattern(n, byte(i))) {
			t.Errorf("transfer %d: %v, N=%d", i, err, got.N)
		}
	}
}

// TestOutPacketSemantics: what the model receives for host OUT transfers.
func TestOutPacketSemantics(t *testing.T) {
	for _, c := range []struct {
		name         string
		mps          int
		sends        []int // -1: nothing (ZLP is 0)
		want         []int // lengths Out saw
		unterminated uint64
		merged       uint64
	}{
		{"short packet ends it", 64, []int{100}, []int{100}, 0, 0},
		{"multiple held until ZLP", 64, []int{64, 0}, []int{64}, 1, 0},
		{"multiple held and merged with the next", 64, []int{64, 30}, []int{94}, 1, 1},
		{"lone ZLP arrives empty", 64, []int{0}, []int{0}, 0, 0},
		{"held multiple, nothing else", 64, []int{128}, nil, 1, 0},
		{"two frames each short", 64, []int{60, 1514}, []int{60, 1514}, 0, 0},
		{"high speed 512 held", 512, []int{1024, 0, 512, 100}, []int{1024, 612}, 2, 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			b := newBulk(t, c.mps)
			var sent []byte
			for i, n := range c.sends {
				p := pattern(n, byte(i*40))
				sent = append(sent, p...)
				tr := &hw.Transfer{Buf: p}
				if err := b.out.Submit(tr); err != nil {
					t.Fatal(err)
				}
				if _, err := b.out.Wait(ctxT(t)); err != nil || tr.Err != nil || tr.N != n {
					t.Fatalf("OUT %d: %v %v N=%d", i, err, tr.Err, tr.N)
				}
			}
			got := b.outs()
			var lens []int
			var all []byte
			for _, g := range got {
				lens = append(lens, len(g))
				all = append(all, g...)
			}
			if fmt.Sprint(lens) != fmt.Sprint(c.want) {
				t.Errorf("model got transfers %v, want %v", lens, c.want)
			}
			if len(c.want) > 0 && !bytes.Equal(all, sent[:len(all)]) {
				t.Errorf("bytes differ")
			}
			st := b.Stats(epOut)
			if st.Unterminated != c.unterminated || st.Merged != c.merged {
				t.Errorf("Unterminated=%d Merged=%d, want %d %d", st.Unterminated, st.Merged, c.unterminated, c.merged)
			}
		})
	}
}

func TestStatsCountPackets(t *testing.T) {
	b := newBulk(t, 64)
	_ = b.Host().SendInZLP(epIn, pattern(128, 0))
	_ = b.Host().SendIn(epIn, pattern(65, 0))
	for i := 0; i < 2; i++ {
		_ = b.in.Submit(&hw.Transfer{Buf: make([]byte, 512)})
		_, _ = b.in.Wait(ctxT(t))
	}
	s := b.Stats(epIn)
	// 128+ZLP: 3 packets; 65: 2 packets (one short).
	if s.Packets != 5 || s.ZLPs != 1 || s.ShortPackets != 1 || s.Writes != 2 || s.Completed != 2 || s.Bytes != 193 {
		t.Errorf("stats %+v", s)
	}
}

func TestInQueueBounded(t *testing.T) {
	b := newBulk(t, 64)
	for i := 0; i < sim.InQueueDepth; i++ {
		if err := b.Host().SendIn(epIn, []byte{byte(i)}); err != nil {
			t.Fatalf("write %d: %v", i, err)
		}
	}
	err := b.Host().SendIn(epIn, []byte{1})
	if !errors.Is(err, hw.ErrNoMem) {
		t.Fatalf("write past InQueueDepth: %v, want ErrNoMem", err)
	}
	if s := b.Stats(epIn); s.InDropped != 1 {
		t.Errorf("InDropped = %d", s.InDropped)
	}
	// The queue drains in order.
	for i := 0; i < sim.InQueueDepth; i++ {
		tr := &hw.Transfer{Buf: make([]byte, 64)}
		_ = b.in.Submit(tr)
		if _, err := b.in.Wait(ctxT(t)); err != nil || tr.N != 1 || tr.Buf[0] != byte(i) {
			t.Fatalf("read %d: %v N=%d %x", i, err, tr.N, tr.Buf[:1])
		}
	}
}

func TestSendInErrors(t *testing.T) {
	b := newBulk(t, 64)
	if err := b.Host().SendIn(epOut, []byte{1}); !errors.Is(err, hw.ErrInvalid) {
		t.Errorf("SendIn on an OUT endpoint: %v", err)
	}
	if err := b.Host().SendIn(0x85, []byte{1}); !errors.Is(err, hw.ErrInvalid) {
		t.Errorf("SendIn on a missing endpoint: %v", err)
	}
	b.Unplug()
	if err := b.Host().SendIn(epIn, []byte{1}); !errors.Is(err, hw.ErrNoDevice) {
		t.Errorf("SendIn after unplug: %v", err)
	}
}
