package soak

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/onsi/gomega/gleak"

	"dongle/hw/record"
	"dongle/skbuff"
	"dongle/usbnet"
	"dongle/usbnet/decode"
)

// run is one soak run's state. Fields without a note are the run
// goroutine's; the counting port and the RX handler run on the driver's
// goroutines and touch only the atomics and what their mutex guards.
type run struct {
	cfg  Config
	ring *record.Ring
	rig  *Rig
	rec  *record.Device
	dev  *usbnet.Dev
	mac  net.HardwareAddr
	sum  *Summary

	busAddr, driver string // the adapter in the trace, for judging it

	kick    chan struct{} // a frame was counted somewhere
	timer   *time.Timer
	handler func(b *skbuff.Buff)
	rxBuf   []byte

	txSeq, rxSeq uint32
	offered      uint64 // frames given to Xmit
	sent         uint64 // frames the wire took from the peer's end
	base         driverCounts
	last         books     // at the last quiesce
	window       Kind      // the fault being recovered from, or -1
	stuckSince   time.Time // when pump last found its window full and nothing moving
	epTurn       int       // which endpoint the next stall/timeout hits

	onWire, delivered, others atomic.Uint64
	bad                       atomic.Uint64
	badMu                     sync.Mutex
	badWhy                    string       // the first bad frame
	wireSeq, rxSeq2           seqTrack     // guarded by badMu
	inWindow                  atomic.Int32 // the fault being recovered from, or -1
	reordered                 [numKinds]atomic.Uint64

	// steady-state allocation measurement
	segMallocs, segFrames uint64
	segStart              runtime.MemStats
	segStartFrames        uint64
	segOn                 bool
}

// driverCounts are the netdev counters soak accounts with.
type driverCounts struct {
	txPackets, txDropped, txErrors uint64
	rxPackets, rxDropped, rxErrors uint64
}

func (a driverCounts) add(b driverCounts) driverCounts {
	return driverCounts{a.txPackets + b.txPackets, a.txDropped + b.txDropped, a.txErrors + b.txErrors,
		a.rxPackets + b.rxPackets, a.rxDropped + b.rxDropped, a.rxErrors + b.rxErrors}
}

// Run soaks cfg's device until cfg.Duration or cfg.Frames, or ctx ends
// (which ends the run as the duration would). The summary is filled in
// whatever happens; the error is the first failure (wrapping one of the
// package's sentinels), after which the run stops. traceOut, if not
// empty, receives the trace ring as a pcap file when the run fails.
func Run(ctx context.Context, cfg Config, traceOut string) (*Summary, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	ring, err := record.NewRing(cfg.TraceBytes)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	goroutines := gleak.Goroutines()
	live := skbuff.Live()
	r := &run{cfg: cfg, ring: ring, kick: make(chan struct{}, 1), timer: time.NewTimer(time.Hour),
		rxBuf: make([]byte, cfg.MaxSize), sum: newSummary(cfg)}
	r.timer.Stop()
	r.window = -1
	r.inWindow.Store(-1)
	r.handler = r.receive
	r.sum.RSSStartKB = rssKB()
	start := time.Now()
	runErr := r.soak(ctx, start)
	r.endSegment()
	if terr := r.teardown(); runErr == nil && terr != nil {
		runErr = terr
	}
	r.fill(time.Since(start))
	if runErr != nil && traceOut != "" {
		r.sum.TraceFile = traceOut
		if werr := r.writeTrace(traceOut); werr != nil {
			runErr = errors.Join(runErr, werr)
			r.sum.TraceFile = ""
		} else {
			r.judge(traceOut)
		}
	}
	if lerr := r.leaks(live, goroutines); runErr == nil {
		runErr = lerr
	}
	r.sum.RSSEndKB = rssKB()
	if runErr != nil {
		r.sum.Failure = runErr.Error()
	}
	r.sum.Pass = runErr == nil
	return r.sum, runErr
}

