package decode

import (
	"io"
	"sort"
	"time"

	"dongle/hw"
	"dongle/hw/record"
	"dongle/hw/usbmon"
	"dongle/usbnet"
	"dongle/usbnet/rules"
)

// reasm is one endpoint's transfer being put together (see the package
// doc: per URB for kernel captures, per short packet for QEMU's).
type reasm struct {
	mp        int
	buf       []byte
	length    int
	truncated bool
	open      bool
	record    int
	time      time.Time
}

// inflight is a URB submitted and not yet completed.
type inflight struct {
	length uint32
	n      int // URBs under the key (QEMU reuses ids)
	// rec, at and setup are the latest submission's: its record, time
	// and (control) setup packet.
	rec      int
	at       time.Time
	setup    hw.Setup
	hasSetup bool
}

// life returns which of the adapter's lives a record is of, -1 for none.
func (t *Trace) life(r *usbmon.Record) int {
	for i, k := range t.lifeKeys {
		if r.Bus == k.bus && r.Device == k.addr {
			return i
		}
	}
	return -1
}

// data is the second pass: the chosen device's bulk and interrupt records,
// decoded by the epoch (configuration) each falls in, as they stream by.
func (t *Trace) data(src source, d *devSurvey, spans []span, eps []*epoch, progress func(int64)) error {
	pending := map[urbKey]inflight{}
	t.emitRX = func(data []byte, length int) { t.frame(RX, t.cur, data, length) }
	t.emitTX = func(data []byte, length int) {
		t.txCut = t.txCut || len(data) < length
		t.frame(TX, t.cur, data, length)
	}
	dataIn := map[uint8]bool{}
	dataOut := map[uint8]bool{}
	for _, e := range eps {
		dataIn[e.in.Address] = true // 0 when unknown: no bulk record has it
		dataOut[e.out.Address] = true
	}
	si := 0
	e := spans[0].e
	t.enter(e)
	var rec usbmon.Record
	n := 0
	var emitErr error
	rs := rules.ForDriver(t.drv, t.capture)
	t.engine, t.Rules = rules.NewEngine(rs), len(rs)
	life, lastIdx := -1, 0
	var lastT time.Time
	ev := &t.ev
	for {
		idx, err := src.next(&rec)
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		n++
		if progress != nil && n%ProgressEvery == 0 {
			progress(src.pos())
		}
		li := t.life(&rec)
		if li < 0 {
			continue
		}
		if li != life {
			*ev = usbnet.Event{Kind: usbnet.EventLife, Record: idx + 1, Time: rec.Time(), Life: li + 1, Bus: rec.Bus, Address: rec.Device}
			if life >= 0 {
				ev.Gap, ev.PrevRecord = rec.Time().Sub(lastT), lastIdx+1
				// URBs of the life that ended died with it, and a new
				// life's first link report is news whatever the last one said.
				clear(pending)
				t.linkKnown = false
			}
			t.engine.Observe(ev)
			life = li
		}
		lastIdx, lastT = idx, rec.Time()
		for si+1 < len(spans) && spans[si+1].from <= idx {
			si++
			if spans[si].e != e {
				t.leave(e)
				e = spans[si].e
				t.enter(e)
			}
		}
		// Pairing, for the URB count and what is in flight.
		k := urbKey{rec.ID, rec.Endpoint, rec.XferType}
		var subLen uint32
		orphan := false
		*ev = usbnet.Event{Record: idx + 1, Time: rec.Time(), Xfer: rec.XferType.DescType(), Endpoint: rec.Endpoint,
			Status: rec.Status, Length: int(rec.Length), Data: rec.Data}
		if rec.Type == usbmon.Submit {
			t.Stats.URBs++
			f := pending[k]
			f.n++
			f.length = rec.Length
			f.rec, f.at = idx, rec.Time()
			f.setup, f.hasSetup = rec.SetupPacket()
			pending[k] = f
			ev.Kind, ev.Setup, ev.HasSetup = usbnet.EventSubmit, f.setup, f.hasSetup
			ev.HostView = rec.Status == -usbmon.EINPROGRESS || record.IsTagged(rec.ID)
		} else if f, ok := pending[k]; ok {
			subLen = f.length
			if f.n--; f.n == 0 {
				delete(pending, k)
			} else {
				pending[k] = f
			}
			ev.Submitted, ev.SubmitRecord, ev.SubmitLength, ev.Setup, ev.HasSetup = f.at, f.rec+1, int(f.length), f.setup, f.hasSetup
		} else {
			t.Stats.URBs++
			orphan = true
		}
		switch rec.Type {
		case usbmon.Complete:
			ev.Kind = usbnet.EventComplete
		case usbmon.Error:
			ev.Kind = usbnet.EventSubmitError
		}
		if ev.Kind != 0 {
			t.engine.Observe(ev)
		}
		if rec.XferType == usbmon.XferControl {
			continue
		}
		if rec.Type == usbmon.Error && dataIn[rec.Endpoint] && rec.XferType == usbmon.XferBulk {
			t.Stats.Pending++ // a failed submission carries no data
		}
		if orphan && rec.Type != usbmon.Submit && dataOut[rec.Endpoint] && rec.XferType == usbmon.XferBulk {
			t.Stats.Pending++ // an OUT completion whose data (the submission) the capture missed
		}
		carries := (rec.Type == usbmon.Complete && rec.In()) || (rec.Type == usbmon.Submit && !rec.In())
		if carries && rec.XferType != usbmon.XferIso && (e.config == 0 || (e.valid != nil && !e.valid[rec.Endpoint])) {
			e.unconf++
			continue
		}
		switch {
		case rec.XferType == usbmon.XferBulk && rec.Endpoint == e.in.Address && e.in.Address != 0:
			if rec.Type != usbmon.Complete {
				continue
			}
			if e.drv == nil {
				e.undecoded++
				continue
			}
			if rec.Status == 0 {
				t.piece(e, &t.inX, RX, &rec, idx)
			} else {
				t.failedIn(&rec, idx)
			}
		case rec.XferType == usbmon.XferBulk && rec.Endpoint == e.out.Address && e.out.Address != 0:
			if e.drv == nil {
				if rec.Type == usbmon.Submit {
					e.undecoded++
				}
				continue
			}
			if rec.Type == usbmon.Submit {
				t.piece(e, &t.outX, TX, &rec, idx)
			} else if !orphan {
				t.failed(&rec, idx, subLen)
			}
		case rec.XferType == usbmon.XferInterrupt && rec.Endpoint == e.status.Address && e.status.Address != 0:
			if rec.Type != usbmon.Complete || rec.Status != 0 || len(rec.Data) == 0 {
				continue
			}
			t.Stats.Notifications++
			if sd, ok := e.drv.(usbnet.StatusDescriber); ok {
				t.status(sd, idx, rec.Time(), rec.Data)
			} else {
				t.noStatus++
			}
		}
		if t.emitErr != nil {
			emitErr = t.emitErr
			break
		}
	}
	t.leave(e)
	for _, e := range eps {
		t.closeEpoch(e)
	}
	if emitErr == nil {
		emitErr = t.emitErr
	}
	var still []usbnet.Event
	for k, f := range pending {
		if dataIn[k.ep] && k.xfer == usbmon.XferBulk {
			t.Stats.Pending += f.n
		}
		if k.xfer == usbmon.XferBulk || k.xfer == usbmon.XferInterrupt {
			still = append(still, usbnet.Event{Kind: usbnet.EventPending, Record: f.rec + 1, Time: f.at, Xfer: k.xfer.DescType(), Endpoint: k.ep, Length: int(f.length)})
		}
	}
	sort.Slice(still, func(i, j int) bool { return still[i].Record < still[j].Record })
	for i := range still {
		t.engine.Observe(&still[i])
	}
	t.Findings, t.Timeline = t.engine.Findings(), t.engine.Timeline()
	if t.noUnframe[RX] > 0 {
		t.anomaly("driver %s offers no unframing: %d bulk IN transfers not decoded into frames", t.Driver, t.noUnframe[RX])
	}
	if t.noUnframe[TX] > 0 {
		t.anomaly("driver %s offers no unframing: %d bulk OUT transfers not decoded into frames", t.Driver, t.noUnframe[TX])
	}
	if t.noStatus > 0 {
		t.anomaly("driver %s offers no status decoding: %d interrupt transfers not decoded", t.Driver, t.noStatus)
	}
	return emitErr
}

