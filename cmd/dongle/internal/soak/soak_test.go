package soak

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"dongle/hw/sim"
	"dongle/hw/usbmon"
	"dongle/usbnet"
	"dongle/usbnet/catalog"
)

// relay is a Port between two wires that forwards frames, dropping or
// doubling the one numbered at (1-based, counted per relay).
type relay struct {
	out  *sim.End
	at   uint64
	dup  bool
	seen atomic.Uint64
}

func (p *relay) Receive(f []byte) {
	n := p.seen.Add(1)
	if n == p.at && !p.dup {
		return // lost without a trace: no counter anywhere
	}
	p.out.Send(f)
	if n == p.at {
		p.out.Send(f)
	}
}

// relayed opens sel's model behind a relay each way: the model's TX
// frames pass tx on their way to soak's port, soak's RX frames pass rx.
func relayed(t *testing.T, sel string, tx, rx *relay) Opener {
	t.Helper()
	m, err := catalog.ModelBySelector(sel)
	if err != nil {
		t.Fatal(err)
	}
	return func() (*Rig, error) {
		near, far := sim.NewWire(), sim.NewWire()
		inst := m.Build(catalog.Options{})
		inst.Plug(near.A())
		tx.out, rx.out = far.A(), near.B()
		near.B().Attach(tx)
		far.A().Attach(rx)
		return &Rig{HW: inst.Dev, Drivers: catalog.ForModels(), Peer: far.B(), Faults: inst.Dev}, nil
	}
}

func quick(open Opener) Config {
	return Config{Backend: "test", Open: open, Frames: 20000, MinSize: 60, MaxSize: 200, Settle: 100 * time.Millisecond, TraceBytes: 4 << 20}
}

// A clean run on every driver's model, every fault kind: it passes, and
// the books balance exactly (what each way offered is what arrived plus
// the driver's counts plus what the faults took).
func TestCleanRunBalances(t *testing.T) {
	for _, sel := range []string{"sim:ecm", "sim:ax88772", "sim:ax88179", "sim:ncm", "sim:rtl8153"} {
		t.Run(sel, func(t *testing.T) {
			open, err := SimOpener(sel)
			if err != nil {
				t.Fatal(err)
			}
			c := quick(open)
			c.Frames = 60000
			c.Faults, c.FaultEvery = AllKinds(), 4000 // 15 faults, each kind 3 or 4 times
			s, err := Run(context.Background(), c, "")
			if err != nil {
				t.Fatalf("%v\n%+v", err, s)
			}
			if !s.Pass || s.TX.Unaccounted != 0 || s.RX.Unaccounted != 0 || s.LeakedSKBs != 0 || s.LeakedGoroutines != 0 {
				t.Fatalf("summary of a passing run: %+v", s)
			}
			if s.TX.Offered+s.RX.Offered < c.Frames {
				t.Errorf("offered %d+%d frames, want at least %d", s.TX.Offered, s.RX.Offered, c.Frames)
			}
			// tx_* count frames: TX balances exactly.
			if got := s.Counters.TxPackets + s.Counters.TxDropped + s.Counters.TxErrors + s.TX.LostToFaults; got != s.TX.Offered {
				t.Errorf("TX: tx_packets+tx_dropped+tx_errors+lost %d != offered %d", got, s.TX.Offered)
			}
			if s.TX.Arrived != s.Counters.TxPackets {
				t.Errorf("TX: %d on the wire, tx_packets %d", s.TX.Arrived, s.Counters.TxPackets)
			}
			if got := s.RX.Arrived + s.Counters.RxDropped + s.RX.LostToFaults; got != s.RX.Offered {
				t.Errorf("RX: delivered+rx_dropped+lost %d != offered %d", got, s.RX.Offered)
			}
			for _, k := range AllKinds() {
				f := s.Faults[k.String()]
				if f == nil || f.Injected == 0 || f.Recovered != f.Injected {
					t.Errorf("%s: %+v, want injected > 0, all recovered", k, f)
				}
			}
			if s.Bindings < 1+int(s.Faults["unplug"].Injected+s.Faults["short"].Injected) {
				t.Errorf("%d bindings after %d unplugs and %d rebinds", s.Bindings, s.Faults["unplug"].Injected, s.Faults["short"].Injected)
			}
			if s.RSSStartKB == 0 || s.RSSEndKB == 0 {
				t.Errorf("RSS not read: %d, %d", s.RSSStartKB, s.RSSEndKB)
			}
		})
	}
}

