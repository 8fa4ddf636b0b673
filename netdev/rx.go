package netdev

import (
	"sync"

	"dongle/skbuff"
)

// rxState is the receive side: netif_rx's backlog and the bottom half.
//
//	driver (top half)          bottom half goroutine (one per open device)
//	  Rx(b) ─┐
//	  RxList(q)─► backlog ─kick─►  MoveTo(local) ─► taps(b, DirRX) ─► handler[b.Protocol](b)
//	  (queue only, bounded)                                           └ none: free, rx_nohandler
//
// The bottom half is a goroutine started by Open and stopped (and waited
// for) by Close and Unregister, so a closed device leaks no goroutine. A
// goroutine rather than an explicit Poll because drivers call Rx from their
// own completion goroutines and expect delivery to happen, as netif_rx
// raises NET_RX_SOFTIRQ.
type rxState struct {
	mu sync.RWMutex // Rx and RxList hold it shared while they check running and queue
	// running is Linux's __LINK_STATE_START (netif_running): set by
	// start, which Open calls before the driver's Open, so a frame its RX
	// path delivers while Open is still in progress is accepted; cleared
	// by stop before it drains the backlog (and earlier, with UP, by
	// Close). Guarded by mu.
	running bool
	backlog skbuff.LockedQueue
	limit   int
	kick    chan struct{}
	quit    chan struct{}
	done    chan struct{}
}

// start starts the bottom half and sets running: from here on Rx queues
// frames (and the bottom half delivers them).
func (r *rxState) start(d *Device) {
	limit := d.MaxBacklog
	if limit <= 0 {
		limit = DefaultMaxBacklog
	}
	if r.kick == nil {
		r.kick = make(chan struct{}, 1)
	}
	r.quit = make(chan struct{})
	r.done = make(chan struct{})
	go d.bottomHalf(r.quit, r.done)
	r.mu.Lock()
	r.limit = limit
	r.running = true
	r.mu.Unlock()
}

// stop clears running, so Rx and RxList queue nothing more, then ends the
// bottom half, waits for it, and frees what it left in the backlog
// (rx_dropped): in that order, nothing can be queued after the backlog is
// freed.
func (r *rxState) stop(d *Device) {
	r.mu.Lock()
	r.running = false
	r.mu.Unlock()
	close(r.quit)
	<-r.done
	var q skbuff.Queue
	r.backlog.MoveTo(&q)
	for b := q.Dequeue(); b != nil; b = q.Dequeue() {
		b.Free(skbuff.FreeRead)
		d.stats.RxDropped.Add(1)
	}
}

// Rx hands a received frame to the stack (netif_rx). It is the top half:
// it only queues b on the backlog for the bottom half and never blocks or
// calls a handler, so a driver may call it from its completion path. Rx
// takes ownership of b. The driver sets b.Protocol first (EthTypeTrans).
// On a device that is not running (the article: a device that is down
// never receives) or with a full backlog, b is freed and counted in
// rx_dropped. Running starts just before the driver's Open, as Linux sets
// __LINK_STATE_START before ndo_open: a driver's first frames may arrive
// before Open returns (an RX transfer completes at once) and are not
// lost. Carrier does not matter: a frame the hardware already delivered
// is accepted.
func (d *Device) Rx(b *skbuff.Buff) {
	r := &d.rx
	r.mu.RLock()
	ok := r.running && r.backlog.QueueTailLimit(b, r.limit)
	r.mu.RUnlock()
	if !ok {
		b.Free(skbuff.FreeRead)
		d.stats.RxDropped.Add(1)
		return
	}
	select {
	case r.kick <- struct{}{}:
	default:
	}
}

// RxList is Rx for every frame of q (the caller's own, unlocked queue), in
// order, and leaves q empty: one lock and at most one wake-up of the bottom
// half for the whole list, where Rx pays both per frame. It is the list
// form netif_receive_skb_list gives the stack, on netif_rx's backlog and
// its netdev_max_backlog bound: a driver that parsed a pass of completions
// (NTBs, bulk IN transfers of several frames) hands their frames over
// together, as Linux's NET_RX_SOFTIRQ runs process_backlog once after
// usbnet_bh has queued a whole pass, and the bottom half does not start on
// the first frame while the driver still parses the rest. Frames past the
// backlog limit, or every frame on a device that is not running, are freed
// and counted in rx_dropped, as Rx does one by one.
func (d *Device) RxList(q *skbuff.Queue) {
	if q.Len() == 0 {
		return
	}
	r := &d.rx
	moved := 0
	r.mu.RLock()
	if r.running {
		moved = r.backlog.SpliceLimit(q, r.limit)
	}
	r.mu.RUnlock()
	if moved > 0 {
		select {
		case r.kick <- struct{}{}:
		default:
		}
	}
	if n := q.Len(); n > 0 {
		q.Purge(skbuff.FreeRead)
		d.stats.RxDropped.Add(uint64(n))
	}
}

