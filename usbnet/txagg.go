package usbnet

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"dongle/hw"
	"dongle/netdev"
	"dongle/skbuff"
)

// TxAggregator is implemented by a minidriver whose device takes many
// frames in one bulk OUT transfer (CDC-NCM's NTBs, the RTL8153's
// aggregated TX): Linux's FLAG_MULTI_PACKET with a tx_fixup that keeps
// the block it is filling (cdc_ncm_fill_tx_frame) and an hrtimer that
// sends a block nobody filled (cdc_ncm_tx_timer_cb, 400 µs).
//
// Why a framework hook rather than a TxFixup that holds frames back:
// the block being filled must live in a TX slot of the framework, so that
// the busy/stop-queue contract, the ZLP rule, halts, timeouts, unplug and
// Stop treat it as they treat any transfer, and so that every frame in it
// is counted exactly once (tx_packets/tx_bytes when the transfer that
// carries it completes; tx_errors or tx_dropped, per frame, when it
// fails or is discarded). A driver that kept frames of its own would have
// to reimplement all of that, and a timer, per driver.
//
// The framework owns the block (an sk_buff of TxAggLimits.Size bytes
// from skbuff's pools, one spare byte for the ZLP rule's pad) and calls
// the driver to fill it, always from one goroutine at a time:
//
//	           first frame:                        TxAggAdd → full,
//	           take a free slot,     frame fits    or ErrTxAggFull,
//	┌──────┐   TxAggBegin, TxAggAdd  ┌─────────┐   or the timer       ┌─────────┐
//	│ none │────────────────────────►│ filling │─────────────────────►│ in      │
//	└──────┘                         └─────────┘   TxAggEnd, ZLP      │ flight  │
//	   ▲  ▲         Stop / unplug:     │ ▲    │    rule, Submit       └────┬────┘
//	   │  └──── frames tx_dropped ─────┘ └────┘ TxAggAdd                  │
//	   │        (one each), freed                (timer armed by the      │
//	   │                                         block's first frame,     │
//	   │                                         unless still running)    │
//	   └──────────── completion: every frame counted, block freed ────────┘
//
// A frame is copied into the block by TxAggAdd and its sk_buff freed at
// once (Linux does the same: the NTB is a fresh skb); the block is freed
// when its transfer completes. Nothing is allocated per frame: blocks
// come from skbuff's pools and the timer is made once per Open.
//
// Flushes: TxAggAdd says the block is full (its datagram cap reached, or
// too little room left for anything), or a frame does not fit
// (ErrTxAggFull: the block goes, and the frame starts the next one), or
// the block's first frame has waited TxAggLimits.Timeout (the timer,
// Linux's 400 µs). Linux re-arms its timer while a block holds fewer than
// three datagrams (CDC_NCM_TIMER_PENDING_CNT); here the first frame's
// deadline is the bound on every frame's wait, whatever follows it. The
// timer is set only when it is not already (Linux starts its hrtimer only
// when it is not active): a block that leaves does not stop it, the next
// block does not reset it, and the flusher re-arms it for a deadline still
// ahead. Counters.TxAggFull, TxAggNoRoom and TxAggTimer count each kind of
// flush. While bulk OUT is halted no frame joins and the timer sends
// nothing; the block goes once the halt is cleared.
//
// Busy/retry: a filling block accepts frames even when it holds the last
// free slot; the queue is stopped when a block leaves and no slot is left
// (the same critical section). A frame that does not fit when no slot is
// free for the next block gets XmitBusy (it stays netdev's); the queue is
// then stopped and woken by the next completion.
type TxAggregator interface {
	// TxAggLimits is asked once per Open, on the control path (after
	// Reset): the block size and the timer.
	TxAggLimits(d *Dev) TxAggLimits
	// TxAggBegin prepares an empty block (agg.Len() == 0): headers
	// reserved or written, per-block state reset.
	TxAggBegin(d *Dev, agg *skbuff.Buff)
	// TxAggAdd copies frame (read only; the framework frees it) into
	// agg. It returns ErrTxAggFull (wrapped or not), having written
	// nothing, when the frame does not fit; any other error refuses the
	// frame (tx_dropped) and leaves agg as it was. full asks for the block
	// to be sent now. It must not allocate, and must keep agg.Len()
	// within TxAggLimits.Size.
	TxAggAdd(d *Dev, agg *skbuff.Buff, frame *skbuff.Buff) (full bool, err error)
	// TxAggEnd completes a block of at least one frame before it is sent
	// (indexes, lengths, the device's own padding). An error discards it:
	// its frames are counted tx_dropped.
	TxAggEnd(d *Dev, agg *skbuff.Buff) error
}

