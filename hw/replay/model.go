package replay

import (
	"bytes"
	"cmp"
	"fmt"
	"log"
	"slices"

	"dongle/hw"
	"dongle/hw/usbmon"
)

// ModelOptions tune a model replay.
type ModelOptions struct {
	// Name is the trace's name in Info.Backend ("trace:NAME").
	Name string
	// Logf receives one line per unmatched control request and per OUT
	// transfer that differs from the recording; log.Printf if nil.
	Logf func(format string, args ...any)
	// RepeatInterrupt makes an interrupt IN endpoint whose recorded data
	// has run out hand out its last recorded transfer again and again,
	// like a device that keeps re-sending a periodic status (an ASIX link
	// status). Off by default: the endpoint goes quiet (transfers stay
	// pending until cancelled), which is right for event notifications
	// such as CDC's RESPONSE_AVAILABLE that a driver answers with requests.
	RepeatInterrupt bool
	// IgnoreErrors turns off the replay of recorded error completions on
	// bulk and interrupt endpoints (stalls, protocol errors, timeouts,
	// unplug; see the package doc): they are skipped, and only the data
	// is replayed. Off by default, so that a capture of a flaky device
	// reproduces its faults.
	IgnoreErrors bool
	// Device, when set, makes the replay serve that one device of a
	// capture of a busy bus (Open and New keep only its records; see
	// Only). Without it a capture must hold one device.
	Device *DeviceAddr
}

// ModelStats counts what a model replay did.
type ModelStats struct {
	ControlExact      int // control requests answered from an identical recorded setup packet
	ControlLength     int // ... from the same request recorded with another wLength
	ControlWriteValue int // class/vendor OUT requests recorded only with other wValue/wIndex/data (accepted)
	ControlStalled    int // control requests with no recorded counterpart (stalled)
	ControlOutDiff    int // control OUT requests whose data differed from the recording

	InTransfers        int // complete IN transfers the trace holds (after reassembly)
	InSkippedTruncated int // IN transfers dropped because the capture cut their data
	InCompleted        int // host IN transfers completed with recorded data

	OutMatched    int // OUT transfers equal to the recorded one at their position
	OutMismatched int // OUT transfers that differed (logged)
	OutExtra      int // OUT transfers beyond what the trace recorded on the endpoint

	// Recorded error completions (unless IgnoreErrors).
	Faults          int  // error completions placed in the endpoints' sequences (one per halt)
	FaultsCancelled int  // -ENOENT/-ECONNRESET completions skipped: the host's own unlinks
	FaultsMalformed int  // completions skipped as malformed (logged with the record number)
	InFailed        int  // host IN transfers failed with a recorded error (halted ones included)
	OutFailed       int  // host OUT transfers failed likewise
	Halts           int  // recorded stalls replayed (endpoint halted)
	HaltsCleared    int  // halts the host cleared with CLEAR_FEATURE(ENDPOINT_HALT)
	Unplugged       bool // the recorded unplug was replayed: the device is gone (derived)
}