// soak is the run proper: bind, traffic and faults until the end, then a
// last quiesce.
func (r *run) soak(ctx context.Context, start time.Time) error {
	if err := r.open(); err != nil {
		return err
	}
	var nextFault time.Time
	var nextFrames uint64
	faultEvery := time.Duration(0)
	switch {
	case len(r.cfg.Faults) == 0:
	case r.cfg.FaultEvery > 0:
		nextFrames = r.cfg.FaultEvery
	default:
		faultEvery = time.Duration(float64(time.Second) / r.cfg.Rate)
		nextFault = start.Add(faultEvery)
	}
	nextShow := start
	turn := 0
	r.startSegment()
	for i := 0; ; i++ {
		if i&63 == 0 {
			now := time.Now()
			if ctx.Err() != nil || r.cfg.Duration > 0 && now.Sub(start) >= r.cfg.Duration || r.budgetSpent() {
				break
			}
			if r.sum.RSSWarmKB == 0 && r.ring.Evicted() > 0 {
				r.sum.RSSWarmKB = rssKB() // the trace ring is full: all the memory the run needs is in use
			}
			if r.cfg.Progress != nil && now.After(nextShow) {
				r.endSegment()
				r.fill(now.Sub(start))
				r.cfg.Progress(r.sum)
				nextShow = now.Add(250 * time.Millisecond)
				r.startSegment()
			}
			if faultEvery > 0 && now.After(nextFault) || nextFrames > 0 && r.offered+r.sent >= nextFrames {
				r.endSegment()
				k := r.cfg.Faults[turn%len(r.cfg.Faults)]
				turn++
				if err := r.fault(k); err != nil {
					return err
				}
				nextFault = time.Now().Add(faultEvery)
				if nextFrames > 0 {
					nextFrames = r.offered + r.sent + r.cfg.FaultEvery
				}
				r.startSegment()
			}
		}
		if err := r.pump(); err != nil {
			return err
		}
	}
	r.endSegment()
	return r.quiesce(-1)
}

// budgetSpent reports whether Frames have been offered (both ways).
func (r *run) budgetSpent() bool {
	return r.cfg.Frames > 0 && r.offered+r.sent >= r.cfg.Frames
}

// pump offers one frame each way where the window has room, else waits
// for a frame to be counted. A window that stays full for Settle is a
// loss: it quiesces, which names it.
func (r *run) pump() error {
	txIn, rxIn := r.inflight(r.snap())
	moved := false
	// The frame budget is split between the directions; a recovery
	// needs traffic whatever is left of it.
	half := r.cfg.Frames / 2
	free := half == 0 || r.window >= 0
	if txIn < uint64(r.cfg.Window) && (free || r.offered < r.cfg.Frames-half) {
		r.xmit()
		moved = true
	}
	if rxIn < uint64(r.cfg.Window) && (free || r.sent < half) {
		r.inject()
		moved = true
	}
	if moved {
		r.stuckSince = time.Time{}
		return nil
	}
	// Nothing to offer: let the driver's goroutines run (a TX frame is
	// counted in tx_packets when its transfer is reaped, which sends no
	// kick), then wait a little for a kick. A window that stays full for
	// Settle is a loss: quiesce, which names it.
	for i := 0; i < 64; i++ {
		runtime.Gosched()
		if tx, rx := r.inflight(r.snap()); tx < txIn || rx < rxIn {
			return nil
		}
	}
	r.wait(pollEvery)
	if tx, rx := r.inflight(r.snap()); tx < txIn || rx < rxIn {
		r.stuckSince = time.Time{}
		return nil
	}
	if r.stuckSince.IsZero() {
		r.stuckSince = time.Now()
	} else if time.Since(r.stuckSince) >= r.cfg.Settle {
		r.stuckSince = time.Time{}
		return r.quiesce(r.window)
	}
	return nil
}