// TxAggLimits size a TxAggregator's blocks.
type TxAggLimits struct {
	// Size is the largest block in bytes (NCM's dwNtbOutMaxSize).
	Size int
	// Timeout is how long a block's first frame may wait for company
	// before the block is sent anyway (0: DefaultTxAggTimeout).
	Timeout time.Duration
}

// DefaultTxAggTimeout is cdc_ncm's CDC_NCM_TIMER_INTERVAL_USEC.
const DefaultTxAggTimeout = 400 * time.Microsecond

// ErrTxAggFull is TxAggAdd's answer for a frame that does not fit the
// block. Returned for an empty block (the frame can never fit), the frame
// is dropped and counted in tx_dropped and Counters.TxAggTooBig.
var ErrTxAggFull = errors.New("frame does not fit the TX aggregate")

// ErrTxAggLimits: TxAggLimits returned a size the framework cannot use.
var ErrTxAggLimits = errors.New("bad TX aggregation limits")

// txAgg is the framework's side of a TxAggregator: the block being filled
// and its timer. mu serialises HardStartXmit and the flusher; it is taken
// before d.mu, never after, and never held across a control transfer nor
// across WakeQueue (netdev may call HardStartXmit from it, which takes mu:
// a slot given back under mu records the wake in wake, paid by unlock).
// open is written with both mu and d.mu held, so either lock reads it.
type txAgg struct {
	drv TxAggregator

	mu   sync.Mutex
	lim  TxAggLimits
	open *txSlot // the block being filled; nil: none
	wake bool    // a slot came back under mu: WakeQueue owed
	// deadline is when open's first frame has waited Timeout, as time
	// since epoch (set at Open): time.Since on a Time that holds a
	// monotonic reading reads one clock, where time.Now reads two, and
	// this is read once per block (a system call each where the clock
	// source has no vDSO read, as in the lab's TCG guest).
	deadline time.Duration
	epoch    time.Time
	// armed: the timer is set, to fire at or before deadline. It is
	// left running when a block leaves and not reset for the next one
	// (Linux starts its hrtimer only when it is not active): the flusher
	// re-arms for a deadline still ahead. Resetting a Go timer to an
	// earlier time wakes the netpoller with a write(2), a system call per
	// block.
	armed bool
	timer *time.Timer
	quit  chan struct{}
	wg    sync.WaitGroup
}

// aggLimits is Open's first part for an aggregating driver, right after
// Reset and before anything is allocated or selected: the limits, asked
// once, checked.
func (d *Dev) aggLimits() error {
	a := d.agg
	lim := a.drv.TxAggLimits(d)
	if lim.Size <= 0 {
		return fmt.Errorf("%s: block size %d: %w", d.Driver.Name(), lim.Size, ErrTxAggLimits)
	}
	if lim.Timeout <= 0 {
		lim.Timeout = DefaultTxAggTimeout
	}
	a.lim = lim
	return nil
}

// startAgg is Open's last part for an aggregating driver: the timer and
// the flusher goroutine.
func (d *Dev) startAgg() {
	a := d.agg
	a.open = nil
	a.epoch = time.Now()
	a.timer = time.NewTimer(time.Hour)
	a.timer.Stop()
	a.armed = false
	a.quit = make(chan struct{})
	a.wg.Add(1)
	go d.aggFlusher()
}

