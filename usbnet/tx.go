package usbnet

import (
	"errors"

	"dongle/hw"
	"dongle/netdev"
	"dongle/skbuff"
)

// errShortWrite: a bulk OUT transfer completed without error but sent
// fewer bytes than it was given.
var errShortWrite = errors.New("short bulk OUT write")

// HardStartXmit is usbnet_start_xmit (ndo_start_xmit).
//
// Busy/retry contract (the seed's tbusy): the driver takes a frame when it
// has a free TX slot, and stops the netdev queue in the same critical
// section in which it takes the last one, so that netdev does not offer
// frames it cannot take; the bottom half wakes the queue when a slot comes
// back. XmitBusy is answered only when no slot is free (a race with the
// stopped queue, or a bulk OUT halt being cleared): the frame stays
// netdev's, which requeues it at the head.
//
// Every frame it takes is counted exactly once when it leaves: tx_packets
// and tx_bytes (frame length before TxFixup) when the device took it,
// tx_errors when the transfer failed, tx_dropped when it was discarded
// without the device failing it (no carrier, device stopping or gone,
// cancelled, TxFixup refused it).
//
// With the carrier off no traffic reaches the device: frames are dropped
// and counted (tx_dropped), as Linux's noop qdisc does while the link is
// down, rather than left to age in a stopped queue.
func (d *Dev) HardStartXmit(b *skbuff.Buff, _ *netdev.Device) netdev.XmitResult {
	st := d.Net.Stats()
	if !d.Net.Carrier() || b.Len() == 0 {
		b.Free(skbuff.FreeWrite)
		st.TxDropped.Add(1)
		return netdev.XmitOK
	}
	if d.agg != nil {
		return d.aggXmit(b)
	}
	d.mu.Lock()
	if !d.runningLocked() {
		d.mu.Unlock()
		b.Free(skbuff.FreeWrite)
		st.TxDropped.Add(1)
		return netdev.XmitOK
	}
	n := len(d.txFree)
	if n == 0 || d.txHalted {
		d.txStopped = true
		d.Net.StopQueue()
		d.mu.Unlock()
		d.counters.TxBusy.Add(1)
		return netdev.XmitBusy
	}
	s := d.txFree[n-1]
	d.txFree = d.txFree[:n-1]
	if n == 1 {
		d.txStopped = true
		d.Net.StopQueue()
		d.counters.TxQueueStops.Add(1)
	}
	d.mu.Unlock()

	s.frames, s.bytes = 1, b.Len()
	b = d.txRoom(b)
	if err := d.Driver.TxFixup(d, b); err != nil {
		b.Free(skbuff.FreeWrite)
		st.TxDropped.Add(1)
		d.releaseTx(s)
		return netdev.XmitOK
	}
	s.skb = d.zlpRule(s, b)
	s.t.Buf = s.skb.Data()
	s.err, s.tries = nil, 0
	d.mu.Lock()
	err := d.submitTxLocked(s)
	d.mu.Unlock()
	if err != nil {
		s.skb.Free(skbuff.FreeWrite)
		s.skb = nil
		d.countTxLost(s, err)
		d.releaseTx(s)
	}
	return netdev.XmitOK
}

// zlpRule makes a transfer whose length is a multiple of wMaxPacketSize
// end properly on the bus (the device would otherwise wait for more):
//
//	FlagTxPadsItself  nothing: TxFixup already took care of it
//	FlagSendZLP       an explicit zero-length transfer follows (libusb will
//	                  not add one; gousb has no ADD_ZERO_PACKET)
//	otherwise         one 0x00 byte is appended (Linux usbnet's default;
//	                  conforming devices ignore it)
//
// It returns the buffer to send: b, or (only when b has no tailroom for
// the pad byte) a pooled copy, b being freed.
func (d *Dev) zlpRule(s *txSlot, b *skbuff.Buff) *skbuff.Buff {
	s.wantZLP = false
	if b.Len()%d.MaxPacket() != 0 {
		return b
	}
	f := d.Driver.Flags()
	switch {
	case f&FlagTxPadsItself != 0:
		return b
	case f&FlagSendZLP != 0:
		s.wantZLP = true
		return b
	}
	d.counters.PadBytes.Add(1)
	if b.Tailroom() > 0 {
		b.Put(1)[0] = 0
		return b
	}
	nb := skbuff.Alloc(b.Len() + 1)
	nb.PutData(b.Data())
	nb.Put(1)[0] = 0
	nb.Protocol, nb.Priority = b.Protocol, b.Priority
	b.Free(skbuff.FreeWrite)
	return nb
}