// pollEvery is how long pump waits for a kick with its window full.
const pollEvery = 500 * time.Microsecond

// wait waits up to d for a kick; it reports whether one came.
func (r *run) wait(d time.Duration) bool {
	r.timer.Reset(d)
	defer r.timer.Stop()
	select {
	case <-r.kick:
		return true
	case <-r.timer.C:
		return false
	}
}

func (r *run) signal() {
	select {
	case r.kick <- struct{}{}:
	default:
	}
}

// xmit offers the next TX frame to the driver. Xmit owns the buffer
// whatever it returns; a refusal is counted in tx_dropped by netdev.
func (r *run) xmit() {
	n := frameLen(r.txSeq, r.cfg.MinSize, r.cfg.MaxSize)
	b := skbuff.Alloc(n)
	fill(b.Put(n), peerMAC, r.mac, dirTX, r.txSeq)
	b.Protocol = etherType
	r.txSeq++
	r.offered++
	_ = r.dev.Net.Xmit(b)
}

// inject puts the next RX frame on the wire from the peer's end. A frame
// the wire does not take (nothing attached) was not offered.
func (r *run) inject() {
	n := frameLen(r.rxSeq, r.cfg.MinSize, r.cfg.MaxSize)
	fill(r.rxBuf[:n], r.mac, peerMAC, dirRX, r.rxSeq)
	r.rxSeq++
	if r.rig.Peer.Send(r.rxBuf[:n]) {
		r.sent++
	} else {
		r.sum.RX.NotTaken++
	}
}

// Receive is the counting port on the wire's far end: TX frames arrive
// here (sim.Port).
func (r *run) Receive(frame []byte) {
	if len(frame) < 14 {
		r.others.Add(1)
		return
	}
	seq, st := check(frame[:14], frame[14:], dirTX, r.cfg.MinSize, r.cfg.MaxSize)
	r.count(st, seq, &r.onWire, &r.wireSeq, "TX frame on the wire")
}

// receive is the driver's RX handler for soak's EtherType.
func (r *run) receive(b *skbuff.Buff) {
	seq, st := check(b.MACHeader(), b.Data(), dirRX, r.cfg.MinSize, r.cfg.MaxSize)
	b.Free(skbuff.FreeRead)
	r.count(st, seq, &r.delivered, &r.rxSeq2, "RX frame delivered")
}

func (r *run) count(st frameCheck, seq uint32, n *atomic.Uint64, t *seqTrack, what string) {
	switch st {
	case notOurs:
		r.others.Add(1)
	case corrupt:
		r.badFrame(what, seq, "corrupted")
	case good:
		r.badMu.Lock()
		a := t.arrive(seq)
		r.badMu.Unlock()
		switch a {
		case late:
			// A frame overtaken during a fault's recovery (a transfer
			// resubmitted after a timeout goes after those submitted
			// since) is counted there; anywhere else it is a bad frame.
			if k := r.inWindow.Load(); k >= 0 {
				r.reordered[k].Add(1)
			} else {
				r.badFrame(what, seq, "out of order")
			}
		case duplicate:
			r.badFrame(what, seq, "duplicated")
		case tooLate:
			r.badFrame(what, seq, "out of order by more than the span tracked")
		}
		n.Add(1)
	}
	r.signal()
}

func (r *run) badFrame(what string, seq uint32, why string) {
	r.badMu.Lock()
	if r.badWhy == "" {
		r.badWhy = fmt.Sprintf("%s %d: %s", what, seq, why)
	}
	r.badMu.Unlock()
	r.bad.Add(1)
}

// counts are the driver's counters so far, summed over every binding.
func (r *run) counts() driverCounts {
	c := r.base
	if r.dev != nil {
		c = c.add(netCounts(r.dev))
	}
	return c
}

