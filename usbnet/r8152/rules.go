package r8152

import (
	"fmt"
	"time"

	"dongle/usbnet"
)

// r8152's own failure rules (see usbnet/failure.go): the RX descriptor's
// checksum-fail bits.
var _ usbnet.RuleSource = (*Driver)(nil)

// FailureRules implements usbnet.RuleSource.
func (*Driver) FailureRules(*usbnet.Capture) []usbnet.Rule { return []usbnet.Rule{newCsumRule()} }

// CsumFailed reports whether the chip checked a checksum of the frame
// and found it wrong (IPF, TCPF or UDPF with the matching checked bit):
// rtl8152_rx_csum's CHECKSUM_NONE for a bad packet, not for an unchecked
// one.
func (r RxDesc) CsumFailed() bool {
	return r.Opts2&RxIPv4CS != 0 && r.Opts3&RxIPF != 0 ||
		r.Opts2&RxTCPCS != 0 && r.Opts3&RxTCPF != 0 ||
		r.Opts2&RxUDPCS != 0 && r.Opts3&RxUDPF != 0
}

var csumInfo = usbnet.RuleInfo{
	Name: "checksum-fail", Severity: usbnet.SeverityWarning,
	Title:   "the chip marked received frames' checksums as wrong",
	Trigger: "any RTL8152/8153 RX descriptor with IPF, TCPF or UDPF set for a checksum it checked (opts2 RD_IPV4_CS, RD_TCP_CS, RD_UDP_CS)",
	Causes: []string{
		"frames corrupted on the wire (cable, duplex mismatch) that still passed the Ethernet CRC",
		"a link partner or tunnel sending bad checksums (offload bugs on the sender)",
		"the chip's checksum engine misreading a protocol it does not know (VLAN, tunnels) on old firmware",
	},
	Try: []string{
		"compare with a capture on the far end: bad on the wire, or only here",
		"turn RX checksum offload off (ethtool -K rx off) to see whether the stack agrees",
	},
}

// csumRule walks each bulk IN transfer's descriptors (Walk: no copy, no
// allocation) for frames the chip found bad.
type csumRule struct {
	bad   int // in the transfer being walked
	tally usbnet.TransferTally
	fn    func(Frame)
}

func newCsumRule() *csumRule {
	r := &csumRule{}
	r.fn = func(f Frame) {
		if f.Desc.CsumFailed() {
			r.bad++
		}
	}
	return r
}

func (r *csumRule) Info() usbnet.RuleInfo { return csumInfo }

func (r *csumRule) Observe(e *usbnet.Event) {
	if e.Kind != usbnet.EventTransfer || !e.In() || len(e.Data) < e.Length || e.Length == 0 {
		return
	}
	r.bad = 0
	Walk(e.Data, r.fn) // a framing error is decode's to report; frames before it count
	r.tally.Add(e, r.bad)
}

func (r *csumRule) Verdict(time.Time) *usbnet.Finding {
	if r.tally.Total == 0 {
		return nil
	}
	f := usbnet.NewFinding(csumInfo, fmt.Sprintf("%d RX frame(s) with a checksum the RTL8153 found wrong", r.tally.Total))
	r.tally.Cite(f, func(n int) string { return fmt.Sprintf("bulk IN transfer with %d frame(s) marked IPF/TCPF/UDPF", n) })
	return f
}