// submitTxLocked submits the slot's transfer and, if the ZLP rule asked
// for one, the zero-length transfer after it. d.mu held, so the pair is
// never interleaved with another frame's transfers.
func (d *Dev) submitTxLocked(s *txSlot) error {
	if !d.runningLocked() {
		if d.gone.Load() {
			return hw.ErrNoDevice
		}
		return hw.ErrCancelled
	}
	// Everything the bottom half reads is written before the first
	// Submit: the completion may be reaped before Submit even returns.
	s.tries++
	s.pending = 1
	if s.wantZLP {
		s.pending = 2
	}
	if err := d.out.ep.Submit(&s.t); err != nil {
		if hw.StatusOf(err) == hw.ErrNoDevice {
			d.markGoneLocked()
		}
		return err
	}
	if s.wantZLP {
		if err := d.out.ep.Submit(&s.zlp); err != nil {
			// The frame is on its way without its terminator. Complete
			// the ZLP here with the error, as the endpoint would have: the
			// slot then finishes, failed, when the frame is reaped. The
			// queue has room for every transfer.
			s.zlp.N, s.zlp.Err = 0, err
			d.done.push(pipeTx, &s.zlp)
			return nil
		}
		d.counters.ZLPs.Add(1)
	}
	return nil
}

// releaseTx returns a slot to the free list and wakes the netdev queue if
// the driver stopped it and may take frames again.
func (d *Dev) releaseTx(s *txSlot) {
	if d.releaseTxNoWake(s) {
		d.Net.WakeQueue()
	}
}

// releaseTxNoWake is releaseTx for a caller that must not wake the queue
// where it stands (netdev may run HardStartXmit from WakeQueue): it
// reports whether the caller owes the wake.
func (d *Dev) releaseTxNoWake(s *txSlot) bool {
	d.mu.Lock()
	d.txFree = append(d.txFree, s)
	wake := d.txStopped && !d.txHalted && d.runningLocked()
	if wake {
		d.txStopped = false
	}
	if d.txHalted && d.txIdleLocked() && d.runningLocked() {
		d.defer_(evTxHalt)
	}
	d.mu.Unlock()
	return wake
}

// txIdleLocked reports whether no TX slot is in flight: every slot is
// free or holds the block a TxAggregator is filling. d.mu held.
func (d *Dev) txIdleLocked() bool {
	n := len(d.txFree)
	if d.agg != nil && d.agg.open != nil {
		n++
	}
	return n == len(d.tx)
}

// txDone is tx_complete for one transfer of a slot; the slot is finished
// when its last transfer (the ZLP, if any) is back.
func (d *Dev) txDone(t *hw.Transfer) {
	s := t.Cookie.(*txSlot)
	if t.Err != nil {
		if s.err == nil {
			s.err = t.Err
		}
	} else if t == &s.t && t.N != len(t.Buf) && s.err == nil {
		s.err = errShortWrite
	}
	s.pending--
	if s.pending > 0 {
		return
	}
	st := d.Net.Stats()
	code := hw.StatusOf(s.err)
	if code == hw.ErrTimeout {
		d.counters.Timeouts.Add(1)
		if s.tries < maxTxTries {
			s.err = nil
			d.mu.Lock()
			err := d.submitTxLocked(s)
			d.mu.Unlock()
			if err == nil {
				d.counters.TxRetries.Add(1)
				return
			}
			s.err = err
			code = hw.StatusOf(err)
		}
	}
	switch code {
	case 0:
		// Bytes before packets: whoever sees the packet counted sees
		// its bytes too (the specs read them in that order).
		st.TxBytes.Add(uint64(s.bytes))
		st.TxPackets.Add(uint64(s.frames))
	case hw.ErrStall:
		// EVENT_TX_HALT: stop the queue; the kevent worker clears the
		// halt once every slot is back, then wakes the queue.
		st.TxErrors.Add(uint64(s.frames))
		d.mu.Lock()
		if !d.txHalted {
			d.txHalted = true
			d.txStopped = true
			d.Net.StopQueue()
			if d.runningLocked() {
				d.out.ep.Cancel()
			}
		}
		d.mu.Unlock()
	case hw.ErrCancelled, hw.ErrNoDevice:
		st.TxDropped.Add(uint64(s.frames))
		if code == hw.ErrNoDevice {
			d.markGone()
		}
	default:
		st.TxErrors.Add(uint64(s.frames))
	}
	s.skb.Free(skbuff.FreeWrite)
	s.skb, s.err = nil, nil
	d.releaseTx(s)
}

// txRoom returns b, or a private copy of it with the head- and tailroom
// TxFixup needs (skb_copy_expand): frames built by a stack that does not
// know the driver's framing, or clones whose data is read-only, still go
// out. The copy comes from skbuff's pools, so this allocates nothing in
// steady state.
func (d *Dev) txRoom(b *skbuff.Buff) *skbuff.Buff {
	if !b.Cloned() && b.Headroom() >= d.TxHeadroom && b.Tailroom() >= d.TxTailroom {
		return b
	}
	nb := skbuff.Alloc(b.Len() + d.TxTailroom)
	nb.PutData(b.Data())
	nb.Protocol, nb.Priority, nb.PktType = b.Protocol, b.Priority, b.PktType
	b.Free(skbuff.FreeWrite)
	d.counters.TxCopies.Add(1)
	return nb
}
