package sim_test

import (
	"bytes"
	"context"
	"fmt"
	"testing"

	"dongle/hw"
	"dongle/hw/sim"
)

// streamModel is a sim.OutStreamer that records every call and takes what
// take says of each.
type streamModel struct {
	*sim.Static
	take  func(data []byte, end bool) int
	calls []streamCall
}

type streamCall struct {
	data []byte
	end  bool
}

var _ sim.OutStreamer = (*streamModel)(nil)

func (m *streamModel) StreamOut(ep uint8, data []byte, end bool) int {
	m.calls = append(m.calls, streamCall{append([]byte{}, data...), end})
	return m.take(data, end)
}

func newStream(t *testing.T, mps int, take func([]byte, bool) int) (*streamModel, hw.Endpoint, *sim.Device) {
	t.Helper()
	m := &streamModel{take: take}
	m.Static = &sim.Static{Device: bulkDeviceDesc, Configs: [][]byte{bulkConfig(mps)},
		OutFunc: func(uint8, []byte) { t.Error("Out called on a streaming model") }}
	out, d := openOut(t, m, "sim:stream")
	return m, out, d
}

// openOut is m on a device with interface 0 claimed and its bulk OUT
// endpoint open, all closed at the test's end.
func openOut(t *testing.T, m sim.Model, backend string) (hw.Endpoint, *sim.Device) {
	t.Helper()
	d := sim.New(m, hw.Info{Bus: 1, Address: 4, Backend: backend})
	if err := d.Claim(0); err != nil {
		t.Fatal(err)
	}
	out, err := d.OpenEndpoint(epOut)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { out.Close(); d.Release(0); d.Close() })
	return out, d
}

func send(t *testing.T, ep hw.Endpoint, p []byte) {
	t.Helper()
	tr := &hw.Transfer{Buf: p}
	if err := ep.Submit(tr); err != nil {
		t.Fatal(err)
	}
	if _, err := ep.Wait(context.Background()); err != nil || tr.Err != nil || tr.N != len(p) {
		t.Fatalf("OUT of %d: %v %v N=%d", len(p), err, tr.Err, tr.N)
	}
}

// TestStreamOutHoldsOnlyWhatTheModelLeft: every host transfer reaches a
// streaming model at once, ended or not, preceded by the bytes it left
// last time; what it leaves when the transfer ends is dropped.
func TestStreamOutHoldsOnlyWhatTheModelLeft(t *testing.T) {
	// The model takes whole tens of bytes: 128 → 120 (8 held), 8+64 → 70
	// (2 held), 2+5 ends the transfer, its 7 bytes dropped; a fresh
	// transfer starts with nothing held.
	m, out, d := newStream(t, 64, func(data []byte, end bool) int { return len(data) - len(data)%10 })
	a, b, c, e := pattern(128, 1), pattern(64, 80), pattern(5, 200), pattern(30, 40)
	for _, p := range [][]byte{a, b, c, e} {
		send(t, out, p)
	}
	want := []streamCall{
		{a, false},
		{append(append([]byte{}, a[120:]...), b...), false},
		{append(append([]byte{}, b[62:]...), c...), true},
		{e, true},
	}
	if len(m.calls) != len(want) {
		t.Fatalf("%d calls, want %d: %v", len(m.calls), len(want), m.calls)
	}
	for i, w := range want {
		if g := m.calls[i]; g.end != w.end || !bytes.Equal(g.data, w.data) {
			t.Errorf("call %d: %d bytes end=%v, want %d bytes end=%v", i, len(g.data), g.end, len(w.data), w.end)
		}
	}
	st := d.Stats(epOut)
	if st.OutDelivered != 2 || st.Unterminated != 2 || st.Merged != 2 {
		t.Errorf("OutDelivered=%d Unterminated=%d Merged=%d, want 2 2 2", st.OutDelivered, st.Unterminated, st.Merged)
	}
}

// TestStreamOutZLPEndsHeldBytes: a ZLP ends the transfer and hands back
// what is held with end set.
func TestStreamOutZLPEndsHeldBytes(t *testing.T) {
	m, out, _ := newStream(t, 64, func(data []byte, end bool) int {
		if end {
			return len(data)
		}
		return len(data) / 2
	})
	p := pattern(64, 3)
	send(t, out, p)
	send(t, out, nil)
	if len(m.calls) != 2 || m.calls[1].end != true || !bytes.Equal(m.calls[1].data, p[32:]) {
		t.Fatalf("calls %v", m.calls)
	}
}

// TestStreamOutZLPWithNothingHeld: a transfer the model took whole still
// ends: the ZLP reaches it as an empty call with end set.
func TestStreamOutZLPWithNothingHeld(t *testing.T) {
	m, out, _ := newStream(t, 64, func(data []byte, end bool) int { return len(data) })
	send(t, out, pattern(128, 3))
	send(t, out, nil)
	if len(m.calls) != 2 || !m.calls[1].end || len(m.calls[1].data) != 0 {
		t.Fatalf("calls %v", m.calls)
	}
}