func netCounts(d *usbnet.Dev) driverCounts {
	st := d.Net.Stats()
	return driverCounts{st.TxPackets.Load(), st.TxDropped.Load(), st.TxErrors.Load(),
		st.RxPackets.Load(), st.RxDropped.Load(), st.RxErrors.Load()}
}

// books is the run's accounting at one moment.
type books struct {
	driverCounts
	offered, onWire, sent, delivered uint64
}

func (r *run) snap() books {
	return books{r.counts(), r.offered, r.onWire.Load(), r.sent, r.delivered.Load()}
}

// inflight are the frames the driver, the device or the wire still hold
// each way since the last quiesce: TX offered and neither on the wire and
// counted in tx_packets, nor counted dropped or in error (tx_* count
// frames); RX put on the wire and neither delivered nor dropped. An
// rx_error does not end an RX frame's flight: rx_errors count bulk IN
// transfers that failed, which may have held a frame or none (a stalled
// transfer waiting for data), so only a quiesce's books credit them.
func (r *run) inflight(b books) (tx, rx uint64) {
	p := r.last
	// A frame is on the wire a moment before the driver reaps its
	// transfer and counts it in tx_packets: it is in flight until both.
	txDone := min(b.onWire-p.onWire, b.txPackets-p.txPackets) + (b.txDropped - p.txDropped) + (b.txErrors - p.txErrors)
	rxDone := (b.delivered - p.delivered) + (b.rxDropped - p.rxDropped)
	if d := b.offered - p.offered; d > txDone {
		tx = d - txDone
	}
	if d := b.sent - p.sent; d > rxDone {
		rx = d - rxDone
	}
	return tx, rx
}

// quiesce stops offering frames until everything in flight is accounted
// for or nothing moved for Settle, then checks the books since the last
// quiesce. What is missing is lost to fault k (k >= 0: the quiesce right
// after it) if it is no more than can be in flight, and unaccounted
// otherwise.
func (r *run) quiesce(k Kind) error { return r.account(k, true) }

// account is quiesce, waiting for what is in flight (settle) or not: a
// device that is gone (unplugged, its driver disconnected) holds nothing
// that can still arrive.
func (r *run) account(k Kind, settle bool) error {
	last := r.snap()
	since := time.Now()
	hard := time.Now().Add(r.cfg.RecoverWithin)
	for settle {
		b := r.snap()
		if tx, rx := r.inflight(b); tx == 0 && rx == 0 {
			break
		}
		if b != last {
			last, since = b, time.Now()
		} else if time.Since(since) >= r.cfg.Settle && (!r.owed(b) || time.Now().After(hard)) {
			break
		}
		runtime.Gosched()
		r.wait(pollEvery)
	}
	if err := r.frameErr(); err != nil {
		return err
	}
	b, p := r.snap(), r.last
	r.last = b
	dOffered, dSent := b.offered-p.offered, b.sent-p.sent
	txDone := (b.onWire - p.onWire) + (b.txDropped - p.txDropped) + (b.txErrors - p.txErrors)
	txCounted := (b.txPackets - p.txPackets) + (b.txDropped - p.txDropped) + (b.txErrors - p.txErrors)
	rxDone := (b.delivered - p.delivered) + (b.rxDropped - p.rxDropped)
	if txDone > dOffered || txCounted > dOffered || rxDone > dSent || b.onWire > b.txPackets || b.delivered > b.rxPackets {
		return fmt.Errorf("%w: %s", ErrCounters, r.describe(b))
	}
	lostTX, notDelivered := dOffered-txDone, dSent-rxDone
	if k < 0 {
		// Outside a fault, an rx_error may stand for a frame the device
		// sent broken; nothing else may be missing.
		rxErr := b.rxErrors - p.rxErrors
		lostRX := uint64(0)
		if notDelivered > rxErr {
			lostRX = notDelivered - rxErr
		}
		if lostTX == 0 && lostRX == 0 {
			return nil
		}
		r.sum.TX.Unaccounted += lostTX
		r.sum.RX.Unaccounted += lostRX
		return fmt.Errorf("%w: %d TX and %d RX frames lost outside any fault (%s)", ErrLost, lostTX, lostRX, r.describe(b))
	}
	f := r.sum.Faults[k.String()]
	f.LostTX += lostTX
	f.LostRX += notDelivered
	r.sum.TX.LostToFaults += lostTX
	r.sum.RX.LostToFaults += notDelivered
	if w := uint64(r.cfg.Window); lostTX > w || notDelivered > w {
		r.sum.TX.Unaccounted += lostTX
		r.sum.RX.Unaccounted += notDelivered
		return fmt.Errorf("%w: %d TX and %d RX frames lost at a %s fault, more than the %d in flight (%s)", ErrLost, lostTX, notDelivered, k, w, r.describe(b))
	}
	return nil
}