// stopAgg is Stop's part: the flusher ends, and the block being filled
// is taken out of the filling state; stop frees it with the other slots'
// buffers, its frames counted tx_dropped. d.state is already
// stateStopping, so no frame joins a block any more.
func (d *Dev) stopAgg() {
	a := d.agg
	close(a.quit)
	a.wg.Wait()
	a.mu.Lock()
	a.timer.Stop()
	a.armed = false
	d.mu.Lock()
	a.open = nil
	d.mu.Unlock()
	a.mu.Unlock()
}

// aggFlusher is the timer's goroutine (cdc_ncm's hrtimer and tasklet):
// it sends the block whose first frame has waited long enough.
func (d *Dev) aggFlusher() {
	a := d.agg
	defer a.wg.Done()
	for {
		select {
		case <-a.quit:
			return
		case <-a.timer.C:
		}
		a.mu.Lock()
		a.armed = false
		if s := a.open; s != nil && s.frames > 0 {
			// The block that armed the timer may have left already: only
			// a block past its own deadline goes; a newer one has the
			// timer re-armed for what it has left.
			if wait := a.deadline - time.Since(a.epoch); wait > 0 {
				a.timer.Reset(wait)
				a.armed = true
				d.counters.TxAggTimerArms.Add(1)
			} else {
				d.mu.Lock()
				halted := d.txHalted
				d.mu.Unlock()
				if !halted {
					d.counters.TxAggTimer.Add(1)
					d.aggFlushLocked(s)
				}
			}
		}
		d.aggUnlock()
	}
}

// aggUnlock releases a.mu and pays the wake a slot given back under it
// owes.
func (d *Dev) aggUnlock() {
	a := d.agg
	wake := a.wake
	a.wake = false
	a.mu.Unlock()
	if wake {
		d.Net.WakeQueue()
	}
}

// aggRelease is releaseTx under a.mu.
func (d *Dev) aggRelease(s *txSlot) {
	if d.releaseTxNoWake(s) {
		d.agg.wake = true
	}
}

// aggResume runs after a bulk OUT halt was cleared: a block that waited
// through the halt goes now.
func (d *Dev) aggResume() {
	a := d.agg
	a.mu.Lock()
	if a.open != nil && a.timer != nil {
		a.deadline = 0 // past
		a.timer.Reset(0)
		a.armed = true
		d.counters.TxAggTimerArms.Add(1)
	}
	a.mu.Unlock()
}

// aggXmit is HardStartXmit for a TxAggregator.
func (d *Dev) aggXmit(b *skbuff.Buff) netdev.XmitResult {
	a := d.agg
	st := d.Net.Stats()
	a.mu.Lock()
	defer d.aggUnlock()
	s, res, ok := d.aggSlotLocked(b)
	if !ok {
		return res
	}
	n := b.Len()
	full, err := a.drv.TxAggAdd(d, s.skb, b)
	if errors.Is(err, ErrTxAggFull) && s.frames > 0 {
		// Linux's tx_rem_skb: the block goes, the frame starts the next.
		d.counters.TxAggNoRoom.Add(1)
		d.aggFlushLocked(s)
		if s, res, ok = d.aggSlotLocked(b); !ok {
			return res
		}
		full, err = a.drv.TxAggAdd(d, s.skb, b)
	}
	if err != nil {
		if errors.Is(err, ErrTxAggFull) {
			d.counters.TxAggTooBig.Add(1)
		}
		b.Free(skbuff.FreeWrite)
		st.TxDropped.Add(1)
		if s.frames == 0 {
			d.aggDiscardLocked(s)
		}
		return netdev.XmitOK
	}
	b.Free(skbuff.FreeWrite)
	s.frames++
	s.bytes += n
	switch {
	case full:
		d.counters.TxAggFull.Add(1)
		d.aggFlushLocked(s)
	case s.frames == 1:
		a.deadline = time.Since(a.epoch) + a.lim.Timeout
		if !a.armed {
			a.timer.Reset(a.lim.Timeout)
			a.armed = true
			d.counters.TxAggTimerArms.Add(1)
		}
	}
	return netdev.XmitOK
}

