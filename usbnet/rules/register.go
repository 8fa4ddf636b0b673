package rules

import (
	"fmt"
	"time"

	"dongle/hw"
	"dongle/usbnet"
)

// RegAllOnes is the shortest vendor read reported for being all 0xff: a
// 2-byte 0xffff is a blank EEPROM word or an all-ones multicast filter,
// but a whole dword of ones from a register is a chip that did not answer.
const RegAllOnes = 4

var registerAccessInfo = usbnet.RuleInfo{
	Name: "register-access", Severity: usbnet.SeverityError,
	Title:   "vendor (register) requests fail or return garbage",
	Trigger: "any vendor control request completing -ETIMEDOUT, -ETIME, -EPROTO, -EILSEQ, -EPIPE or -EREMOTEIO, or a vendor read returning fewer bytes than asked, or 4 or more bytes all 0xff",
	Causes: []string{
		"the chip is busy or hung (a register access during reset, a PHY still powering up)",
		"the driver addresses a register this chip revision does not have (wrong chip variant or firmware)",
		"signal or power problems corrupting control transfers",
	},
	Try: []string{
		"compare the chip version the driver read (dongle diag) with the register map it uses",
		"add the settling delay after resets the vendor driver uses; retry after a USB reset",
		"check the cable, port and power as for an error storm",
	},
}

type registerAccess struct{ hits citeList }

func (r *registerAccess) Info() usbnet.RuleInfo { return registerAccessInfo }

// problems of a completed vendor request (what: 1 failed, 2 short, 3 all 0xff).
func (r *registerAccess) Observe(e *usbnet.Event) {
	if e.Kind != usbnet.EventComplete || e.Xfer != hw.XferControl || !e.HasSetup || e.Setup.RequestType&0x60 != hw.TypeVendor {
		return
	}
	s := e.Setup
	c := cite{rec: e.Record, t: e.Time, status: e.Status, n: e.Length}
	switch e.Status {
	case 0:
	case stETIMEDOUT, stETIME, stEPROTO, stEILSEQ, stEPIPE, stEREMOTEIO:
		c.what = 1
		r.hits.add(c)
		return
	default:
		return // cancelled, or the device gone: other rules' business
	}
	if !s.In() || s.Length == 0 {
		return
	}
	switch {
	case e.Length < int(s.Length):
		c.what = 2
		r.hits.add(c)
	case e.Length >= RegAllOnes && len(e.Data) >= RegAllOnes && allOnes(e.Data):
		c.what = 3
		r.hits.add(c)
	}
}

func allOnes(p []byte) bool {
	for _, b := range p {
		if b != 0xff {
			return false
		}
	}
	return true
}

func (r *registerAccess) Verdict(time.Time) *usbnet.Finding {
	if r.hits.total == 0 {
		return nil
	}
	f := usbnet.NewFinding(registerAccessInfo, fmt.Sprintf("%d vendor request(s) failed or returned garbage", r.hits.total))
	r.hits.evidence(f, func(c cite) string {
		switch c.what {
		case 1:
			return "vendor request failed: " + statusName(c.status)
		case 2:
			return fmt.Sprintf("vendor read returned %d bytes, fewer than asked", c.n)
		}
		return fmt.Sprintf("vendor read returned %d bytes, all 0xff", c.n)
	})
	return f
}