// Model is a virtual device built from a foreign trace (see the package
// doc). It implements hw.Device.
//
// # Control requests
//
// A request is answered from the recorded request with the identical setup
// packet; repeated identical requests cycle through the recorded answers in
// order. Failing that, from the same request (bmRequestType, bRequest,
// wValue, wIndex) recorded with another wLength, answering min(wLength,
// recorded length) bytes. A class or vendor OUT request (a register write)
// that the trace holds only with other values is accepted and logged, as
// the device would take it; a read is never invented. Failing all that it
// stalls, and the log names the
// nearest recorded request. SET_CONFIGURATION, SET_INTERFACE and
// CLEAR_FEATURE(halt) the trace lacks are accepted instead (SetConfiguration,
// SetAlt and ClearHalt check them against the trace's descriptors first):
// a device with those descriptors accepts them.
//
// # IN data
//
// Recorded IN completions are reassembled into device-side transfers per
// endpoint, in the order of the completion records (the order the data
// crossed the bus): data accumulates until a completion whose length is
// not a multiple of wMaxPacketSize (a short packet, a ZLP included),
// whichever URB id carried it, or one shorter than its URB (a whole number
// of packets a ZLP ended: usbmon records no ZLP of its own). QEMU logs each USBPacket on its own, so its
// 64-byte frame and the ZLP after it, completing the next queued packet,
// become one 64-byte transfer followed by its ZLP, as on the wire.
//
// Why completion order and not submission order: QEMU logs an 'S' each
// time it polls a queued packet the device has no data for, and its ids
// are transfer-ring addresses that come round again, so usbmon.Pair can
// give a completion a stale submission from long before:
//
//	S a, S a (retry), C a [64]   S b, C b [0]   S a, C a [64] (a reused)
//	by submission: 64, 64, 0      → one glued 128-byte frame
//	by completion: 64, 0 | 64 ... → two 64-byte frames, each with its ZLP
//
// The
// replay hands these out packet by packet with USB's rules: a host
// transfer ends at a short packet or when its buffer is full, and a packet
// that does not fit completes it with hw.ErrOverflow.
//
// A transfer with any part cut by the capture (QEMU keeps 256 bytes of
// bulk data) is not delivered at all, and counted in InSkippedTruncated:
// padding it would hand the driver bytes the device never sent, and a
// framing parser fed a half frame reports errors that are the capture's
// fault, not the driver's. When an endpoint's data runs out its transfers
// stay pending until cancelled, like a quiet device (see RepeatInterrupt).
//
// # OUT data
//
// Each OUT transfer is compared with the recorded OUT transfer at the same
// position on its endpoint (only the captured prefix, when truncated);
// differences are logged and counted, never failed: the driver's frames
// need not be the recorded driver's.
//
// # Recorded errors
//
// Unless ModelOptions.IgnoreErrors, a bulk or interrupt completion with an
// error status takes its place in its endpoint's sequence: on IN, in the
// wire (completion) order the data follows; on OUT, at the position of
// its submission. When a host transfer reaches it, it fails:
//
//	IN 0x82 recorded:  [60] [64][0] EPIPE EPIPE(same halt) [61] ETIME [62]
//	replayed:          60   64  0   Stall ·halted· ClearHalt 61 Timeout 62
//
// This is the one table of what each recorded status does (doc.go and
// faults.go point here). By status:
//
//   - -EPIPE (and QEMU's -EREMOTEIO): hw.ErrStall, and the endpoint stays
//     halted, failing every transfer with hw.ErrStall, until the host's
//     CLEAR_FEATURE(ENDPOINT_HALT) (ClearHalt, or the request through
//     Control), as a real device; then the sequence goes on. Reset,
//     SET_CONFIGURATION and SET_INTERFACE (of the endpoint's interface)
//     end a halt too, as USB says they do. A request ends a halt only
//     once it succeeded: one matched to a recorded CLEAR_FEATURE that
//     failed fails the same way and leaves the endpoint halted. The stalls
//     of the several transfers in flight when the endpoint halted (those
//     recorded between the same two CLEAR_FEATUREs) are one halt.
//   - Other errnos: that one transfer fails with usbmon.ErrnoOf's sentinel
//     (-ETIME/-ETIMEDOUT hw.ErrTimeout, -EOVERFLOW hw.ErrOverflow, -EPROTO
//     and -EILSEQ hw.ErrIO, ...), keeping the bytes that had arrived; an
//     IN transfer being filled when the error was recorded ends with it.
//   - An unplug, -ENODEV/-ESHUTDOWN on every completion from some record
//     on (cancellations aside): once every endpoint's sequence before it
//     has been replayed and the host waits for more, every transfer in
//     flight fails and every later call returns hw.ErrNoDevice, as after
//     sim.Device.Unplug. An isolated -ENODEV is an error like the others.
//   - -ENOENT/-ECONNRESET are the host's own unlinks, not device faults:
//     skipped, as are malformed statuses (positive, or -EINPROGRESS in a
//     completion) and error completions whose submission the capture
//     lacks; those are logged with their record number.
type Model struct {
	*core
	m *model
}

var _ hw.Device = (*Model)(nil)

type ctrlEntry struct {
	setup  hw.Setup
	data   []byte // IN answer or OUT data as captured
	trunc  bool
	status int32
	index  int // record index of the submission
}

type inMsg struct {
	data       []byte
	terminated bool // ended by a short packet (so a ZLP follows a full last packet)
	cut        bool // some of it was not captured: skipped
	noZLP      bool // ended by a recorded error, not by a short packet
	// status is a recorded error completion (data: what it carried, if
	// captured whole), 0 for data; rec is its record index.
	status int32
	rec    int
}

type inStream struct {
	mps     int
	intr    bool
	msgs    []inMsg
	pos     int // current message
	pkt     int // next packet within it
	last    *inMsg
	repeats bool
}