// A frame the wire loses silently, either way, fails the run and is
// named: unaccounted, 1.
func TestSilentLossFails(t *testing.T) {
	for _, dir := range []string{"tx", "rx"} {
		t.Run(dir, func(t *testing.T) {
			tx, rx := &relay{}, &relay{}
			if dir == "tx" {
				tx.at = 5000
			} else {
				rx.at = 5000
			}
			trace := filepath.Join(t.TempDir(), "fail.pcap")
			s, err := Run(context.Background(), quick(relayed(t, "sim:ecm", tx, rx)), trace)
			if !errors.Is(err, ErrLost) {
				t.Fatalf("err %v, want ErrLost", err)
			}
			want := [2]uint64{1, 0}
			if dir == "rx" {
				want = [2]uint64{0, 1}
			}
			if got := [2]uint64{s.TX.Unaccounted, s.RX.Unaccounted}; got != want || s.Pass {
				t.Errorf("unaccounted TX, RX %v (pass %v), want %v", got, s.Pass, want)
			}
			// The ring went to the file: a readable usbmon trace.
			recs, _, rerr := usbmon.ReadFile(trace)
			if rerr != nil || len(recs) == 0 || s.TraceFile != trace {
				t.Errorf("trace on failure: %d records, %v (summary names %q)", len(recs), rerr, s.TraceFile)
			}
			if s.LeakedSKBs != 0 || s.LeakedGoroutines != 0 {
				t.Errorf("a failed run leaked: %+v", s)
			}
			// The failure rules judged the trace: a frame lost on the wire
			// leaves the USB side healthy.
			if len(s.Findings) != 0 || !strings.HasPrefix(s.FindingsNote, "no failure rule fired") {
				t.Errorf("findings %v, note %q", s.Findings, s.FindingsNote)
			}
		})
	}
}

// Frames lost at an unplug under traffic (the RTL8153 model's FIFO goes
// with it) are the fault's: counted to it, and the run passes.
func TestLossAtAFaultIsCounted(t *testing.T) {
	open, err := SimOpener("sim:rtl8153")
	if err != nil {
		t.Fatal(err)
	}
	c := quick(open)
	c.Faults, c.FaultEvery = []Kind{Unplug}, 4000
	c.Frames = 40000
	s, err := Run(context.Background(), c, "")
	if err != nil {
		t.Fatal(err)
	}
	f := s.Faults["unplug"]
	if f.Injected == 0 || f.Recovered != f.Injected {
		t.Fatalf("unplug: %+v", f)
	}
	if f.LostTX+f.LostRX == 0 || f.LostRX != s.RX.LostToFaults || f.LostTX != s.TX.LostToFaults {
		t.Errorf("unplug lost %d TX %d RX, the run %d TX %d RX: want some, all the unplug's", f.LostTX, f.LostRX, s.TX.LostToFaults, s.RX.LostToFaults)
	}
	if got := s.RX.Arrived + s.Counters.RxDropped + s.RX.LostToFaults; got != s.RX.Offered {
		t.Errorf("RX: delivered+rx_dropped+lost %d != offered %d", got, s.RX.Offered)
	}
}

// A driver counter above what was offered fails the run as counters
// that do not add up.
func TestCountersThatDoNotAddUpFail(t *testing.T) {
	for _, name := range []string{"tx_packets", "rx_dropped"} {
		t.Run(name, func(t *testing.T) {
			open, err := SimOpener("sim:ecm")
			if err != nil {
				t.Fatal(err)
			}
			c := quick(open)
			c.Bound = func(d *usbnet.Dev) {
				if name == "tx_packets" {
					d.Net.Stats().TxPackets.Add(1)
				} else {
					d.Net.Stats().RxDropped.Add(1)
				}
			}
			s, err := Run(context.Background(), c, "")
			if !errors.Is(err, ErrCounters) || s.Pass {
				t.Fatalf("err %v (pass %v), want ErrCounters", err, s.Pass)
			}
		})
	}
}