// owed reports frames provably still in flight: on the wire but not yet
// counted in tx_packets (the driver has yet to reap their transfer), or
// waiting in the netdev's queues. A quiesce waits for them past Settle (a
// loaded machine may not run the driver's goroutines for a while), up to
// RecoverWithin.
func (r *run) owed(b books) bool {
	if b.onWire > b.txPackets {
		return true
	}
	return r.dev != nil && (r.dev.Net.TxQueued() > 0 || r.dev.Net.RxBacklog() > 0)
}

func (r *run) frameErr() error {
	if r.bad.Load() == 0 {
		return nil
	}
	r.badMu.Lock()
	defer r.badMu.Unlock()
	return fmt.Errorf("%w: %d bad frames, the first %s", ErrFrame, r.bad.Load(), r.badWhy)
}

// describe is the accounting in one line, for errors.
func (r *run) describe(b books) string {
	return fmt.Sprintf("TX offered %d: tx_packets %d + tx_dropped %d + tx_errors %d, %d on the wire; RX sent %d: delivered %d (rx_packets %d) + rx_dropped %d + rx_errors %d; lost to faults so far %d TX, %d RX",
		b.offered, b.txPackets, b.txDropped, b.txErrors, b.onWire,
		b.sent, b.delivered, b.rxPackets, b.rxDropped, b.rxErrors, r.sum.TX.LostToFaults, r.sum.RX.LostToFaults)
}

// open opens a fresh rig, records it into the ring and binds the driver.
func (r *run) open() error {
	rig, err := r.cfg.Open()
	if err != nil {
		return fmt.Errorf("%w: open %s: %w", ErrDevice, r.cfg.Backend, err)
	}
	rec, err := record.New(rig.HW, r.ring.Stream(), record.Options{})
	if err != nil {
		rig.HW.Close()
		return fmt.Errorf("%w: %w", ErrDevice, err)
	}
	rig.Peer.Attach(r)
	r.rig, r.rec = rig, rec
	info := rig.HW.Info()
	r.busAddr = fmt.Sprintf("%d.%d", info.Bus, info.Address)
	return r.bind()
}

// bind probes the driver on the current rig, brings it up and waits for
// the carrier.
func (r *run) bind() error {
	d, err := usbnet.Probe(r.rec, r.rig.Drivers...)
	if err != nil {
		return fmt.Errorf("%w: bind %s: %w", ErrDevice, r.cfg.Backend, err)
	}
	r.dev = d
	r.driver = d.Driver.Name()
	r.sum.Bindings++
	d.Net.AddHandler(etherType, r.handler)
	if d.Net.TxQueueLen < 2*r.cfg.Window {
		d.Net.SetTxQueueLen(2 * r.cfg.Window)
	}
	if r.cfg.Bound != nil {
		r.cfg.Bound(d)
	}
	if err := d.Net.Open(); err != nil {
		return fmt.Errorf("%w: open %s: %w", ErrDevice, d.Net.Name(), err)
	}
	deadline := time.Now().Add(r.cfg.RecoverWithin)
	for !d.Net.Carrier() {
		if time.Now().After(deadline) {
			return fmt.Errorf("%w: %s: no carrier %v after open", ErrDevice, d.Net.Name(), r.cfg.RecoverWithin)
		}
		time.Sleep(time.Millisecond)
	}
	r.mac = d.Net.HardwareAddr()
	return nil
}

