package rules

import (
	"fmt"
	"time"

	"dongle/hw"
	"dongle/usbnet"
)

// TxTimeout is usbnet's TX watchdog (TX_TIMEOUT_JIFFIES, 5 s): a bulk OUT
// URB in flight that long is unlinked by usbnet_tx_timeout. URBs unlinked
// sooner are ifdown's (usbnet_stop unlinks every URB, milliseconds after
// its submission), which is no failure.
const TxTimeout = 5 * time.Second

var txTimeoutInfo = usbnet.RuleInfo{
	Name: "tx-timeout", Severity: usbnet.SeverityCritical,
	Title:   "a bulk OUT transfer never completed: the device stopped taking frames",
	Trigger: "a bulk OUT URB unlinked (-ENOENT/-ECONNRESET) at least 5 s (usbnet's watchdog) after its submission, or still in flight at the end of a capture that went on 5 s past it",
	Causes: []string{
		"the device's TX path is wedged (firmware hang, TX FIFO stuck after an error, flow control held by PAUSE frames)",
		"the host controller lost the transfer (xHCI ring stall after suspend/resume)",
		"the link is down and the chip holds frames instead of dropping them",
	},
	Try: []string{
		"check the link and the far end (a switch port sending PAUSE)",
		"reset the device (usb_reset_device / unbind and bind) and see whether TX resumes",
		"disable USB autosuspend for the adapter (power/control=on); try another port or hub",
	},
}

type txTimeout struct {
	hits    citeList // [submission, unlink] pairs
	pending citeList // submissions still in flight at the end
}

func (r *txTimeout) Info() usbnet.RuleInfo { return txTimeoutInfo }

func (r *txTimeout) Observe(e *usbnet.Event) {
	if e.Xfer != hw.XferBulk || e.In() {
		return
	}
	switch e.Kind {
	case usbnet.EventComplete:
		if cancelled(e.Status) && !e.Submitted.IsZero() && e.Time.Sub(e.Submitted) >= TxTimeout {
			r.hits.add(cite{rec: e.SubmitRecord, t: e.Submitted, n: e.SubmitLength, what: 0})
			r.hits.add(cite{rec: e.Record, t: e.Time, status: e.Status, n: int(e.Time.Sub(e.Submitted) / time.Millisecond), what: 1})
		}
	case usbnet.EventPending:
		r.pending.add(cite{rec: e.Record, t: e.Time, n: e.Length})
	}
}

func (r *txTimeout) Verdict(end time.Time) *usbnet.Finding {
	var stuck []cite
	for _, c := range r.pending.list() {
		if end.Sub(c.t) >= TxTimeout {
			stuck = append(stuck, c)
		}
	}
	if r.hits.total == 0 && len(stuck) == 0 {
		return nil
	}
	f := usbnet.NewFinding(txTimeoutInfo, fmt.Sprintf("%d bulk OUT URB(s) unlinked after %v or more in flight, %d still in flight %v or more at the end", r.hits.total/2, TxTimeout, len(stuck), TxTimeout))
	r.hits.evidence(f, func(c cite) string {
		if c.what == 0 {
			return fmt.Sprintf("bulk OUT URB of %d bytes submitted", c.n)
		}
		return fmt.Sprintf("unlinked with %s after %d ms", statusName(c.status), c.n)
	})
	for _, c := range stuck {
		f.Cite(c.rec, c.t, fmt.Sprintf("bulk OUT URB of %d bytes submitted, never completed (%v before the end)", c.n, end.Sub(c.t).Round(time.Millisecond)))
	}
	return f
}