// A frame the wire doubles fails the run as a bad frame.
func TestDuplicateFails(t *testing.T) {
	tx, rx := &relay{at: 3000, dup: true}, &relay{}
	_, err := Run(context.Background(), quick(relayed(t, "sim:ecm", tx, rx)), "")
	if !errors.Is(err, ErrFrame) {
		t.Fatalf("err %v, want ErrFrame", err)
	}
}

// cutOnStall is a device whose stall also cuts its wire for good: no
// driver recovers from that.
type cutOnStall struct {
	Faults
	w *sim.Wire
}

func (c cutOnStall) Stall(ep uint8) { c.Faults.Stall(ep); c.w.SetCut(true) }

func TestUnrecoveredFaultFails(t *testing.T) {
	m, err := catalog.ModelBySelector("sim:ecm")
	if err != nil {
		t.Fatal(err)
	}
	open := func() (*Rig, error) {
		w := sim.NewWire()
		inst := m.Build(catalog.Options{})
		inst.Plug(w.A())
		return &Rig{HW: inst.Dev, Drivers: catalog.ForModels(), Peer: w.B(), Faults: cutOnStall{inst.Dev, w}}, nil
	}
	c := quick(open)
	c.Faults, c.Rate, c.RecoverWithin = []Kind{Stall}, 50, 300*time.Millisecond
	c.Frames = 0
	c.Duration = 5 * time.Second
	start := time.Now()
	s, err := Run(context.Background(), c, "")
	if !errors.Is(err, ErrNotRecovered) {
		t.Fatalf("err %v, want ErrNotRecovered", err)
	}
	if f := s.Faults["stall"]; f.Injected != 1 || f.Recovered != 0 {
		t.Errorf("stall: %+v, want 1 injected, 0 recovered", f)
	}
	if time.Since(start) > 3*time.Second {
		t.Errorf("the run went on %v after a fault it did not recover from", time.Since(start))
	}
}

func TestConfigRefused(t *testing.T) {
	open, _ := SimOpener("sim:ecm")
	for name, c := range map[string]Config{
		"no device":    {Frames: 1},
		"no end":       {Open: open},
		"small frames": {Open: open, Frames: 1, MinSize: 20},
		"window":       {Open: open, Frames: 1, Window: 65},
		"no rate":      {Open: open, Frames: 1, Faults: AllKinds()},
		"ring":         {Open: open, Frames: 1, TraceBytes: 1000},
	} {
		if _, err := Run(context.Background(), c, ""); !errors.Is(err, ErrConfig) {
			t.Errorf("%s: err %v, want ErrConfig", name, err)
		}
	}
	if _, err := SimOpener("sim:nothing"); !errors.Is(err, ErrConfig) {
		t.Errorf("unknown model: %v", err)
	}
}

func TestParseFaults(t *testing.T) {
	for in, want := range map[string][]Kind{
		"": nil, "none": nil, "all": AllKinds(),
		"unplug, stall,unplug": {Unplug, Stall},
		"short":                {Short},
	} {
		got, err := ParseFaults(in)
		if err != nil || len(got) != len(want) {
			t.Errorf("%q: %v, %v, want %v", in, got, err, want)
			continue
		}
		for i := range got {
			if got[i] != want[i] {
				t.Errorf("%q: %v, want %v", in, got, want)
			}
		}
	}
	if _, err := ParseFaults("stall,melt"); !errors.Is(err, ErrUnknownFault) || !errors.Is(err, ErrConfig) {
		t.Errorf("unknown kind: %v", err)
	}
	if Kind(7).String() != "Kind(7)" || Timeout.String() != "timeout" {
		t.Errorf("names: %s %s", Kind(7), Timeout)
	}
}

func TestSeqTrack(t *testing.T) {
	var s seqTrack
	steps := []struct {
		seq  uint32
		want arrival
	}{
		{10, inOrder}, {11, inOrder}, {14, inOrder}, // 12, 13 missing
		{12, late}, {12, duplicate}, {14, duplicate}, {13, late},
		{15, inOrder}, {15 + trackSpan, inOrder}, {15, tooLate},
		{16, late}, // within the span again, never seen
		{0xffffffff, tooLate},
	}
	for i, st := range steps {
		if got := s.arrive(st.seq); got != st.want {
			t.Fatalf("step %d: arrive(%d) = %d, want %d", i, st.seq, got, st.want)
		}
	}
	// Wrapping.
	var w seqTrack
	for _, q := range []uint32{0xfffffffe, 0xffffffff, 0, 1} {
		if got := w.arrive(q); got != inOrder {
			t.Fatalf("wrap: arrive(%#x) = %d", q, got)
		}
	}
	if w.arrive(0xffffffff) != duplicate {
		t.Fatal("wrap: a duplicate across the wrap not seen")
	}
}

