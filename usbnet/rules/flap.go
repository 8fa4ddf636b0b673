package rules

import (
	"fmt"
	"time"

	"dongle/usbnet"
)

// A flap is FlapDowns link losses within FlapWindow after the link first
// came up: one cable pull is a person, not a fault; a link down before the
// first up is bring-up (autonegotiation).
const (
	FlapDowns  = 3
	FlapWindow = time.Minute
)

var linkFlapInfo = usbnet.RuleInfo{
	Name: "link-flap", Severity: usbnet.SeverityError,
	Title:   "the link goes down and up again and again",
	Trigger: "3 link-down events within 60 s after the link first came up (CDC NETWORK_CONNECTION or the chip's link bit)",
	Causes: []string{
		"a bad cable or connector; a link partner renegotiating (EEE, speed/duplex mismatch, green Ethernet)",
		"the PHY losing power or being reset by the driver (autosuspend of the PHY, a reset after TX timeouts)",
		"the device's firmware reporting link on every configuration change",
	},
	Try: []string{
		"another cable and switch port; force speed/duplex on both ends",
		"disable EEE (ethtool --set-eee) and autosuspend; watch whether the flaps follow TX timeouts",
	},
}

type linkFlap struct {
	seenUp bool
	up     bool
	downs  [FlapDowns]time.Time // ring of the last downs
	head   int
	ndown  int
	fired  bool
	trans  citeList // the transitions after the first up
}

func (r *linkFlap) Info() usbnet.RuleInfo { return linkFlapInfo }

func (r *linkFlap) Observe(e *usbnet.Event) {
	switch e.Kind {
	case usbnet.EventLife:
		// A new life brings the link up again: its downs are counted
		// afresh (the device vanishing is device-vanished's).
		r.seenUp, r.up, r.ndown, r.downs, r.head = false, false, 0, [FlapDowns]time.Time{}, 0
		return
	case usbnet.EventLink:
	default:
		return
	}
	if !r.seenUp {
		r.seenUp, r.up = e.Up, e.Up
		return
	}
	if e.Up == r.up {
		return
	}
	r.up = e.Up
	up := 0
	if e.Up {
		up = 1
	}
	r.trans.add(cite{rec: e.Record, t: e.Time, n: up})
	if e.Up {
		return
	}
	r.downs[r.head] = e.Time
	r.head = (r.head + 1) % FlapDowns
	r.ndown++
	if r.ndown >= FlapDowns && e.Time.Sub(r.downs[r.head]) <= FlapWindow {
		r.fired = true
	}
}

func (r *linkFlap) Verdict(time.Time) *usbnet.Finding {
	if !r.fired {
		return nil
	}
	f := usbnet.NewFinding(linkFlapInfo, fmt.Sprintf("the link went down %d times after it first came up (%d transitions)", r.ndown, r.trans.total))
	r.trans.evidence(f, func(c cite) string {
		if c.n == 1 {
			return "link up"
		}
		return "link down"
	})
	return f
}
