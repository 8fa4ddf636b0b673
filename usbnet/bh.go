package usbnet

import (
	"dongle/hw"
	"dongle/netdev"
	"dongle/skbuff"
)

// bottomHalf is usbnet_bh: the one goroutine that turns completions into
// work. It runs the RX fixup and hands frames to netdev, frees transmitted
// buffers and counts them, decodes status data, and resubmits. It never
// performs a control transfer: halts, link resets and filter updates go to
// the kevent worker (usbnet_deferred_kevent).
//
// Each wake-up (a kick from a completion, see pipe) it takes what was
// pushed and polls every pipe for what completed, and works through it
// all in one pass. It ends once Stop has closed d.done and nothing is in
// flight any more, so it sees every transfer come back exactly once.
// total is every transfer the device owns: the most one pass can reap,
// since a transfer goes back out only after the pass that reaped it.
func (d *Dev) bottomHalf(total int) {
	defer d.bh.Done()
	// The RX slots a batch resubmits: at most every slot, each once (a
	// slot is back in flight only after its batch), so the one array made
	// here serves every batch and appending never allocates.
	resub := make([]*rxSlot, 0, len(d.rx))
	batch := make([]completion, 0, total)
	pipes := d.pipes()
	for {
		<-d.done.kick
		var closed bool
		batch, closed = d.done.take(batch[:0])
		for _, p := range pipes {
			batch = d.reap(p, batch)
		}
		// Frames first, resubmissions after: the frames of the batch reach
		// netdev's backlog in one RxList (or one per rxUpBatch frames), so
		// its bottom half wakes once for them, not on the first frame while
		// the rest are still being parsed, nor once per frame between two
		// submits. A TX completion hands over what is parsed first: its
		// WakeQueue may transmit for a while on this goroutine. The RX side
		// takes d.mu twice per batch, never per transfer: once here to read
		// the state the whole batch is judged by, once for all the
		// resubmissions. A state change meanwhile (Stop, unplug) is caught
		// there: submitRxLocked re-checks and parks.
		d.mu.Lock()
		running := d.runningLocked()
		d.mu.Unlock()
		for _, c := range batch {
			switch c.kind {
			case pipeRx:
				if s := d.rxDone(c.t, running); s != nil {
					resub = append(resub, s)
				}
			case pipeTx:
				d.Net.RxList(&d.rxUp)
				d.txDone(c.t)
			case pipeStatus:
				d.statusDone(c.t)
			}
		}
		d.Net.RxList(&d.rxUp)
		if len(resub) > 0 {
			d.mu.Lock()
			for _, s := range resub {
				d.rxInFlight--
				d.submitRxLocked(s)
			}
			// Every slot in resub still counted in rxInFlight until its
			// turn above, so rxInFlight can reach 0 only after the last:
			// one check after the loop sees what a check per slot would.
			d.checkRxHaltLocked()
			d.mu.Unlock()
			clear(resub)
			resub = resub[:0]
		}
		clear(batch) // drop the transfer pointers
		if closed && idle(pipes) {
			return
		}
	}
}

// idle reports whether no pipe has a transfer in flight.
func idle(pipes []*pipe) bool {
	for _, p := range pipes {
		if p.ep.InFlight() > 0 {
			return false
		}
	}
	return true
}

// running reports whether new transfers may be submitted. d.mu held.
func (d *Dev) runningLocked() bool { return d.state == stateRunning && !d.gone.Load() }

// rxDone is rx_complete + rx_process for one bulk IN transfer. It returns
// the slot if it is to be resubmitted (or parked, if the device stopped or
// halted meanwhile): the bottom half does that after the whole batch. Such
// a slot still counts in rxInFlight until then, so a halt is not cleared
// while it waits. running is runningLocked as the bottom half read it
// for the batch.
func (d *Dev) rxDone(t *hw.Transfer, running bool) *rxSlot {
	s := t.Cookie.(*rxSlot)
	st := d.Net.Stats()
	code := hw.StatusOf(t.Err)
	switch {
	case !running:
		if code == 0 && t.N > 0 {
			st.RxDropped.Add(1) // arrived while stopping or unplugged
		}
		if code == hw.ErrNoDevice {
			d.markGone()
		}
	case code == 0:
		d.rxFrame(s, t.N)
	case code == hw.ErrStall:
		// EVENT_RX_HALT: stop resubmitting, cancel the rest, and clear the
		// halt from the kevent worker once every transfer is back.
		st.RxErrors.Add(1)
		d.mu.Lock()
		if !d.rxHalted {
			d.rxHalted = true
			d.in.ep.Cancel()
		}
		d.mu.Unlock()
	case code == hw.ErrTimeout:
		d.counters.Timeouts.Add(1)
	case code == hw.ErrOverflow:
		st.RxOverErrors.Add(1)
		st.RxErrors.Add(1)
	case code == hw.ErrCancelled:
		// Cancelled by a halt (parked below) or spuriously (resubmitted).
	case code == hw.ErrNoDevice:
		d.markGone()
	default:
		// -EPROTO and friends: count, and resubmit after a pause so a
		// failing endpoint does not spin (Linux's rx throttle).
		st.RxErrors.Add(1)
		d.mu.Lock()
		d.rxInFlight--
		d.rxParked = append(d.rxParked, s)
		d.throttle()
		d.checkRxHaltLocked()
		d.mu.Unlock()
		return nil
	}
	return s
}

