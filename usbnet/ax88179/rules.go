package ax88179

import (
	"encoding/binary"
	"fmt"
	"time"

	"dongle/hw"
	"dongle/usbnet"
)

// ax88179_178a's own failure rules (see usbnet/failure.go): the RX
// header's checksum error bits.
var _ usbnet.RuleSource = (*Driver)(nil)

// FailureRules implements usbnet.RuleSource.
func (*Driver) FailureRules(*usbnet.Capture) []usbnet.Rule { return []usbnet.Rule{newCsumRule()} }

var csumInfo = usbnet.RuleInfo{
	Name: "checksum-fail", Severity: usbnet.SeverityWarning,
	Title:   "the chip marked received frames' checksums as wrong",
	Trigger: "any AX88179/178A RX packet header with AX_RXHDR_L3CSUM_ERR or AX_RXHDR_L4CSUM_ERR set",
	Causes: []string{
		"frames corrupted on the wire (cable, duplex mismatch) that still passed the Ethernet CRC",
		"a link partner or tunnel sending bad checksums (offload bugs on the sender)",
		"the chip's checksum engine misreading a protocol it does not know (VLAN, tunnels)",
	},
	Try: []string{
		"compare with a capture on the far end: bad on the wire, or only here",
		"turn RX checksum offload off (ethtool -K rx off) to see whether the stack agrees",
	},
}

// csumRule walks each bulk IN transfer's packet headers (Walk: no copy,
// no allocation) with RX_CTL.IPE as the host last started RX with.
type csumRule struct {
	ipe     bool
	pendIPE int // RX_CTL written, not yet completed: -1 none, else 0/1
	bad     int
	tally   usbnet.TransferTally
	fn      func(Frame)
}

func newCsumRule() *csumRule {
	r := &csumRule{ipe: true, pendIPE: -1}
	r.fn = func(f Frame) {
		if f.Hdr&(RxHdrL3CsumErr|RxHdrL4CsumErr) != 0 {
			r.bad++
		}
	}
	return r
}

func (r *csumRule) Info() usbnet.RuleInfo { return csumInfo }

func (r *csumRule) Observe(e *usbnet.Event) {
	switch {
	case e.HasSetup && e.Setup.RequestType&0x60 == hw.TypeVendor && !e.Setup.In() && e.Setup.Request == AccessMAC && e.Setup.Value == RegRxCtl:
		// RX_CTL's IPE decides where each packet starts; a stop (no
		// RX_CTL_START) leaves the last one RX ran with.
		if e.Kind == usbnet.EventSubmit && len(e.Data) >= 2 {
			r.pendIPE = -1
			if v := binary.LittleEndian.Uint16(e.Data); v&RxCtlStart != 0 {
				r.pendIPE = 0
				if v&RxCtlIPE != 0 {
					r.pendIPE = 1
				}
			}
		} else if e.Kind == usbnet.EventComplete && e.Status == 0 && r.pendIPE >= 0 {
			r.ipe, r.pendIPE = r.pendIPE == 1, -1
		}
	case e.Kind == usbnet.EventTransfer && e.In() && len(e.Data) >= e.Length && e.Length > 0:
		r.bad = 0
		Walk(e.Data, r.ipe, r.fn) // a framing error is decode's to report
		r.tally.Add(e, r.bad)
	}
}

func (r *csumRule) Verdict(time.Time) *usbnet.Finding {
	if r.tally.Total == 0 {
		return nil
	}
	f := usbnet.NewFinding(csumInfo, fmt.Sprintf("%d RX frame(s) with a checksum the AX88179 found wrong", r.tally.Total))
	r.tally.Cite(f, func(n int) string {
		return fmt.Sprintf("bulk IN transfer with %d packet(s) marked L3/L4 checksum error", n)
	})
	return f
}