func TestFrames(t *testing.T) {
	f := make([]byte, 200)
	for _, seq := range []uint32{0, 1, 140, 1 << 31} {
		n := frameLen(seq, 60, 200)
		fill(f[:n], peerMAC, peerMAC, dirTX, seq)
		if got, st := check(f[:14], f[14:n], dirTX, 60, 200); st != good || got != seq {
			t.Errorf("seq %d: %d %d", seq, got, st)
		}
		if _, st := check(f[:14], f[14:n], dirRX, 60, 200); st != notOurs {
			t.Errorf("seq %d: the other direction's check says %d", seq, st)
		}
		f[n-1] ^= 1
		if _, st := check(f[:14], f[14:n], dirTX, 60, 200); st != corrupt {
			t.Errorf("seq %d: a flipped last byte: %d", seq, st)
		}
		if _, st := check(f[:14], f[14:n-1], dirTX, 60, 200); st != corrupt {
			t.Errorf("seq %d: a short frame: %d", seq, st)
		}
	}
	if _, st := check(f[:13], f[14:], dirTX, 60, 200); st != notOurs {
		t.Error("a short header is taken")
	}
}

func TestRSS(t *testing.T) {
	status := "Name:\tdongle\nVmPeak:\t  90000 kB\nVmRSS:\t   45788 kB\nRssAnon:\t  30000 kB\n"
	if n := vmRSS(strings.NewReader(status)); n != 45788 {
		t.Errorf("VmRSS of a status file: %d kB, want 45788", n)
	}
	if n := vmRSS(strings.NewReader("Name:\tdongle\n")); n != 0 {
		t.Errorf("a status file without VmRSS: %d, want 0", n)
	}
	// This process's own: read where there is a /proc, 0 where there is none.
	_, err := os.Stat("/proc/self/status")
	if got := rssKB(); (err == nil) != (got > 0) {
		t.Errorf("rssKB() = %d with /proc/self/status %v", got, err)
	}
}

// Steady state allocates nothing per frame: on every model family (their
// own RX paths allocate nothing either: the aggregating ones share one
// reused flush timer), fewer than one heap allocation per hundred frames
// over the whole process, what remains being the pools' refills after
// each GC and a run's fixed costs (one allocation per frame anywhere on the
// path would read 1.0).
func TestSteadyStateAllocatesNothing(t *testing.T) {
	if raceOn {
		t.Skip("allocation counts mean nothing under the race detector")
	}
	for _, sel := range []string{"sim:ecm", "sim:ax88772", "sim:ax88179", "sim:ncm", "sim:rtl8153"} {
		open, err := SimOpener(sel)
		if err != nil {
			t.Fatal(err)
		}
		c := quick(open)
		c.Frames = 200000
		s, err := Run(context.Background(), c, "")
		if err != nil {
			t.Fatal(err)
		}
		if s.AllocsPerFrame >= 0.01 {
			t.Errorf("%s: %.4f allocations per frame in steady state", sel, s.AllocsPerFrame)
		}
	}
}

// reorder is a relay that holds frame at and sends it after the next one.
type reorder struct {
	out  *sim.End
	at   uint64
	seen atomic.Uint64
	held []byte
}

func (p *reorder) Receive(f []byte) {
	n := p.seen.Add(1)
	if n == p.at {
		p.held = append([]byte(nil), f...)
		return
	}
	p.out.Send(f)
	if p.held != nil {
		p.out.Send(p.held)
		p.held = nil
	}
}

