package rules

import (
	"fmt"
	"time"

	"dongle/hw"
	"dongle/usbnet"
)

var rxOverflowInfo = usbnet.RuleInfo{
	Name: "rx-overflow", Severity: usbnet.SeverityError,
	Title:   "the device sent more than the host's bulk IN buffer (babble)",
	Trigger: "any bulk IN URB completing -EOVERFLOW: a device that respects the negotiated sizes never does",
	Causes: []string{
		"the host's RX URB is smaller than what the device aggregates (rx_urb_size below the chip's bulk-in aggregation size or the NCM NTB input size)",
		"an MTU change not told to the chip (jumbo frames arriving into 1518-byte URBs)",
		"device firmware ignoring the size it was configured with",
	},
	Try: []string{
		"compare rx_urb_size (dongle diag) with the chip's aggregation limit or dwNtbInMaxSize",
		"lower the MTU or set the chip's RX aggregation size; for NCM check SET_NTB_INPUT_SIZE",
	},
}

type rxOverflow struct{ hits citeList }

func (r *rxOverflow) Info() usbnet.RuleInfo { return rxOverflowInfo }

func (r *rxOverflow) Observe(e *usbnet.Event) {
	if e.Kind == usbnet.EventComplete && e.Xfer == hw.XferBulk && e.In() && e.Status == stEOVERFLOW {
		r.hits.add(cite{rec: e.Record, t: e.Time, n: int(e.Endpoint)})
	}
}

func (r *rxOverflow) Verdict(time.Time) *usbnet.Finding {
	if r.hits.total == 0 {
		return nil
	}
	f := usbnet.NewFinding(rxOverflowInfo, fmt.Sprintf("%d bulk IN URB(s) completed -EOVERFLOW (babble)", r.hits.total))
	r.hits.evidence(f, func(c cite) string { return fmt.Sprintf("endpoint %#02x completed -75 EOVERFLOW", c.n) })
	return f
}