// aggSlotLocked returns the block being filled, or starts one in a free
// slot. When it cannot (ok false), res is HardStartXmit's answer and b is
// dealt with: freed and counted (stopping, gone) or left to netdev (busy).
// a.mu held.
func (d *Dev) aggSlotLocked(b *skbuff.Buff) (s *txSlot, res netdev.XmitResult, ok bool) {
	a := d.agg
	d.mu.Lock()
	if !d.runningLocked() {
		d.mu.Unlock()
		b.Free(skbuff.FreeWrite)
		d.Net.Stats().TxDropped.Add(1)
		return nil, netdev.XmitOK, false
	}
	if d.txHalted {
		d.txStopped = true
		d.Net.StopQueue()
		d.mu.Unlock()
		d.counters.TxBusy.Add(1)
		return nil, netdev.XmitBusy, false
	}
	if s = a.open; s != nil {
		d.mu.Unlock()
		return s, 0, true
	}
	n := len(d.txFree)
	if n == 0 {
		d.txStopped = true
		d.Net.StopQueue()
		d.mu.Unlock()
		d.counters.TxBusy.Add(1)
		return nil, netdev.XmitBusy, false
	}
	s = d.txFree[n-1]
	d.txFree = d.txFree[:n-1]
	a.open = s
	d.mu.Unlock()
	// One byte beyond Size: the ZLP rule's pad, if the driver relies on it.
	s.skb = skbuff.AllocUninit(a.lim.Size + 1)
	s.frames, s.bytes = 0, 0
	a.drv.TxAggBegin(d, s.skb)
	return s, 0, true
}

// aggDiscardLocked gives back the slot of a block that holds no frame.
// a.mu held.
func (d *Dev) aggDiscardLocked(s *txSlot) {
	d.mu.Lock()
	d.agg.open = nil
	d.mu.Unlock()
	s.skb.Free(skbuff.FreeWrite)
	s.skb = nil
	d.aggRelease(s)
}

// aggFlushLocked sends the block being filled: TxAggEnd, the ZLP rule,
// Submit. When no slot is left for the next block the queue stops, in
// the same critical section. a.mu held.
func (d *Dev) aggFlushLocked(s *txSlot) {
	a := d.agg
	d.mu.Lock()
	a.open = nil
	d.mu.Unlock()
	st := d.Net.Stats()
	if err := a.drv.TxAggEnd(d, s.skb); err != nil {
		s.skb.Free(skbuff.FreeWrite)
		s.skb = nil
		st.TxDropped.Add(uint64(s.frames))
		d.aggRelease(s)
		return
	}
	d.counters.TxAggregates.Add(1)
	s.skb = d.zlpRule(s, s.skb)
	s.t.Buf = s.skb.Data()
	s.err, s.tries = nil, 0
	d.mu.Lock()
	err := d.submitTxLocked(s)
	if err == nil && len(d.txFree) == 0 && !d.txStopped {
		d.txStopped = true
		d.Net.StopQueue()
		d.counters.TxQueueStops.Add(1)
	}
	d.mu.Unlock()
	if err != nil {
		s.skb.Free(skbuff.FreeWrite)
		s.skb = nil
		d.countTxLost(s, err)
		d.aggRelease(s)
	}
}

// countTxLost counts the frames of a slot whose submission failed:
// tx_dropped when the device is gone (or stopping), tx_errors otherwise.
func (d *Dev) countTxLost(s *txSlot, err error) {
	st := d.Net.Stats()
	if c := hw.StatusOf(err); c == hw.ErrNoDevice || c == hw.ErrCancelled {
		st.TxDropped.Add(uint64(s.frames))
	} else {
		st.TxErrors.Add(uint64(s.frames))
	}
}