// A frame overtaken outside any fault fails the run: only a fault's
// recovery may reorder.
func TestReorderOutsideAFaultFails(t *testing.T) {
	m, err := catalog.ModelBySelector("sim:ecm")
	if err != nil {
		t.Fatal(err)
	}
	open := func() (*Rig, error) {
		near, far := sim.NewWire(), sim.NewWire()
		inst := m.Build(catalog.Options{})
		inst.Plug(near.A())
		near.B().Attach(&reorder{out: far.A(), at: 1000})
		far.A().Attach(&relay{out: near.B()})
		return &Rig{HW: inst.Dev, Drivers: catalog.ForModels(), Peer: far.B(), Faults: inst.Dev}, nil
	}
	s, err := Run(context.Background(), quick(open), "")
	if !errors.Is(err, ErrFrame) || s.BadFrames != 1 || !strings.Contains(err.Error(), "TX frame on the wire 999: out of order") {
		t.Fatalf("err %v, %d bad frames; want ErrFrame naming TX frame 999", err, s.BadFrames)
	}
}

// Without faults the frame budget is split exactly: half each way.
func TestBudgetSplitsEvenly(t *testing.T) {
	open, err := SimOpener("sim:ax88772")
	if err != nil {
		t.Fatal(err)
	}
	c := quick(open)
	c.Frames = 20001
	s, err := Run(context.Background(), c, "")
	if err != nil {
		t.Fatal(err)
	}
	if s.TX.Offered != 10001 || s.RX.Offered != 10000 || s.TX.Arrived != 10001 || s.RX.Arrived != 10000 {
		t.Errorf("TX %d offered %d arrived, RX %d offered %d arrived; want 10001 and 10000", s.TX.Offered, s.TX.Arrived, s.RX.Offered, s.RX.Arrived)
	}
	if s.Counters.TxPackets != 10001 || s.Counters.RxPackets != 10000 || s.Bindings != 1 {
		t.Errorf("counters %+v, %d bindings", s.Counters, s.Bindings)
	}
}

// Faults every N frames: as many as the budget holds, each kind in turn.
func TestFaultEvery(t *testing.T) {
	open, err := SimOpener("sim:ecm")
	if err != nil {
		t.Fatal(err)
	}
	c := quick(open)
	c.Frames, c.Faults, c.FaultEvery = 30000, []Kind{Stall, Timeout}, 3000
	s, err := Run(context.Background(), c, "")
	if err != nil {
		t.Fatal(err)
	}
	st, to := s.Faults["stall"].Injected, s.Faults["timeout"].Injected
	t.Logf("%d stalls, %d timeouts", st, to)
	// At most one a 3000 frames; each fault's own frames (a burst, the
	// recovery) push the next one later, never earlier.
	if st+to > 9 || st+to < 5 || st < to || st-to > 1 {
		t.Errorf("%d stalls, %d timeouts in 30000 frames, one every 3000 in turn", st, to)
	}
}

func TestDefaults(t *testing.T) {
	open, _ := SimOpener("sim:ecm")
	c := Config{Open: open, Frames: 1}
	if err := c.defaults(); err != nil {
		t.Fatal(err)
	}
	if c.MinSize != 60 || c.MaxSize != 1514 || c.Window != 32 || c.RecoverWithin != 5*time.Second || c.Settle != 200*time.Millisecond || c.TraceBytes != 16<<20 {
		t.Errorf("defaults %+v", c)
	}
	for _, ok := range []Config{
		{Open: open, Duration: 1, MinSize: 60, MaxSize: 60, Window: 1},
		{Open: open, Frames: 1, MinSize: 1514, MaxSize: 1514, Window: 64},
		{Open: open, Frames: 1, Faults: AllKinds(), FaultEvery: 1},
	} {
		if err := ok.defaults(); err != nil {
			t.Errorf("%+v refused: %v", ok, err)
		}
	}
	for _, bad := range []Config{
		{Open: open, Duration: -1},
		{Open: open, Frames: 1, MinSize: 59},
		{Open: open, Frames: 1, MinSize: 100, MaxSize: 99},
		{Open: open, Frames: 1, MaxSize: 1515},
		{Open: open, Frames: 1, Window: -1},
		{Open: open, Frames: 1, Faults: AllKinds(), Rate: -1},
	} {
		if err := bad.defaults(); !errors.Is(err, ErrConfig) {
			t.Errorf("%+v: %v, want ErrConfig", bad, err)
		}
	}
	if numKinds.String() != "Kind(4)" || Kind(-1).String() != "Kind(-1)" {
		t.Errorf("out of range kinds: %s, %s", numKinds, Kind(-1))
	}
}
