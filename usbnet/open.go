package usbnet

import (
	"errors"
	"fmt"
	"time"

	"dongle/hw"
	"dongle/skbuff"
)

// rxSlot is one bulk IN transfer and the sk_buff it reads into. The
// Transfer's Cookie points back to the slot; both live for as long as the
// device is open and are reused for every packet.
type rxSlot struct {
	t   hw.Transfer
	skb *skbuff.Buff // owned by the slot while not handed to RxFixup
}

// txSlot is one frame in flight: the bulk OUT transfer, the explicit ZLP
// that may follow it, and the frame's sk_buff.
type txSlot struct {
	t, zlp  hw.Transfer
	skb     *skbuff.Buff
	frames  int   // frames it carries (1, or a TxAggregator's block)
	bytes   int   // their length before framing, for tx_bytes
	wantZLP bool  // zlp is submitted after t
	pending int   // transfers of the slot not yet reaped
	err     error // first failure among them
	tries   int   // timeouts so far
}

type statusSlot struct {
	t      hw.Transfer
	buf    []byte
	parked bool
}

// throttleDelay is Linux's THROTTLE_JIFFIES (HZ/8): how long RX and status
// resubmission waits after an I/O error, so a broken endpoint does not spin.
const throttleDelay = 125 * time.Millisecond

// maxTxTries is how often a timed-out TX frame is submitted in all.
const maxTxTries = 3

// open is ndo_open (usbnet_open): let the minidriver reset the chip (data
// interface still at alt 0), select the data alternate setting, open the
// endpoints, let the minidriver program its filter,
// then start the bottom half, the kevent worker, the RX
// transfers and the status transfer.
func (d *Dev) open() (err error) {
	if d.gone.Load() {
		return fmt.Errorf("usbnet open: %s: %w", d.Name(), hw.ErrNoDevice)
	}
	d.mu.Lock()
	if d.state != stateDown {
		d.mu.Unlock()
		return fmt.Errorf("usbnet open: %s: already open", d.Name())
	}
	d.mu.Unlock()
	if d.RxURBs <= 0 {
		d.RxURBs = RxQueueLen(d.RxURBSize)
	}
	if d.TxURBs <= 0 {
		d.TxURBs = DefaultTxURBs
	}
	var eps []hw.Endpoint
	defer func() {
		if err != nil {
			for _, ep := range eps {
				_ = ep.Close()
			}
			err = fmt.Errorf("usbnet open: %s: %w", d.Name(), err)
		}
	}()
	// Reset runs before the data interface's alternate setting is
	// selected: with the function off (alt 0), as NCM needs for
	// SET_NTB_FORMAT and SET_NTB_INPUT_SIZE, which alt 0 also undoes.
	d.ctl.Lock()
	err = d.Driver.Reset(d)
	d.ctl.Unlock()
	if err != nil {
		return fmt.Errorf("%s reset: %w", d.Driver.Name(), err)
	}
	if d.agg != nil {
		// Before anything is selected or allocated, so that limits
		// it cannot use leave nothing to undo.
		if err := d.aggLimits(); err != nil {
			return err
		}
	}
	if d.DataAlt != 0 {
		if err := d.HW.SetAlt(d.DataIface, d.DataAlt); err != nil {
			return d.usbErr(fmt.Sprintf("interface %d alt %d", d.DataIface, d.DataAlt), err)
		}
	}
	openEP := func(e hw.EndpointDesc) (hw.Endpoint, error) {
		ep, err := d.HW.OpenEndpoint(e.Address)
		if err != nil {
			return nil, d.usbErr(fmt.Sprintf("open endpoint %v", e), err)
		}
		eps = append(eps, ep)
		return ep, nil
	}
	in, err := openEP(d.In)
	if err != nil {
		return err
	}
	out, err := openEP(d.Out)
	if err != nil {
		return err
	}
	var status hw.Endpoint
	if d.Status.Address != 0 {
		if status, err = openEP(d.Status); err != nil {
			return err
		}
	}
	d.ctl.Lock()
	if err = d.Driver.SetRxMode(d); err != nil {
		err = fmt.Errorf("%s rx mode: %w", d.Driver.Name(), err)
	}
	d.ctl.Unlock()
	if err != nil {
		return err
	}

	// Everything below allocates once per open, never per packet.
	total := d.RxURBs + 2*d.TxURBs
	if status != nil {
		total++
	}
	d.done = newDoneQueue(total)
	d.in = newPipe(pipeRx, in, d.RxURBs, d.done.signal)
	d.out = newPipe(pipeTx, out, 2*d.TxURBs, d.done.signal)
	if status != nil {
		d.status = newPipe(pipeStatus, status, 1, d.done.signal)
		n := int(d.Status.MaxPacketSize)
		d.st = statusSlot{buf: make([]byte, n)}
		d.st.t.Buf = d.st.buf
		d.st.t.Cookie = &d.st
	}
	d.kquit = make(chan struct{})
	d.thr = time.AfterFunc(time.Hour, func() { d.defer_(evThrottle) })
	d.thr.Stop()
	d.rx = make([]rxSlot, d.RxURBs)
	d.rxParked = make([]*rxSlot, 0, d.RxURBs)
	for i := range d.rx {
		s := &d.rx[i]
		s.t.Cookie = s
		s.skb = skbuff.AllocUninit(d.RxURBSize)
		s.t.Buf = s.skb.Put(d.RxURBSize)
	}
	d.tx = make([]txSlot, d.TxURBs)
	d.txFree = make([]*txSlot, 0, d.TxURBs)
	for i := range d.tx {
		s := &d.tx[i]
		s.t.Cookie, s.zlp.Cookie = s, s
		s.zlp.Buf = d.zero[:]
		d.txFree = append(d.txFree, s)
	}

	if d.agg != nil {
		d.startAgg()
	}
	d.mu.Lock()
	d.state = stateRunning
	d.rxHalted, d.txHalted, d.txStopped = false, false, false
	d.rxInFlight, d.txInFlight = 0, 0
	d.mu.Unlock()

	// A link that came up before open (or with no status endpoint at all,
	// or that Reset found) still gets its LinkReset. Deferred before the
	// worker starts, so it is one event with any Reset deferred: once the
	// worker has taken Reset's, a second would run LinkReset again for
	// the same link. Decided before the status transfer goes out too: a
	// notification answered at once schedules its own LinkReset.
	if d.Net.Carrier() || d.linkUpPending.Load() {
		d.defer_(evLinkReset)
	}
	d.bh.Add(1)
	go d.bottomHalf(total)
	d.kwg.Add(1)
	go d.kevent()

	d.mu.Lock()
	for i := range d.rx {
		d.submitRxLocked(&d.rx[i])
	}
	if d.status != nil {
		d.submitStatusLocked()
	}
	d.mu.Unlock()
	return nil
}