type outRec struct {
	data   []byte
	length int
	trunc  bool
	index  int
	status int32 // recorded error completion, 0 if none (or errors ignored)
	comp   int   // record of that completion
	n      int   // bytes it reported transferred
}

type model struct {
	c     *core
	opts  ModelOptions
	stats ModelStats
	ctrl  []ctrlEntry
	exact map[[8]byte][]int
	byReq map[[6]byte][]int
	// writes indexes successful OUT requests by bmRequestType and bRequest.
	writes map[[2]byte][]int
	cycle  map[[8]byte]int
	in     map[uint8]*inStream
	out    map[uint8][]outRec
	outPos map[uint8]int

	// Recorded errors (see faults.go).
	clears   map[uint8][]int // CLEAR_FEATURE(ENDPOINT_HALT) submissions per endpoint
	halted   map[uint8]int   // halted endpoints → record of the stall
	unplugAt int             // record where the device went away, -1 if it did not
	gone     error           // hw.ErrNoDevice once the unplug has been replayed, else nil
}

// NewModel builds a model replay from the records of a capture.
func NewModel(recs []usbmon.Record, opts ModelOptions) (*Model, error) {
	if len(recs) == 0 {
		return nil, fmt.Errorf("replay: %s: empty trace", opts.Name)
	}
	if opts.Logf == nil {
		opts.Logf = log.Printf
	}
	t := newTrace(opts.Name, recs)
	m := &model{opts: opts, exact: map[[8]byte][]int{}, byReq: map[[6]byte][]int{}, writes: map[[2]byte][]int{}, cycle: map[[8]byte]int{},
		in: map[uint8]*inStream{}, out: map[uint8][]outRec{}, outPos: map[uint8]int{}, halted: map[uint8]int{}, unplugAt: -1}
	m.build(t)
	m.c = newCore(t, t.info(backendName(opts.Name)), m)
	return &Model{core: m.c, m: m}, nil
}

// Stats returns the counters so far.
func (d *Model) Stats() ModelStats {
	d.core.mu.Lock()
	defer d.core.mu.Unlock()
	st := d.m.stats
	st.Unplugged = d.m.gone != nil
	return st
}

func (m *model) build(t *trace) {
	faults := !m.opts.IgnoreErrors
	if faults {
		m.clears = clearHalts(t)
		m.unplugAt = findUnplug(t.recs)
	}
	var ins []*usbmon.URB // completed IN transfers, gathered to be taken in wire order
	for i := range t.urbs {
		u := &t.urbs[i]
		switch u.XferType() {
		case usbmon.XferControl:
			s, ok := u.Setup()
			if !ok {
				continue
			}
			e := ctrlEntry{setup: s, index: u.SubmitIndex, trunc: u.Truncated()}
			if u.Complete != nil {
				e.status = u.Complete.Status
			} else {
				e.status = -usbmon.ETIMEDOUT // never completed
			}
			if s.In() {
				if u.Complete != nil {
					e.data = u.Complete.Data
				}
			} else {
				e.data = u.Submit.Data
			}
			if faults && m.unplugAt >= 0 && u.CompleteIndex >= m.unplugAt && classify(e.status) == faultGone {
				continue // failed because the device was gone: the unplug answers it
			}
			k := len(m.ctrl)
			m.ctrl = append(m.ctrl, e)
			raw := s.Bytes()
			m.exact[raw] = append(m.exact[raw], k)
			var rk [6]byte
			copy(rk[:], raw[:6])
			m.byReq[rk] = append(m.byReq[rk], k)
			if raw[0]&hw.DirIn == 0 && m.ctrl[k].status == 0 {
				wk := [2]byte{raw[0], raw[1]}
				m.writes[wk] = append(m.writes[wk], k)
			}
		case usbmon.XferBulk, usbmon.XferInterrupt:
			ep := u.Endpoint()
			if ep&0x80 == 0 {
				m.addOut(ep, u, faults)
				continue
			}
			if u.Complete != nil {
				ins = append(ins, u)
			}
		}
	}
	// The wire order of IN data is the order of the completions, not of
	// the submissions (see inOrder).
	slices.SortStableFunc(ins, func(a, b *usbmon.URB) int { return cmp.Compare(a.CompleteIndex, b.CompleteIndex) })
	for _, u := range ins {
		ep := u.Endpoint()
		s := m.in[ep]
		if s == nil {
			s = &inStream{mps: t.maxPacket(ep), intr: u.XferType() == usbmon.XferInterrupt}
			m.in[ep] = s
		}
		m.addIn(s, u, faults)
	}
	for _, s := range m.in {
		s.finish(&m.stats)
		if s.intr && m.opts.RepeatInterrupt {
			s.repeats = true
		}
	}
}