// TestStreamOutFlushedByReset: bytes held across a port reset are gone,
// as a reset endpoint's FIFO is.
func TestStreamOutFlushedByReset(t *testing.T) {
	m, out, d := newStream(t, 64, func(data []byte, end bool) int { return 0 })
	send(t, out, pattern(64, 9))
	if err := d.Reset(); err != nil {
		t.Fatal(err)
	}
	p := pattern(10, 50)
	send(t, out, p)
	if last := m.calls[len(m.calls)-1]; !last.end || !bytes.Equal(last.data, p) {
		t.Fatalf("after reset the model got %d bytes end=%v, want the 10 new ones", len(last.data), last.end)
	}
}

// TestStreamOutTookOutOfRangePanics: a model that claims bytes it was not
// given is a programming error, not bad input.
func TestStreamOutTookOutOfRangePanics(t *testing.T) {
	for _, took := range []int{-1, 65} {
		t.Run(fmt.Sprint(took), func(t *testing.T) {
			_, out, _ := newStream(t, 64, func([]byte, bool) int { return took })
			defer func() {
				if recover() == nil {
					t.Errorf("took %d of 64: no panic", took)
				}
			}()
			out.Submit(&hw.Transfer{Buf: pattern(64, 1)})
		})
	}
}

// bothModel is a streamer that also claims a device-side transfer length.
type bothModel struct{ streamModel }

func (*bothModel) OutLimit(uint8) int { return 1024 }

// TestStreamerWithOutLimitPanics: the engine cannot end a streamer's
// transfers by length (it does not hold them), so New refuses the pair.
func TestStreamerWithOutLimitPanics(t *testing.T) {
	m := &bothModel{}
	m.Static = &sim.Static{Device: bulkDeviceDesc, Configs: [][]byte{bulkConfig(64)}}
	defer func() {
		if recover() == nil {
			t.Error("New took a model that is both OutStreamer and OutLimiter")
		}
	}()
	sim.New(m, hw.Info{Backend: "sim:both"})
}

// limitModel ends its bulk OUT transfers at lim bytes and records each.
type limitModel struct {
	*sim.Static
	lim int
	got [][]byte
}

func (m *limitModel) OutLimit(uint8) int { return m.lim }

// TestOutLimitSplitsLongTransfers: a device that ends a transfer at its
// OutLimit (a packet multiple) reads a longer host transfer as several
// (NTBs sent back to back), holds whole packets after the last limit
// until a short packet ends them, and with a limit that is no packet
// multiple takes the host's transfer whole, as before.
func TestOutLimitSplitsLongTransfers(t *testing.T) {
	run := func(mps, lim int, sends [][]byte) [][]byte {
		m := &limitModel{lim: lim}
		m.Static = &sim.Static{Device: bulkDeviceDesc, Configs: [][]byte{bulkConfig(mps)},
			OutFunc: func(_ uint8, p []byte) { m.got = append(m.got, append([]byte{}, p...)) }}
		out, _ := openOut(t, m, "sim:limit")
		for _, p := range sends {
			send(t, out, p)
		}
		return m.got
	}
	a := pattern(3*1024, 1)
	if got := run(512, 1024, [][]byte{a}); len(got) != 3 || !bytes.Equal(got[0], a[:1024]) || !bytes.Equal(got[1], a[1024:2048]) || !bytes.Equal(got[2], a[2048:]) {
		t.Errorf("3 KiB with limit 1 KiB: %d transfers, want its three KiB in order", len(got))
	}
	b, c := pattern(1536, 2), pattern(100, 3)
	got := run(512, 1024, [][]byte{b, c})
	if len(got) != 2 || !bytes.Equal(got[0], b[:1024]) || !bytes.Equal(got[1], append(append([]byte{}, b[1024:]...), c...)) {
		t.Errorf("1.5 KiB of whole packets then 100 bytes: %d transfers %v; want 1024, then 512+100", len(got), lens(got))
	}
	e := pattern(2*1000, 4) // a limit that is no packet multiple: the host's transfer whole
	if got := run(512, 1000, [][]byte{append(e, 1)}); len(got) != 1 || len(got[0]) != 2001 {
		t.Errorf("limit 1000, 2001 bytes: %v, want one transfer", lens(got))
	}
	if got := run(512, 1024, [][]byte{pattern(1024, 5), nil}); len(got) != 2 || len(got[0]) != 1024 || len(got[1]) != 0 {
		t.Errorf("a limit-sized transfer then a ZLP: %v; want 1024, then the ZLP", lens(got))
	}
}

func lens(v [][]byte) []int {
	n := make([]int, len(v))
	for i, p := range v {
		n[i] = len(p)
	}
	return n
}