// unbind disconnects the driver (closing the interface), keeping its
// final counters.
func (r *run) unbind() {
	if r.dev == nil {
		return
	}
	r.dev.Disconnect()
	r.base = r.base.add(netCounts(r.dev))
	r.dev = nil
}

// teardown unbinds and closes the device (the recorder flushes into the
// ring).
func (r *run) teardown() error {
	r.unbind()
	if r.rec == nil {
		return nil
	}
	err := r.rec.Close()
	r.rec = nil
	if err != nil && !errors.Is(err, os.ErrClosed) {
		return fmt.Errorf("%w: closing %s: %w", ErrDevice, r.cfg.Backend, err)
	}
	return nil
}

// judge runs the failure rules over the trace written on failure: the
// ring keeps the newest records, so the adapter is named by address and
// driver (its enumeration may have been evicted).
func (r *run) judge(path string) {
	tr, err := decode.ReadFile(path, decode.Options{Device: r.busAddr, Driver: r.driver})
	if err != nil {
		r.sum.FindingsNote = "the trace could not be judged: " + err.Error()
		return
	}
	r.sum.Findings = tr.Findings
	if len(tr.Findings) == 0 {
		r.sum.FindingsNote = fmt.Sprintf("no failure rule fired (%d rules) on the trace kept", tr.Rules)
	}
}

func (r *run) writeTrace(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("soak: trace on failure: %w", err)
	}
	_, err = r.ring.WriteTo(f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("soak: trace on failure %s: %w", path, err)
	}
	return nil
}

// leaks waits (2 s for buffers, 3 s for goroutines, as the specs do) for
// every sk_buff to be freed and every goroutine the run started to end.
func (r *run) leaks(live int, before []gleak.Goroutine) error {
	deadline := time.Now().Add(2 * time.Second)
	for skbuff.Live() != live && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	r.sum.LeakedSKBs = skbuff.Live() - live
	leaked := leakedGoroutines(before)
	deadline = time.Now().Add(3 * time.Second)
	for len(leaked) > 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
		leaked = leakedGoroutines(before)
	}
	r.sum.LeakedGoroutines = len(leaked)
	if r.sum.LeakedSKBs != 0 || len(leaked) != 0 {
		msg := ""
		if len(leaked) > 0 {
			msg = fmt.Sprintf("; the first goroutine: %s", leaked[0])
		}
		return fmt.Errorf("%w: %d sk_buffs, %d goroutines%s", ErrLeak, r.sum.LeakedSKBs, len(leaked), msg)
	}
	return nil
}

// leakedGoroutines are the goroutines not in before that gleak's
// HaveLeaked (the specs' check, with its standard exceptions) calls
// leaked.
func leakedGoroutines(before []gleak.Goroutine) []gleak.Goroutine {
	m := gleak.HaveLeaked(before)
	var out []gleak.Goroutine
	for _, g := range gleak.Goroutines() {
		if leak, err := m.Match([]gleak.Goroutine{g}); err == nil && leak {
			out = append(out, g)
		}
	}
	return out
}

// Steady-state allocation: mallocs per frame over the stretches of
// traffic between faults and progress reports.
func (r *run) startSegment() {
	runtime.ReadMemStats(&r.segStart)
	r.segStartFrames = r.offered + r.sent
	r.segOn = true
}

func (r *run) endSegment() {
	if !r.segOn {
		return
	}
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	r.segMallocs += m.Mallocs - r.segStart.Mallocs
	r.segFrames += r.offered + r.sent - r.segStartFrames
	r.segOn = false
}