// addIn appends one recorded IN completion to the message being
// reassembled (the last one, while not terminated), or, for a recorded
// error, an error item after it.
func (m *model) addIn(s *inStream, u *usbmon.URB, faults bool) {
	c := u.Complete
	if c == nil {
		return
	}
	if c.Status != 0 {
		if !faults {
			return // failed or cancelled: no data crossed the bus
		}
		if m.keepFault(u) {
			s.addError(u, m)
		}
		return
	}
	if c.Type != usbmon.Complete {
		return
	}
	st := &m.stats
	if n := len(s.msgs); n == 0 || s.msgs[n-1].terminated {
		s.msgs = append(s.msgs, inMsg{data: []byte{}})
	}
	cur := &s.msgs[len(s.msgs)-1]
	cur.data = append(cur.data, c.Data...)
	cur.cut = cur.cut || c.Truncated()
	// A completion shorter than its URB ended on a short packet or a ZLP,
	// even when it is a whole number of packets (a kernel usbmon capture
	// shows no ZLP of its own: an NCM NTB of 512 bytes in a 16384-byte
	// URB). QEMU's submissions carry no length, so its per-packet records
	// are joined as before.
	short := u.Submit != nil && c.Length < u.Submit.Length
	if int(c.Length)%s.mps != 0 || c.Length == 0 || short {
		cur.terminated = true
		st.InTransfers++
		if cur.cut {
			st.InSkippedTruncated++
			s.msgs = s.msgs[:len(s.msgs)-1]
		}
	}
}

// addError ends the message being reassembled (the error fails the host
// transfer it was filling) and appends the error item. The transfers in
// flight when an endpoint halts all fail with -EPIPE: stalls of one halt
// (between the same two CLEAR_FEATUREs) become one item.
func (s *inStream) addError(u *usbmon.URB, m *model) {
	if n := len(s.msgs); n > 0 && !s.msgs[n-1].terminated {
		cur := &s.msgs[n-1]
		cur.terminated, cur.noZLP = true, true
		m.stats.InTransfers++
		if cur.cut || len(cur.data) == 0 {
			if cur.cut {
				m.stats.InSkippedTruncated++
			}
			s.msgs = s.msgs[:n-1]
		}
	}
	c := u.Complete
	if n := len(s.msgs); n > 0 && classify(c.Status) == faultStall && m.sameHalt(u.Endpoint(), u.CompleteIndex, s.msgs[n-1].status, s.msgs[n-1].rec) {
		return
	}
	var data []byte
	if c.Type == usbmon.Complete && !c.Truncated() {
		data = c.Data
	}
	s.msgs = append(s.msgs, inMsg{data: data, terminated: true, noZLP: true, status: c.Status, rec: u.CompleteIndex})
	m.stats.Faults++
}

// addOut appends a recorded OUT transfer to its endpoint's sequence, with
// its error completion unless errors are ignored.
func (m *model) addOut(ep uint8, u *usbmon.URB, faults bool) {
	if u.Submit == nil {
		if faults && u.Complete != nil {
			m.keepFault(u) // counts and logs an unpaired error completion
		}
		return
	}
	r := outRec{data: u.Submit.Data, length: int(u.Submit.Length), trunc: u.Submit.Truncated(), index: u.SubmitIndex}
	if faults {
		if m.unplugAt >= 0 && u.SubmitIndex >= m.unplugAt {
			return // submitted to a gone device
		}
		keep := m.keepFault(u)
		c := u.Complete
		switch {
		case c == nil || c.Status == 0:
		case !keep && classify(c.Status) == faultGone:
			return // in flight when the device went: the unplug answers it
		case keep:
			recs := m.out[ep]
			if n := len(recs); classify(c.Status) == faultStall && n > 0 && m.sameHalt(ep, u.CompleteIndex, recs[n-1].status, recs[n-1].comp) {
				return // the same halt
			}
			r.status, r.comp, r.n = c.Status, u.CompleteIndex, int(c.Length)
			m.stats.Faults++
		}
	}
	m.out[ep] = append(m.out[ep], r)
}

