package replay

import (
	"fmt"
	"sort"

	"dongle/hw"
	"dongle/hw/record"
	"dongle/hw/usbmon"
)

// Recorded error completions on bulk and interrupt endpoints: what each
// status does is Model's doc ("Recorded errors"); classify sorts the
// statuses into the classes below.
type faultClass int

const (
	faultNone faultClass = iota
	faultCancel
	faultStall
	faultGone
	faultError
	faultMalformed
)

const einprogress = 115

func classify(status int32) faultClass {
	switch {
	case status == 0:
		return faultNone
	case status > 0 || -status == einprogress:
		return faultMalformed
	}
	switch -status {
	case usbmon.ENOENT, usbmon.ECONNRESET:
		return faultCancel
	case usbmon.ENODEV, usbmon.ESHUTDOWN:
		return faultGone
	}
	if usbmon.ErrnoOf(status) == hw.ErrStall {
		return faultStall
	}
	return faultError
}

// findUnplug returns the index of the record where the device went away:
// the first -ENODEV/-ESHUTDOWN completion after which every completion, on
// every endpoint, is -ENODEV/-ESHUTDOWN or a cancellation. -1 if the
// device never went away.
func findUnplug(recs []usbmon.Record) int {
	at := -1
	for i := range recs {
		r := &recs[i]
		if r.Type == usbmon.Submit {
			continue
		}
		switch classify(r.Status) {
		case faultGone:
			if at < 0 {
				at = i
			}
		case faultCancel:
		default:
			at = -1 // the device answered after that: not gone
		}
	}
	return at
}

// clearHalts indexes, per endpoint, the records of the CLEAR_FEATURE
// (ENDPOINT_HALT) submissions the recorded driver sent.
func clearHalts(t *trace) map[uint8][]int {
	out := map[uint8][]int{}
	for i := range t.urbs {
		u := &t.urbs[i]
		if u.XferType() != usbmon.XferControl {
			continue
		}
		if s, ok := u.Setup(); ok && haltRequestOf(s) == reqClearHalt {
			ep := uint8(s.Index)
			out[ep] = append(out[ep], u.SubmitIndex)
		}
	}
	return out
}

// haltRequest classifies the standard requests that end halts (USB 2.0
// 9.4.5): the ones SetConfiguration, SetAlt and ClearHalt stand for.
type haltRequest int

const (
	reqOther        haltRequest = iota
	reqClearHalt                // CLEAR_FEATURE(ENDPOINT_HALT): that endpoint's halt
	reqSetInterface             // SET_INTERFACE: those of the interface's endpoints
	reqSetConfig                // SET_CONFIGURATION: every endpoint's
)

func haltRequestOf(s hw.Setup) haltRequest {
	switch {
	case s.RequestType == hw.DirOut|hw.TypeStandard|hw.RecipEndpoint && s.Request == hw.ReqClearFeature && s.Value == record.FeatureEndpointHalt:
		return reqClearHalt
	case s.RequestType == hw.DirOut|hw.TypeStandard|hw.RecipInterface && s.Request == hw.ReqSetInterface:
		return reqSetInterface
	case s.RequestType == hw.DirOut|hw.TypeStandard|hw.RecipDevice && s.Request == hw.ReqSetConfiguration:
		return reqSetConfig
	}
	return reqOther
}

// endHalts ends the halts s ends, once the device has accepted it: a
// CLEAR_FEATURE that failed, or a request the replay stalls, leaves them.
func (m *model) endHalts(s hw.Setup) {
	switch haltRequestOf(s) {
	case reqClearHalt:
		m.clearHalt(uint8(s.Index))
	case reqSetInterface:
		for addr := range m.halted {
			if _, iface, ok := m.c.endpointDesc(addr); ok && iface == int(s.Index) {
				delete(m.halted, addr)
			}
		}
	case reqSetConfig:
		clear(m.halted)
	}
}

// haltGroup numbers the halts of ep: a stall completion recorded after the
// n-th CLEAR_FEATURE(ENDPOINT_HALT) of ep belongs to halt n. Every transfer
// in flight when an endpoint halts fails with -EPIPE, so one halt may be
// several records; the replay halts once for them all.
func (m *model) haltGroup(ep uint8, rec int) int {
	return sort.SearchInts(m.clears[ep], rec)
}

