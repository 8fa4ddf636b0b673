package replay

import (
	"fmt"
	"sort"

	"dongle/hw"
	"dongle/hw/usbmon"
)

// Recorded error completions on bulk and interrupt endpoints (see
// ModelOptions.IgnoreErrors and the package doc).
//
// Every completion status falls in one class:
//
//	0                      data (or an OUT accepted)
//	-ENOENT, -ECONNRESET   the host unlinked its own URB: not a device fault, skipped
//	-EPIPE (-EREMOTEIO)    stall: the endpoint halts until CLEAR_FEATURE(ENDPOINT_HALT)
//	-ENODEV, -ESHUTDOWN    gone: an unplug when nothing but these (and cancels) follow
//	other negative errnos  one failed transfer, hw sentinel from usbmon.ErrnoOf
//	positive, -EINPROGRESS malformed for a completion: logged with the record number, skipped
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
		if s, ok := u.Setup(); ok && isClearHalt(s) {
			ep := uint8(s.Index)
			out[ep] = append(out[ep], u.SubmitIndex)
		}
	}
	return out
}

func isClearHalt(s hw.Setup) bool {
	return s.RequestType == hw.DirOut|hw.TypeStandard|hw.RecipEndpoint && s.Request == hw.ReqClearFeature && s.Value == 0
}

// haltGroup numbers the halts of ep: a stall completion recorded after the
// n-th CLEAR_FEATURE(ENDPOINT_HALT) of ep belongs to halt n. Every transfer
// in flight when an endpoint halts fails with -EPIPE, so one halt may be
// several records; the replay halts once for them all.
func (m *model) haltGroup(ep uint8, rec int) int {
	return sort.SearchInts(m.clears[ep], rec)
}

// recordedErr is the error a replayed transfer fails with for a recorded
// status.
func (m *model) recordedErr(status int32, rec int) error {
	return hw.Errorf(fmt.Sprintf("recorded status %d (record %d)", status, rec), usbmon.ErrnoOf(status))
}

// faultOf classifies the completion of u (a bulk or interrupt URB) for
// the model, logging what it skips. keep is false when the completion is
// dropped from the endpoint's sequence entirely.
func (m *model) faultOf(u *usbmon.URB) (status int32, class faultClass, keep bool) {
	c := u.Complete
	if c == nil {
		return 0, faultNone, true
	}
	class = classify(c.Status)
	what := xferName(u.XferType(), u.Endpoint())
	switch class {
	case faultNone:
		return 0, faultNone, true
	case faultCancel:
		m.stats.FaultsCancelled++
		return 0, faultCancel, false
	case faultMalformed:
		m.stats.FaultsMalformed++
		m.opts.Logf("replay: %s: record %d: %s completion status %d is not 0 or a negative errno a completion can carry; skipped", m.opts.Name, u.CompleteIndex, what, c.Status)
		return 0, faultMalformed, false
	}
	if u.Submit == nil {
		m.stats.FaultsMalformed++
		m.opts.Logf("replay: %s: record %d: %s completion with status %d has no submission in the trace; skipped", m.opts.Name, u.CompleteIndex, what, c.Status)
		return 0, class, false
	}
	if class == faultGone && m.unplugAt >= 0 && u.CompleteIndex >= m.unplugAt {
		return 0, faultGone, false // the unplug itself: replayed as the device going away
	}
	return c.Status, class, true
}

// haltErr is the error of a transfer on a halted endpoint.
func (m *model) haltErr(addr uint8) error {
	return hw.Errorf(fmt.Sprintf("halted by the stall at record %d", m.halted[addr]), hw.ErrStall)
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
	if m.unplugAt < 0 || m.gone {
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
	m.gone = true
	m.stats.Unplugged = true
	for _, e := range m.c.open {
		e.completeAllLocked(m.goneErr())
	}
	m.c.broadcastLocked()
}

func (m *model) goneErr() error {
	return hw.Errorf(fmt.Sprintf("unplugged at record %d", m.unplugAt), hw.ErrNoDevice)
}

// reset is a USB reset reaching the device: every halt ends.
func (m *model) reset() { clear(m.halted) }

// clearHaltsFor ends the halts a standard request clears besides
// CLEAR_FEATURE: SET_CONFIGURATION every endpoint's, SET_INTERFACE those
// of the interface's endpoints (USB 2.0 9.4.5).
func (m *model) clearHaltsFor(s hw.Setup) {
	switch {
	case s.RequestType == hw.RecipDevice && s.Request == hw.ReqSetConfiguration:
		clear(m.halted)
	case s.RequestType == hw.RecipInterface && s.Request == hw.ReqSetInterface:
		for addr := range m.halted {
			if _, iface, ok := m.c.endpointDesc(addr); ok && iface == int(s.Index) {
				delete(m.halted, addr)
			}
		}
	}
}