// failed counts and reports a bulk URB that completed with an error (an
// unlink of an empty URB is ifdown's, not a failure).
func (t *Trace) failed(rec *usbmon.Record, idx int, length uint32) {
	st := rec.Status
	if st == 0 {
		return
	}
	if e := usbmon.ErrnoOf(st); e != hw.ErrCancelled || length != 0 {
		t.Stats.Failed++
		t.anomaly("endpoint %#02x: transfer at record %d completed with status %d (%v)", rec.Endpoint, idx+1, st, e)
	}
}

// failedIn counts a bulk IN URB that completed with an error: whatever it
// carried is dropped, as usbnet's rx_complete drops it (rx_cleanup for
// every status but 0; -EOVERFLOW counted in rx_over_errors), and a
// transfer it was the end of (QEMU's packets) goes with it.
func (t *Trace) failedIn(rec *usbmon.Record, idx int) {
	t.failed(rec, idx, rec.Length)
	if rec.Length == 0 && !t.inX.open {
		return
	}
	t.Stats.RxDropped++
	if usbmon.ErrnoOf(rec.Status) == hw.ErrOverflow {
		t.Stats.RxOverErrors++
	}
	t.inX.open = false
}

// enter starts a span of epoch e: the transfers are put together with its
// packet sizes, and its RX unframer is made at first use.
func (t *Trace) enter(e *epoch) {
	t.inX.mp, t.outX.mp = int(e.in.MaxPacketSize), int(e.out.MaxPacketSize)
	if uf, ok := e.drv.(usbnet.Unframer); ok && e.capture != nil && e.rx == nil {
		e.rx = uf.RxUnframer(e.capture)
	}
}

