package replay

import (
	"bytes"
	"fmt"

	"dongle/hw"
	"dongle/hw/usbmon"
)

// StrictOptions tune a strict replay.
type StrictOptions struct {
	// Name is the trace's name in Info.Backend ("trace:NAME").
	Name string
}

// Strict replays a trace dongle recorded, demanding the same driver
// behaviour (see the package doc). It implements hw.Device.
//
// # Order
//
// Submissions (control requests, including the SET_CONFIGURATION,
// SET_INTERFACE and CLEAR_FEATURE that SetConfiguration, SetAlt and
// ClearHalt stand for, and bulk/interrupt Submits) must come in the order
// of the trace's 'S' records, with the same setup packet, endpoint, buffer
// length and OUT data. A control request is answered at once from its
// 'C'. A bulk or interrupt transfer completes, with the recorded status
// and IN data, once the driver has made every submission the trace shows
// before its 'C', so the driver sees completions in the recorded order
// relative to its own actions; one recorded as cancelled completes only
// after Cancel. A transfer whose completion the trace lacks stays pending
// until cancelled.
//
// The recorder logs a bulk 'C' when Wait returns it, so this order is the
// driver's own. A driver whose goroutines submit in a scheduling-dependent
// order cannot be replayed strictly; use Model for it.
type Strict struct {
	*core
	s *strict
}

var _ hw.Device = (*Strict)(nil)

type strict struct {
	c    *core
	recs []usbmon.Record
	subs []int       // record indexes of the 'S' records, in order
	comp map[int]int // 'S' record index → its completion's index
	next int         // position in subs of the next expected submission
	fail *DivergenceError
}

// NewStrict builds a strict replay from the records of a trace.
func NewStrict(recs []usbmon.Record, opts StrictOptions) (*Strict, error) {
	if len(recs) == 0 {
		return nil, fmt.Errorf("replay: %s: empty trace", opts.Name)
	}
	t := newTrace(opts.Name, recs)
	s := &strict{recs: recs, comp: map[int]int{}}
	for _, u := range t.urbs {
		if u.Submit == nil {
			continue
		}
		s.subs = append(s.subs, u.SubmitIndex)
		if u.Complete != nil {
			s.comp[u.SubmitIndex] = u.CompleteIndex
		}
	}
	// Pair returns URBs in first-record order; submissions must be in file order.
	for i := 1; i < len(s.subs); i++ {
		for j := i; j > 0 && s.subs[j] < s.subs[j-1]; j-- {
			s.subs[j], s.subs[j-1] = s.subs[j-1], s.subs[j]
		}
	}
	s.c = newCore(t, t.info(backendName(opts.Name)), s)
	return &Strict{core: s.c, s: s}, nil
}

// Remaining is the number of recorded submissions the driver has not made
// yet: 0 at the end of a faithful replay.
func (d *Strict) Remaining() int {
	d.core.mu.Lock()
	defer d.core.mu.Unlock()
	return len(d.s.subs) - d.s.next
}

// Err is the divergence, if there was one.
func (d *Strict) Err() error {
	d.core.mu.Lock()
	defer d.core.mu.Unlock()
	return d.s.failed()
}

func (s *strict) failed() error {
	if s.fail == nil {
		return nil
	}
	return s.fail
}

// cursor is the record index of the next expected submission.
func (s *strict) cursor() int {
	if s.next < len(s.subs) {
		return s.subs[s.next]
	}
	return len(s.recs)
}

func describe(r *usbmon.Record) string {
	if sp, ok := r.SetupPacket(); ok {
		d := "control " + sp.String()
		if !sp.In() && len(r.Data) > 0 {
			d += fmt.Sprintf(" with %d bytes", len(r.Data))
		}
		return d
	}
	return fmt.Sprintf("%s %d bytes", xferName(r.XferType, r.Endpoint), r.Length)
}

func (s *strict) diverge(expected, got, diff string) error {
	idx := s.cursor()
	s.fail = &DivergenceError{Index: idx, Expected: expected, Got: got, Diff: diff}
	for _, e := range s.c.open {
		e.completeAllLocked(s.fail)
	}
	s.c.broadcastLocked()
	return s.fail
}