// RxBacklog is the number of frames waiting for the bottom half.
func (d *Device) RxBacklog() int { return d.rx.backlog.Len() }

func (d *Device) bottomHalf(quit, done chan struct{}) {
	defer close(done)
	var local skbuff.Queue
	for {
		select {
		case <-quit:
			return
		case <-d.rx.kick:
		}
		select {
		case <-quit: // a pending kick must not outrun Close: Close frees the backlog
			return
		default:
		}
		d.rx.backlog.MoveTo(&local)
		for b := local.Dequeue(); b != nil; b = local.Dequeue() {
			d.deliver(b)
		}
	}
}

// deliver is __netif_receive_skb: every tap sees b, then the rx handler
// may take it (RegisterRxHandler); if not, each handler for b.Protocol gets its own reference (a clone for all but the last) and
// takes ownership of it. With no handler b is freed and counted in
// rx_nohandler.
func (d *Device) deliver(b *skbuff.Buff) {
	d.tap(b, DirRX)
	if d.rxHandle(b) {
		return
	}
	var hs []*handlerEntry
	if p := d.handlers.Load(); p != nil {
		hs = *p
	}
	var last *handlerEntry
	for _, h := range hs {
		if h.proto != b.Protocol {
			continue
		}
		if last != nil {
			last.fn(b.Clone())
		}
		last = h
	}
	if last == nil {
		d.stats.RxNohandler.Add(1)
		b.Free(skbuff.FreeRead)
		return
	}
	last.fn(b)
}

type tapEntry struct {
	fn func(b *skbuff.Buff, dir Direction)
}

type handlerEntry struct {
	proto uint16
	fn    func(b *skbuff.Buff)
}

// AddTap installs fn to see every frame the device receives (DirRX, in
// the bottom half before the handlers) and transmits (DirTX, before the
// first offer to HardStartXmit): the sniffer hook (ETH_P_ALL). fn must not
// keep, modify or free b; it may Clone it. It returns a function that
// removes the tap.
func (d *Device) AddTap(fn func(b *skbuff.Buff, dir Direction)) (remove func()) {
	e := &tapEntry{fn: fn}
	d.hmu.Lock()
	defer d.hmu.Unlock()
	d.taps.Store(appendCOW(d.taps.Load(), e))
	return func() {
		d.hmu.Lock()
		defer d.hmu.Unlock()
		d.taps.Store(removeCOW(d.taps.Load(), e))
	}
}

// AddHandler installs fn to receive frames whose Protocol is ethertype
// (dev_add_pack). fn takes ownership of each buffer it is given: it must
// free it, or keep it and free it later. Several handlers for one type
// each get their own reference. It returns a function that removes the
// handler.
func (d *Device) AddHandler(ethertype uint16, fn func(b *skbuff.Buff)) (remove func()) {
	e := &handlerEntry{proto: ethertype, fn: fn}
	d.hmu.Lock()
	defer d.hmu.Unlock()
	d.handlers.Store(appendCOW(d.handlers.Load(), e))
	return func() {
		d.hmu.Lock()
		defer d.hmu.Unlock()
		d.handlers.Store(removeCOW(d.handlers.Load(), e))
	}
}

func (d *Device) tap(b *skbuff.Buff, dir Direction) {
	if p := d.taps.Load(); p != nil {
		for _, t := range *p {
			t.fn(b, dir)
		}
	}
}

// appendCOW and removeCOW update a copy-on-write list, so the per-packet
// readers load it with one atomic and no lock or allocation.
func appendCOW[T any](p *[]*T, e *T) *[]*T {
	var s []*T
	if p != nil {
		s = append(s, *p...)
	}
	s = append(s, e)
	return &s
}

func removeCOW[T any](p *[]*T, e *T) *[]*T {
	if p == nil {
		return nil
	}
	s := make([]*T, 0, len(*p))
	for _, x := range *p {
		if x != e {
			s = append(s, x)
		}
	}
	return &s
}