// leave ends a span: a transfer still open is decoded as it is.
func (t *Trace) leave(e *epoch) {
	if t.inX.open {
		t.transfer(e, &t.inX, RX)
	}
	if t.outX.open {
		t.transfer(e, &t.outX, TX)
	}
}

// closeEpoch ends the trace for epoch e: its RX unframer is freed and what
// could not be decoded reported.
func (t *Trace) closeEpoch(e *epoch) {
	if e.rx != nil {
		e.rx.Close()
		e.rx = nil
	}
	if e.unconf > 0 {
		t.Stats.Unconfigured += e.unconf
		what := "no endpoint of the active alternate settings carries them"
		if e.config == 0 {
			what = "the device was unconfigured"
		}
		t.anomaly("%d bulk/interrupt transfers from record %d on: %s", e.unconf, e.from+1, what)
	}
	if e.undecoded > 0 {
		t.Stats.Undecoded += e.undecoded
		t.anomaly("%d bulk transfers from record %d on not decoded: nothing dongle knows matches configuration %d", e.undecoded, e.from+1, e.config)
	}
}

// piece adds one data record to its endpoint's transfer and decodes the
// transfer when it is complete.
func (t *Trace) piece(e *epoch, x *reasm, dir Dir, rec *usbmon.Record, idx int) {
	n := int(rec.Length)
	if n == 0 {
		t.Stats.ZLPs++
		if !x.open {
			return
		}
	}
	if !x.open {
		x.open, x.buf, x.length, x.truncated = true, x.buf[:0], 0, false
	}
	if !x.truncated {
		x.buf = append(x.buf, rec.Data...)
	}
	x.length += n
	x.truncated = x.truncated || len(rec.Data) < n
	x.record, x.time = idx, rec.Time()
	if !t.QEMU || x.mp <= 0 || n%x.mp != 0 || n == 0 {
		t.transfer(e, x, dir)
	}
}

