package netdev

import (
	"sync"

	"dongle/skbuff"
)

// prio2band maps a buffer's Priority (TC_PRIO_*) to a band, as Linux's
// pfifo_fast does: band 0 is served first (interactive, control), band 1
// is best effort (priority 0, the default), band 2 is bulk.
var prio2band = [16]int{1, 2, 2, 2, 1, 2, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1}

// Band returns the transmit band (0 first) for a buffer priority; priorities
// outside 0..15 use their low four bits, as TC_PRIO_MAX masks them.
func Band(priority int) int { return prio2band[priority&15] }

// txState is the transmit side: the per-priority queues (buffs[]) and the
// queue discipline's run state.
//
//	Xmit ─► band[Band(prio)] ─► run loop ─► HardStartXmit ─OK──► driver owns, frees once
//	          (≤ TxQueueLen)       ▲                       └Busy─► tbusy, back to head of band
//	                               └──────── WakeQueue ◄────────── driver, when it has room
type txState struct {
	mu      sync.Mutex
	bands   [Bands]skbuff.Queue
	n       int          // frames in all bands
	stopped bool         // tbusy (netif_stop_queue)
	running bool         // a goroutine is in the run loop (__QDISC_STATE_RUNNING)
	wakeGen uint64       // bumped by WakeQueue, to notice a wake during HardStartXmit
	retry   *skbuff.Buff // requeued after Busy: already seen by the TX taps
}

// purgeLocked frees every queued frame, counting each in tx_dropped.
func (t *txState) purgeLocked(d *Device) {
	for i := range t.bands {
		for b := t.bands[i].Dequeue(); b != nil; b = t.bands[i].Dequeue() {
			b.Free(skbuff.FreeWrite)
			d.stats.TxDropped.Add(1)
		}
	}
	t.n = 0
	t.retry = nil
}

// SetTxQueueLen changes TxQueueLen safely while traffic flows. The new
// bound applies to the next enqueue: frames already queued beyond it stay
// queued and are sent.
func (d *Device) SetTxQueueLen(n int) {
	d.tx.mu.Lock()
	d.TxQueueLen = n
	d.tx.mu.Unlock()
}

// TxQueued is the number of frames waiting in the transmit queues.
func (d *Device) TxQueued() int {
	d.tx.mu.Lock()
	defer d.tx.mu.Unlock()
	return d.tx.n
}

// TxQueueFull reports whether the transmit queues hold TxQueueLen frames,
// so that Xmit would drop the next one: a sender that would rather wait
// than drop (a TAP bridge) asks before it reads its next frame.
func (d *Device) TxQueueFull() bool {
	d.tx.mu.Lock()
	defer d.tx.mu.Unlock()
	return d.tx.n >= d.TxQueueLen
}

// Xmit queues b for transmission in the band of its Priority and runs the
// queue (dev_queue_xmit). Xmit always takes ownership of b. It drops b
// (freeing it and counting tx_dropped) and returns an error naming the
// device if the device is not up (ErrDown), has no carrier (ErrNoCarrier:
// as when Linux swaps in the noop qdisc on carrier loss), or already holds
// TxQueueLen frames (ErrQueueFull). A nil error means queued, not sent.
func (d *Device) Xmit(b *skbuff.Buff) error {
	band := Band(b.Priority)
	t := &d.tx
	t.mu.Lock()
	var err error
	switch {
	case !d.up():
		err = d.errDown
	case !d.carrier.Load():
		err = d.errNoCarrier
	case t.n >= d.TxQueueLen:
		err = d.errQueueFull
	}
	if err != nil {
		t.mu.Unlock()
		b.Free(skbuff.FreeWrite)
		d.stats.TxDropped.Add(1)
		return err
	}
	t.bands[band].QueueTail(b)
	t.n++
	t.mu.Unlock()
	d.run()
	return nil
}

// StopQueue sets tbusy (netif_stop_queue): the run loop offers the driver
// nothing until WakeQueue.
func (d *Device) StopQueue() {
	d.tx.mu.Lock()
	d.tx.stopped = true
	d.tx.mu.Unlock()
}

// WakeQueue clears tbusy and runs the queue (netif_wake_queue), retrying
// a frame the driver answered XmitBusy to.
func (d *Device) WakeQueue() {
	d.tx.mu.Lock()
	d.tx.stopped = false
	d.tx.wakeGen++
	d.tx.mu.Unlock()
	d.run()
}

// QueueStopped reports tbusy (netif_queue_stopped).
func (d *Device) QueueStopped() bool {
	d.tx.mu.Lock()
	defer d.tx.mu.Unlock()
	return d.tx.stopped
}

// run is the queue discipline's run loop (qdisc_run): while the device is
// up, has carrier and the queue is not stopped, it hands the first frame of
// the best band to HardStartXmit. Only one goroutine runs it per device at a
// time; others that find it running leave their frames to it.
func (d *Device) run() {
	t := &d.tx
	t.mu.Lock()
	if t.running {
		t.mu.Unlock()
		return
	}
	t.running = true
	for {
		if t.stopped || t.n == 0 || !d.up() || !d.carrier.Load() {
			t.running = false
			t.mu.Unlock()
			return
		}
		band := 0
		for t.bands[band].Len() == 0 {
			band++
		}
		b := t.bands[band].Dequeue()
		t.n--
		seen := b == t.retry
		t.retry = nil
		gen := t.wakeGen
		t.mu.Unlock()

		if !seen {
			d.tap(b, DirTX)
		}
		if d.offer(b) == XmitBusy {
			d.requeue(b, band, gen)
		}
		// XmitOK: the driver owns b now.
		t.mu.Lock()
	}
}

// offer calls HardStartXmit outside the queue lock. A buffer answered
// XmitBusy must still be alive: probing it here turns "freed it and said
// busy" into a use-after-free panic before the core would queue a dead
// buffer. If the driver panics (a misuse such as a double free, which
// skbuff reports by panicking) the run state is cleared so the device keeps
// working once the panic is recovered.
func (d *Device) offer(b *skbuff.Buff) (r XmitResult) {
	ok := false
	defer d.tx.abandon(&ok)
	r = d.ops.HardStartXmit(b, d)
	if r == XmitBusy {
		_ = b.Len()
	}
	ok = true
	return r
}

// requeue puts a refused frame back at the head of its band and sets tbusy,
// unless a WakeQueue arrived while the driver was deciding (then the loop
// retries at once). If the device went down or lost carrier meanwhile, the
// queue was purged, so the frame is freed too, exactly once. A driver that
// answered Busy for a buffer it put on its own list panics here (the buffer
// is already on a queue); the lock and run state are released first.
func (d *Device) requeue(b *skbuff.Buff, band int, gen uint64) {
	t := &d.tx
	ok := false
	defer t.abandon(&ok)
	t.mu.Lock()
	defer t.mu.Unlock()
	if !d.up() || !d.carrier.Load() {
		b.Free(skbuff.FreeWrite)
		d.stats.TxDropped.Add(1)
		ok = true
		return
	}
	t.bands[band].QueueHead(b)
	t.n++
	t.retry = b
	if t.wakeGen == gen {
		t.stopped = true // tbusy
	}
	ok = true
}

// abandon clears the running state when the run loop is left by a panic.
func (t *txState) abandon(ok *bool) {
	if !*ok {
		t.mu.Lock()
		t.running = false
		t.mu.Unlock()
	}
}