// finish drops a cut message left unterminated at the end of the trace.
func (s *inStream) finish(st *ModelStats) {
	if n := len(s.msgs); n > 0 && !s.msgs[n-1].terminated && s.msgs[n-1].cut {
		s.msgs = s.msgs[:n-1]
		st.InSkippedTruncated++
	}
}

// packet returns the next packet of the stream; ok is false when the
// recorded data has run out.
func (s *inStream) packet() (p []byte, ok bool) {
	m := s.item()
	if m == nil || m.status != 0 {
		return nil, false
	}
	off := s.pkt * s.mps
	if off < len(m.data) {
		return m.data[off:min(off+s.mps, len(m.data))], true
	}
	if m.terminated && !m.noZLP && (len(m.data)%s.mps == 0) && off == len(m.data) {
		return m.data[off:off], true // the ZLP
	}
	return nil, false // unterminated message at the end of the trace: the rest never came
}

// item is the current item of the stream (a message or a recorded
// error), nil when the recording has run out.
func (s *inStream) item() *inMsg {
	if s.pos >= len(s.msgs) {
		if !s.repeats || s.last == nil {
			return nil
		}
		s.msgs = append(s.msgs, *s.last)
	}
	return &s.msgs[s.pos]
}

func (s *inStream) advance() {
	m := &s.msgs[s.pos]
	s.pkt++
	n := (len(m.data) + s.mps - 1) / s.mps
	if m.terminated && !m.noZLP && len(m.data)%s.mps == 0 {
		n++
	}
	if s.pkt >= n {
		s.last = m
		if s.repeats {
			cp := *m
			s.last = &cp
		}
		s.pos++
		s.pkt = 0
	}
}

func (m *model) failed() error {
	if m.gone == nil {
		return nil
	}
	return hw.Errorf(m.c.name, m.gone)
}

// control answers a control request; one the device accepted ends the
// halts it ends (USB 2.0 9.4.5), one that failed leaves them.
func (m *model) control(s hw.Setup, data []byte) (int, error) {
	n, err := m.answer(s, data)
	if err == nil {
		m.endHalts(s)
	}
	return n, err
}

func (m *model) answer(s hw.Setup, data []byte) (int, error) {
	what := m.c.name + ": control " + s.String()
	raw := s.Bytes()
	var e *ctrlEntry
	if l := m.exact[raw]; len(l) > 0 {
		e = &m.ctrl[l[m.cycle[raw]%len(l)]]
		m.cycle[raw]++
		m.stats.ControlExact++
	} else {
		var rk [6]byte
		copy(rk[:], raw[:6])
		for _, k := range m.byReq[rk] {
			c := &m.ctrl[k]
			// Prefer an answer that covers the request, else the longest.
			if e == nil || (len(e.data) < len(data) && len(c.data) > len(e.data)) {
				e = c
			}
		}
		if e != nil {
			m.stats.ControlLength++
		}
	}
	if e == nil && !s.In() && s.RequestType&0x60 != hw.TypeStandard {
		// A class or vendor write the recorded device took with other
		// values (a register written with another value, as two drivers
		// for one chip do): the device would take this one too. Reads
		// are never invented.
		if l := m.writes[[2]byte{raw[0], raw[1]}]; len(l) > 0 {
			m.stats.ControlWriteValue++
			m.opts.Logf("replay: %s: recorded with other values only (e.g. %s); accepted", what, m.ctrl[l[0]].setup)
			return len(data), nil
		}
	}
	if e == nil {
		if haltRequestOf(s) != reqOther {
			// SET_CONFIGURATION, SET_INTERFACE or CLEAR_FEATURE(halt)
			// the trace lacks, already checked by core against the
			// descriptors: a device with them accepts it.
			return 0, nil
		}
		m.stats.ControlStalled++
		m.opts.Logf("replay: %s: not in the trace, stalled; nearest recorded: %s", what, m.nearest(s))
		return 0, hw.Errorf(what+": not in the trace", hw.ErrStall)
	}
	if e.status != 0 {
		return 0, hw.Errorf(fmt.Sprintf("%s (record %d, status %d)", what, e.index, e.status), usbmon.ErrnoOf(e.status))
	}
	if s.In() {
		return copy(data, e.data), nil
	}
	want := e.data
	got := data
	if e.trunc && len(got) > len(want) {
		got = got[:len(want)]
	}
	if !bytes.Equal(want, got) {
		m.stats.ControlOutDiff++
		m.opts.Logf("replay: %s: OUT data differs from record %d\n%s", what, e.index, hexDiff(want, got))
	}
	return len(data), nil
}