// stop is ndo_stop (usbnet_stop): refuse new work, stop the kevent worker,
// cancel every transfer, let the bottom half reap them all and free what
// they carried, then free what is parked and close the
// endpoints. When it returns no goroutine of the device runs and no
// buffer of it is live.
func (d *Dev) stop() error {
	d.mu.Lock()
	if d.state != stateRunning {
		d.mu.Unlock()
		return nil
	}
	d.state = stateStopping
	d.mu.Unlock()
	// No StopQueue here: netdev has cleared UP and reset tbusy before
	// calling Stop, and a stale tbusy would keep the next Open silent.
	// A frame offered meanwhile is dropped by HardStartXmit.
	d.thr.Stop()

	close(d.kquit)
	d.kwg.Wait()
	if d.agg != nil {
		d.stopAgg()
	}

	d.mu.Lock()
	pipes := d.pipes()
	for _, p := range pipes {
		p.ep.Cancel()
	}
	d.mu.Unlock()
	d.done.close()
	d.bh.Wait()
	// A transfer that failed after stop began may have re-armed the
	// throttle (the bottom half judges a batch by the state it read at its
	// start); nothing can arm it now, so no timer outlives Stop.
	d.thr.Stop()

	// Everything is reaped: free what the slots still hold.
	for i := range d.rx {
		if s := &d.rx[i]; s.skb != nil {
			s.skb.Free(skbuff.FreeRead)
			s.skb, s.t.Buf = nil, nil
		}
	}
	for i := range d.tx {
		if s := &d.tx[i]; s.skb != nil {
			s.skb.Free(skbuff.FreeWrite)
			s.skb = nil
			d.Net.Stats().TxDropped.Add(uint64(s.frames))
		}
	}
	d.rxq.Purge(skbuff.FreeRead)
	// The bottom half hands rxUp over after every batch, so it is empty
	// here; were it not, its frames, counted in rx_packets, are dropped.
	if n := d.rxUp.Len(); n > 0 {
		d.rxUp.Purge(skbuff.FreeRead)
		d.Net.Stats().RxDropped.Add(uint64(n))
	}
	var errs []error
	for _, p := range pipes {
		p.ep.Notify(nil)
		if err := p.ep.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close %v: %w", p.ep.Desc(), err))
		}
	}
	if d.DataAlt != 0 && !d.gone.Load() {
		// ECM: alt 0 of the data interface deactivates the function.
		_ = d.HW.SetAlt(d.DataIface, 0)
	}
	d.mu.Lock()
	d.state = stateDown
	d.rx, d.tx, d.txFree, d.rxParked = nil, nil, nil, nil
	d.in, d.out, d.status = nil, nil, nil
	d.mu.Unlock()
	d.kflags.Store(0)
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("usbnet stop: %s: %w", d.Name(), err)
	}
	return nil
}

// submitRxLocked submits an RX slot, or parks it while the device is
// stopping, gone or halted. Called with d.mu held.
func (d *Dev) submitRxLocked(s *rxSlot) {
	if d.state != stateRunning || d.gone.Load() || d.rxHalted {
		d.rxParked = append(d.rxParked, s)
		return
	}
	if err := d.in.ep.Submit(&s.t); err != nil {
		d.rxParked = append(d.rxParked, s)
		if hw.StatusOf(err) == hw.ErrNoDevice {
			d.markGoneLocked()
			return
		}
		d.Net.Stats().RxErrors.Add(1)
		d.throttle()
		return
	}
	d.rxInFlight++
}

// submitStatusLocked submits the interrupt transfer. Called with d.mu held.
func (d *Dev) submitStatusLocked() {
	s := &d.st
	s.parked = true
	if d.state != stateRunning || d.gone.Load() {
		return
	}
	s.t.Buf = s.buf
	if err := d.status.ep.Submit(&s.t); err != nil {
		if hw.StatusOf(err) == hw.ErrNoDevice {
			d.markGoneLocked()
			return
		}
		d.counters.StatusErrors.Add(1)
		d.throttle()
		return
	}
	s.parked = false
}

// throttle schedules the resubmission of parked RX and status transfers.
func (d *Dev) throttle() {
	d.counters.Throttles.Add(1)
	d.thr.Reset(throttleDelay)
}
