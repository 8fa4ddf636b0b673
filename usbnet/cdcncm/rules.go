package cdcncm

import (
	"encoding/binary"
	"fmt"
	"time"

	"dongle/hw"
	"dongle/usbnet"
)

// cdc_ncm's own failure rules (see usbnet/failure.go): NTBs larger than
// negotiated.
var _ usbnet.RuleSource = (*Driver)(nil)

// FailureRules implements usbnet.RuleSource.
func (*Driver) FailureRules(*usbnet.Capture) []usbnet.Rule {
	return []usbnet.Rule{&ntbOversize{pendIn: -1}}
}

var ntbOversizeInfo = usbnet.RuleInfo{
	Name: "ntb-oversize", Severity: usbnet.SeverityError,
	Title:   "an NCM NTB larger than the size negotiated",
	Trigger: "a bulk IN transfer longer than dwNtbInMaxSize (GET_NTB_PARAMETERS, or the host's SET_NTB_INPUT_SIZE), or a bulk OUT transfer longer than dwNtbOutMaxSize",
	Causes: []string{
		"the device ignores SET_NTB_INPUT_SIZE (the host asked for smaller NTBs than its default)",
		"the host builds NTBs to its own size, not the device's dwNtbOutMaxSize",
		"device firmware bug in its NTB size accounting",
	},
	Try: []string{
		"compare the GET_NTB_PARAMETERS answer and SET_NTB_INPUT_SIZE in the trace with the transfer sizes cited",
		"do not send SET_NTB_INPUT_SIZE to a device that ignores it (Linux's cdc_ncm quirk) and size RX URBs to dwNtbInMaxSize",
	},
}

// ntbOversize follows the negotiated sizes through the control requests
// and measures each NTB (one bulk transfer).
type ntbOversize struct {
	inMax, outMax int // 0: not negotiated in the trace
	pendIn        int // SET_NTB_INPUT_SIZE submitted, not completed
	hits          [8]struct {
		rec, n, max int
		in          bool
		t           time.Time
	}
	nhits, total int
}

func (r *ntbOversize) Info() usbnet.RuleInfo { return ntbOversizeInfo }

func (r *ntbOversize) Observe(e *usbnet.Event) {
	switch {
	case e.HasSetup && e.Setup.RequestType&0x60 == hw.TypeClass:
		s := e.Setup
		switch {
		case s.Request == ReqGetNTBParameters && s.In() && e.Kind == usbnet.EventComplete && e.Status == 0 && len(e.Data) >= 20:
			r.inMax = int(binary.LittleEndian.Uint32(e.Data[4:]))
			r.outMax = int(binary.LittleEndian.Uint32(e.Data[16:]))
		case s.Request == ReqSetNTBInputSize && !s.In() && e.Kind == usbnet.EventSubmit && len(e.Data) >= 4:
			r.pendIn = int(binary.LittleEndian.Uint32(e.Data))
		case s.Request == ReqSetNTBInputSize && !s.In() && e.Kind == usbnet.EventComplete:
			if e.Status == 0 && r.pendIn >= 0 {
				r.inMax = r.pendIn
			}
			r.pendIn = -1
		}
	case e.Kind == usbnet.EventTransfer:
		max := r.outMax
		if e.In() {
			max = r.inMax
		}
		if max <= 0 || e.Length <= max {
			return
		}
		r.total++
		if r.nhits < len(r.hits) {
			h := &r.hits[r.nhits]
			h.rec, h.n, h.max, h.in, h.t = e.Record, e.Length, max, e.In(), e.Time
			r.nhits++
		}
	}
}

func (r *ntbOversize) Verdict(time.Time) *usbnet.Finding {
	if r.total == 0 {
		return nil
	}
	f := usbnet.NewFinding(ntbOversizeInfo, fmt.Sprintf("%d NTB(s) larger than negotiated", r.total))
	for _, h := range r.hits[:r.nhits] {
		dir, field := "bulk OUT", "dwNtbOutMaxSize"
		if h.in {
			dir, field = "bulk IN", "dwNtbInMaxSize"
		}
		f.Cite(h.rec, h.t, fmt.Sprintf("%s NTB of %d bytes, %s %d", dir, h.n, field, h.max))
	}
	return f
}