// keepFault tells whether the completion of u (a bulk or interrupt URB)
// takes its place in the endpoint's sequence, counting and logging what it
// skips. A success (or no completion) is kept; so is an error, unless it
// is a cancellation, malformed, without its submission, or the unplug.
func (m *model) keepFault(u *usbmon.URB) bool {
	c := u.Complete
	if c == nil {
		return true
	}
	class := classify(c.Status)
	what := xferName(u.XferType(), u.Endpoint())
	switch class {
	case faultNone:
		return true
	case faultCancel:
		m.stats.FaultsCancelled++
		return false
	case faultMalformed:
		m.stats.FaultsMalformed++
		m.opts.Logf("replay: %s: record %d: %s completion status %d is not 0 or a negative errno a completion can carry; skipped", m.opts.Name, u.CompleteIndex, what, c.Status)
		return false
	}
	if u.Submit == nil {
		m.stats.FaultsMalformed++
		m.opts.Logf("replay: %s: record %d: %s completion with status %d has no submission in the trace; skipped", m.opts.Name, u.CompleteIndex, what, c.Status)
		return false
	}
	// The unplug itself is replayed as the device going away.
	return class != faultGone || m.unplugAt < 0 || u.CompleteIndex < m.unplugAt
}

// sameHalt tells whether a stall recorded at rec on ep is the halt of the
// item before it in the endpoint's sequence (status, recorded at prev):
// both stalls, between the same two CLEAR_FEATUREs.
func (m *model) sameHalt(ep uint8, rec int, status int32, prev int) bool {
	return classify(status) == faultStall && m.haltGroup(ep, prev) == m.haltGroup(ep, rec)
}

// failIfHalted fails x with hw.ErrStall if e is halted.
func (m *model) failIfHalted(e *endpoint, x *xfer) bool {
	rec, ok := m.halted[e.desc.Address]
	if !ok {
		return false
	}
	m.countFailed(e)
	e.completeLocked(x, hw.Errorf(fmt.Sprintf("halted by the stall at record %d", rec), hw.ErrStall))
	return true
}

// failRecorded fails x with the recorded status of record rec; a stall
// halts e.
func (m *model) failRecorded(e *endpoint, x *xfer, status int32, rec int) {
	if classify(status) == faultStall {
		m.halted[e.desc.Address] = rec
		m.stats.Halts++
	}
	m.countFailed(e)
	e.completeLocked(x, hw.Errorf(fmt.Sprintf("recorded status %d (record %d)", status, rec), usbmon.ErrnoOf(status)))
}

func (m *model) countFailed(e *endpoint) {
	if e.desc.In() {
		m.stats.InFailed++
	} else {
		m.stats.OutFailed++
	}
}

// clearHalt is CLEAR_FEATURE(ENDPOINT_HALT) reaching the device: the halt
// ends and the endpoint's recorded sequence continues.
func (m *model) clearHalt(addr uint8) {
	if _, ok := m.halted[addr]; !ok {
		return
	}
	delete(m.halted, addr)
	m.stats.HaltsCleared++
	if e := m.c.open[addr]; e != nil && e.desc.In() {
		m.pump(e)
		m.c.broadcastLocked()
	}
}

// checkUnplug makes the device gone once everything recorded before the
// unplug has been replayed and the host asks for more: an IN transfer
// waits, or (outBeyond) an OUT transfer goes past the recording.
func (m *model) checkUnplug(outBeyond bool) {
	if m.unplugAt < 0 || m.gone != nil {
		return
	}
	for _, s := range m.in {
		if !s.repeats && s.pos < len(s.msgs) {
			return
		}
	}
	for addr, recs := range m.out {
		if m.outPos[addr] < len(recs) {
			return
		}
	}
	waiting := outBeyond
	for _, e := range m.c.open {
		if !e.desc.In() {
			continue
		}
		for _, x := range e.q {
			waiting = waiting || !x.done
		}
	}
	if !waiting {
		return
	}
	m.gone = hw.Errorf(fmt.Sprintf("unplugged at record %d", m.unplugAt), hw.ErrNoDevice)
	for _, e := range m.c.open {
		e.completeAllLocked(m.gone)
	}
	m.c.broadcastLocked()
}

// reset is a USB reset reaching the device: every halt ends.
func (m *model) reset() { clear(m.halted) }