// checkRxHaltLocked hands a bulk IN halt to the kevent worker once every
// RX transfer is back (none may be in flight while the halt is cleared).
// d.mu held.
func (d *Dev) checkRxHaltLocked() {
	if d.rxHalted && d.rxInFlight == 0 && d.runningLocked() {
		d.defer_(evRxHalt)
	}
}

// rxFrame hands n received bytes to the minidriver and queues the frames
// it makes for netdev (d.rxUp, handed over once per batch), and gives the
// slot a fresh buffer. The slot's old buffer goes up the stack; nothing is
// copied.
func (d *Dev) rxFrame(s *rxSlot, n int) {
	st := d.Net.Stats()
	if n == 0 {
		// The ZLP that ends a frame filling the whole transfer arrives as
		// a transfer of its own: not an error. The buffer is reused.
		d.counters.RxZLPs.Add(1)
		return
	}
	if d.Driver.Flags()&(FlagMultiPacket|FlagEthernet) == FlagEthernet && n < EthHeaderLen {
		st.RxErrors.Add(1)
		st.RxLengthErrors.Add(1)
		return
	}
	b := s.skb
	s.skb = skbuff.AllocUninit(d.RxURBSize)
	s.t.Buf = s.skb.Put(d.RxURBSize)
	b.Trim(n)
	if err := d.Driver.RxFixup(d, b, &d.rxq); err != nil {
		d.counters.RxFixupErrors.Add(1)
	}
	eth := d.Driver.Flags()&FlagEthernet != 0
	for f := d.rxq.Dequeue(); f != nil; f = d.rxq.Dequeue() {
		n := f.Len()
		if eth {
			// usbnet_skb_return: eth_type_trans, then netif_rx (queued
			// on rxUp for netdev.RxList).
			if _, err := netdev.EthTypeTrans(f, d.Net); err != nil {
				st.RxErrors.Add(1)
				st.RxLengthErrors.Add(1)
				f.Free(skbuff.FreeRead)
				continue
			}
		}
		st.RxBytes.Add(uint64(n))
		st.RxPackets.Add(1)
		d.rxUp.QueueTail(f)
	}
	if d.rxUp.Len() >= rxUpBatch {
		d.Net.RxList(&d.rxUp)
	}
}

// rxUpBatch bounds the frames the bottom half holds before it hands them
// to netdev: a pass over every RX transfer in flight can hold thousands of
// small frames, more than netdev's backlog takes at once, and netdev's
// bottom half drains the backlog while the rest are parsed.
const rxUpBatch = 64

// statusDone is intr_complete: decode, resubmit.
func (d *Dev) statusDone(t *hw.Transfer) {
	code := hw.StatusOf(t.Err)
	d.mu.Lock()
	d.st.parked = true
	running := d.runningLocked()
	d.mu.Unlock()
	if !running {
		if code == hw.ErrNoDevice {
			d.markGone()
		}
		return
	}
	switch code {
	case 0:
		d.counters.StatusEvents.Add(1)
		if err := d.Driver.Status(d, t.Data()); err != nil {
			d.counters.StatusErrors.Add(1)
		}
	case hw.ErrStall:
		d.counters.StatusErrors.Add(1)
		d.mu.Lock()
		d.stHalted = true
		d.mu.Unlock()
		d.defer_(evStatusHalt)
		return
	case hw.ErrTimeout:
		d.counters.Timeouts.Add(1)
	case hw.ErrCancelled:
	case hw.ErrNoDevice:
		d.markGone()
		return
	default:
		d.counters.StatusErrors.Add(1)
		d.mu.Lock()
		d.throttle()
		d.mu.Unlock()
		return
	}
	d.mu.Lock()
	d.submitStatusLocked()
	d.mu.Unlock()
}