// nearest names the recorded request most like s.
func (m *model) nearest(s hw.Setup) string {
	best, score := -1, -1
	for i := range m.ctrl {
		r := m.ctrl[i].setup
		sc := 0
		if r.RequestType == s.RequestType {
			sc += 8
		}
		if r.Request == s.Request {
			sc += 8
		}
		if r.Value == s.Value {
			sc += 4
		} else if r.Value>>8 == s.Value>>8 {
			sc += 2
		}
		if r.Index == s.Index {
			sc++
		}
		if sc > score {
			best, score = i, sc
		}
	}
	if best < 0 {
		return "none (the trace has no control requests)"
	}
	return fmt.Sprintf("%s (record %d)", m.ctrl[best].setup, m.ctrl[best].index)
}

func (m *model) submit(e *endpoint, x *xfer) error {
	if e.desc.In() {
		m.pump(e)
		return nil
	}
	addr := e.desc.Address
	if m.failIfHalted(e, x) {
		return nil
	}
	if m.outPos[addr] >= len(m.out[addr]) {
		if m.checkUnplug(true); m.gone != nil {
			return nil // completed with ErrNoDevice
		}
	}
	r := m.checkOut(e, x.t.Buf)
	if r != nil && r.status != 0 {
		// The recorded transfer failed: so does this one.
		x.t.N = min(r.n, len(x.t.Buf))
		m.failRecorded(e, x, r.status, r.comp)
		return nil
	}
	x.t.N = len(x.t.Buf)
	e.completeLocked(x, nil)
	m.checkUnplug(false) // the last recorded OUT transfer may have been the unplug's cue
	return nil
}

// checkOut compares an OUT transfer with the recorded one at its position
// and returns that record (nil beyond the recording).
func (m *model) checkOut(e *endpoint, got []byte) *outRec {
	addr := e.desc.Address
	recs := m.out[addr]
	i := m.outPos[addr]
	if i >= len(recs) {
		m.stats.OutExtra++
		return nil
	}
	m.outPos[addr] = i + 1
	r := &recs[i]
	want := r.data
	g := got
	if r.trunc && len(g) > len(want) {
		g = g[:len(want)]
	}
	if bytes.Equal(want, g) && (len(got) == r.length) {
		m.stats.OutMatched++
		return r
	}
	m.stats.OutMismatched++
	m.opts.Logf("replay: %s: OUT transfer %d (%d bytes) differs from record %d (%d bytes)\n%s", e.name, i, len(got), r.index, r.length, hexDiff(want, g))
	return r
}

// pump moves recorded IN packets and errors into the endpoint's pending
// transfers.
func (m *model) pump(e *endpoint) {
	addr := e.desc.Address
	s := m.in[addr]
	for _, x := range e.q {
		if x.done {
			continue
		}
		if m.failIfHalted(e, x) {
			continue
		}
		if len(x.t.Buf) == 0 {
			e.completeLocked(x, nil)
			continue
		}
		if s == nil || !m.fill(e, s, x) {
			break
		}
	}
	m.checkUnplug(false)
}

// fill hands x packets until it completes; false if the recording ran out
// first.
func (m *model) fill(e *endpoint, s *inStream, x *xfer) bool {
	for !x.done {
		if it := s.item(); it != nil && it.status != 0 {
			// A recorded error: it fails the transfer being filled,
			// keeping what already arrived, as on the bus.
			s.pos++
			s.pkt = 0
			x.t.N += copy(x.t.Buf[x.t.N:], it.data)
			m.failRecorded(e, x, it.status, it.rec)
			return true
		}
		p, ok := s.packet()
		if !ok {
			return false
		}
		s.advance()
		space := len(x.t.Buf) - x.t.N
		if len(p) > space {
			x.t.N += copy(x.t.Buf[x.t.N:], p[:space])
			m.stats.InCompleted++
			e.completeLocked(x, hw.ErrOverflow)
			return true
		}
		x.t.N += copy(x.t.Buf[x.t.N:], p)
		if len(p) < s.mps || x.t.N == len(x.t.Buf) {
			m.stats.InCompleted++
			e.completeLocked(x, nil)
		}
	}
	return true
}

func (m *model) cancel(e *endpoint) {
	e.completeAllLocked(hw.ErrCancelled)
}
