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
	Trigger: "an NTB on bulk IN longer than dwNtbInMaxSize (GET_NTB_PARAMETERS, or the host's SET_NTB_INPUT_SIZE), or on bulk OUT longer than dwNtbOutMaxSize: its transfer's length, or the block length its NTH declares",
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
// and measures each NTB (one bulk transfer). A host sizes its bulk IN URBs
// to the negotiated size (cdc_ncm's rx_max), so an oversize NTB from the
// device does not show as a longer transfer: the URB completes full and
// the rest comes in the next one (fixtures/failure-ntb-oversize.pcap:
// 16384 bytes of an NTB whose NTH16 says wBlockLength 17084). The NTH's
// block length is what the device meant to send, and is measured too.
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
		limit := r.outMax
		if e.In() {
			limit = r.inMax
		}
		// Each NTB of the transfer (a host may send full ones back to
		// back: Writer), by its length or its NTH's block length; the
		// last one runs to the transfer's end (whatever follows it is
		// its), unless the capture cut the transfer right where a
		// full-size NTB may be followed by more.
		n, last, lastBlock := 0, 0, 0
		for off, ntb := range NTBs(e.Data) {
			bl := blockLength(ntb)
			n, last, lastBlock = max(n, len(ntb), bl), off, bl
		}
		if rest := e.Length - last; len(e.Data) >= e.Length || lastBlock != limit || rest <= limit {
			n = max(n, rest)
		}
		if limit <= 0 || n <= limit {
			return
		}
		r.total++
		if r.nhits < len(r.hits) {
			h := &r.hits[r.nhits]
			h.rec, h.n, h.max, h.in, h.t = e.Record, n, limit, e.In(), e.Time
			r.nhits++
		}
	}
}

// blockLength is the block length the NTH at the start of p declares (0:
// no NTH, or a wBlockLength of 0, which NTB16 allows for a block that a
// short packet ends).
func blockLength(p []byte) int {
	switch {
	case len(p) >= 12 && binary.LittleEndian.Uint32(p) == SigNTH16:
		return int(binary.LittleEndian.Uint16(p[8:]))
	case len(p) >= 16 && binary.LittleEndian.Uint32(p) == SigNTH32:
		return int(binary.LittleEndian.Uint32(p[8:]))
	}
	return 0
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
		f.Cite(h.rec, h.t, fmt.Sprintf("%s NTB of %d bytes (transfer or NTH block length), %s %d", dir, h.n, field, h.max))
	}
	return f
}