// expect returns the next recorded submission, or diverges.
func (s *strict) expect(got string) (*usbmon.Record, error) {
	if s.next >= len(s.subs) {
		return nil, s.diverge("the end of the trace", got, "")
	}
	return &s.recs[s.subs[s.next]], nil
}

// errno maps a recorded status back to what the recorder saw. The
// recorder wrote hw.ErrShort as -EREMOTEIO; usbmon.ErrnoOf reads that as
// QEMU's stall, which is right for foreign traces only.
func errno(status int32) hw.Errno {
	if status == -usbmon.EREMOTEIO {
		return hw.ErrShort
	}
	return usbmon.ErrnoOf(status)
}

func (s *strict) control(sp hw.Setup, data []byte) (int, error) {
	got := "control " + sp.String()
	if !sp.In() && len(data) > 0 {
		got += fmt.Sprintf(" with %d bytes", len(data))
	}
	r, err := s.expect(got)
	if err != nil {
		return 0, err
	}
	want, ok := r.SetupPacket()
	if !ok {
		return 0, s.diverge(describe(r), got, "")
	}
	wb, gb := want.Bytes(), sp.Bytes()
	if wb != gb {
		return 0, s.diverge(describe(r), got, "setup: "+hexDiff(wb[:], gb[:]))
	}
	if !sp.In() && !bytes.Equal(r.Data, data) {
		return 0, s.diverge(describe(r), got, "OUT data: "+hexDiff(r.Data, data))
	}
	si := s.subs[s.next]
	s.next++
	defer s.releaseLocked()
	what := s.c.name + ": control " + sp.String()
	ci, ok := s.comp[si]
	if !ok {
		return 0, hw.Errorf(what+": no completion in the trace", hw.ErrTimeout)
	}
	c := &s.recs[ci]
	n := 0
	if sp.In() {
		n = copy(data, c.Data)
	} else {
		n = min(int(c.Length), len(data))
	}
	if c.Status != 0 {
		return n, hw.Errorf(what, errno(c.Status))
	}
	return n, nil
}

func (s *strict) submit(e *endpoint, x *xfer) error {
	d := e.desc
	got := fmt.Sprintf("%s %d bytes", xferName(usbmon.XferTypeOf(d.Type()), d.Address), len(x.t.Buf))
	r, err := s.expect(got)
	if err != nil {
		return err
	}
	if r.Type != usbmon.Submit || r.XferType != usbmon.XferTypeOf(d.Type()) || r.Endpoint != d.Address || int(r.Length) != len(x.t.Buf) {
		return s.diverge(describe(r), got, "")
	}
	if !d.In() && !bytes.Equal(r.Data, x.t.Buf) {
		return s.diverge(describe(r), got, "OUT data: "+hexDiff(r.Data, x.t.Buf))
	}
	si := s.subs[s.next]
	s.next++
	defer s.releaseLocked()
	if ci, ok := s.comp[si]; ok {
		if c := &s.recs[ci]; c.Type == usbmon.Error {
			return hw.Errorf(e.name+": submit", errno(c.Status))
		}
		x.comp, x.compIdx = &s.recs[ci], ci
	}
	return nil
}

// releaseLocked completes every transfer whose recorded completion is due.
func (s *strict) releaseLocked() {
	cur := s.cursor()
	for _, e := range s.c.open {
		for _, x := range e.q {
			if x.done || x.comp == nil || x.compIdx > cur {
				continue
			}
			st := errno(x.comp.Status)
			if x.comp.Status != 0 && st == hw.ErrCancelled && !x.cancelled {
				continue
			}
			if e.desc.In() {
				x.t.N = copy(x.t.Buf, x.comp.Data)
			} else {
				x.t.N = min(int(x.comp.Length), len(x.t.Buf))
			}
			if x.comp.Status != 0 {
				e.completeLocked(x, st)
			} else {
				e.completeLocked(x, nil)
			}
		}
	}
}

func (s *strict) cancel(e *endpoint) {
	s.releaseLocked()
	e.completeAllLocked(hw.ErrCancelled)
}

// reset does nothing: strict replay keeps no device state a reset clears
// (a recorded stall is just the answer recorded for that transfer).
func (s *strict) reset() {}

// backendName is Info().Backend of a replay: "trace" or "trace:NAME".
func backendName(name string) string {
	if name == "" {
		return "trace"
	}
	return "trace:" + name
}