// transfer decodes one complete transfer with the epoch's driver.
func (t *Trace) transfer(e *epoch, x *reasm, dir Dir) {
	x.open = false
	t.frames[dir] = 0
	defer t.transferEvent(e, x, dir)
	uf, ok := e.drv.(usbnet.Unframer)
	if dir == RX {
		t.Stats.RxTransfers++
		if !ok || e.rx == nil {
			t.noUnframe[RX]++
			return
		}
		t.cur = x
		lost, err := e.rx.Rx(x.buf, x.length, t.emitRX)
		if err != nil {
			t.frameErr(RX, x, err)
		}
		if lost {
			t.Stats.LostTransfers++
			t.anomaly("bulk IN transfer at record %d cut by the capture (%d of %d bytes): frames in it are lost", x.record+1, len(x.buf), x.length)
		}
		return
	}
	t.Stats.TxTransfers++
	if !ok {
		t.noUnframe[TX]++
		return
	}
	data, length := t.unpad(e, x.buf, x.length)
	t.cur, t.txCut = x, false
	err := uf.UnframeTx(e.capture, data, length, t.emitTX)
	if err != nil {
		t.frameErr(TX, x, err)
	} else if x.truncated && !t.txCut {
		// The capture cut the transfer where no frame could be emitted
		// (inside a header): one frame is truncated.
		t.Stats.TxTruncated++
	}
}

func (t *Trace) frame(dir Dir, x *reasm, data []byte, length int) {
	f := &t.scratch
	*f = Frame{Dir: dir, Record: x.record, Time: x.time, Data: data, Length: length}
	t.frames[dir]++
	if dir == RX {
		t.Stats.RxFrames++
		t.Stats.RxBytes += length
		if f.Truncated() {
			t.Stats.RxTruncated++
		}
	} else {
		t.Stats.TxFrames++
		t.Stats.TxBytes += length
		if f.Truncated() {
			t.Stats.TxTruncated++
		}
	}
	if t.emit != nil {
		if t.emitErr == nil {
			t.emitErr = t.emit(f)
		}
		return
	}
	kept := *f
	kept.Data = append([]byte(nil), data...)
	t.Frames = append(t.Frames, kept)
}

// transferEvent hands the rules one transfer put together and unframed.
func (t *Trace) transferEvent(e *epoch, x *reasm, dir Dir) {
	ep := e.in.Address
	if dir == TX {
		ep = e.out.Address
	}
	t.ev = usbnet.Event{Kind: usbnet.EventTransfer, Record: x.record + 1, Time: x.time, Xfer: hw.XferBulk, Endpoint: ep,
		Length: x.length, Data: x.buf, Frames: t.frames[dir]}
	t.engine.Observe(&t.ev)
}

func (t *Trace) frameErr(dir Dir, x *reasm, err error) {
	if dir == RX {
		t.Stats.RxErrors++
	} else {
		t.Stats.TxErrors++
	}
	if len(t.Errors) < MaxListed {
		t.Errors = append(t.Errors, &FrameError{Dir: dir, Record: x.record + 1, Err: err})
	}
}

// status decodes one interrupt IN transfer into a link event (recorded only
// when the state changes).
func (t *Trace) status(sd usbnet.StatusDescriber, idx int, ts time.Time, p []byte) {
	ev, err := sd.DescribeStatus(p)
	if err != nil {
		t.anomaly("interrupt transfer at record %d: %v", idx+1, err)
		return
	}
	if !ev.HasLink && ev.Mbps == 0 {
		return
	}
	var l Link
	if t.linkKnown {
		l = t.lastLink
	}
	next := l
	if ev.HasLink {
		next.Up = ev.Up
	}
	if ev.Mbps > 0 {
		next.Mbps = ev.Mbps
	}
	if t.linkKnown && next.Up == l.Up && next.Mbps == l.Mbps {
		return
	}
	next.Record, next.Time = idx, ts
	t.lastLink, t.linkKnown = next, true
	t.ev = usbnet.Event{Kind: usbnet.EventLink, Record: idx + 1, Time: ts, Up: next.Up, Mbps: next.Mbps}
	t.engine.Observe(&t.ev)
	if len(t.Links) < MaxListed {
		t.Links = append(t.Links, next)
	}
}
