package rtl8153

import (
	"encoding/binary"
	"time"
)

// The interrupt endpoint (0x83, 2 bytes) carries the link state: le16 with
// INTR_LINK while the link is up.
//
// The chip reports it every bInterval while the host polls, not only on a
// change. r8152 requires that: rtl8152_open clears the carrier and then
// waits for an interrupt packet with INTR_LINK to set it again, while the
// link has been up since probe (rtl_hw_phy_work_func_t negotiated it), so a
// chip that reported only changes would never get a carrier after open. A
// change is reported at once; the periodic report follows the endpoint's
// bInterval, 16 ms at every speed (8 as 2^(8-1) microframes above full
// speed, 16 frames at full speed).
const intrPeriod = 16 * time.Millisecond

// Poll implements sim.Poller: the host waits on the interrupt endpoint
// with nothing queued; report the link state one interval from now.
func (m *Model) Poll(ep uint8) {
	if ep != EPIntr {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.detach || m.intPending {
		return
	}
	m.intPending = true
	if m.intTimer == nil {
		m.intTimer = time.AfterFunc(intrPeriod, m.intTick)
	} else {
		m.intTimer.Reset(intrPeriod)
	}
}

func (m *Model) intTick() {
	m.mu.Lock()
	if m.detach {
		m.mu.Unlock()
		return
	}
	m.intPending = false
	if m.host.Waiting(EPIntr) == 0 || m.host.Queued(EPIntr) > 0 {
		m.mu.Unlock()
		return
	}
	m.mu.Unlock()
	m.report()
}

// report queues one interrupt packet with the current link state.
func (m *Model) report() {
	m.mu.Lock()
	v := uint16(0)
	if m.phy.link {
		v = intrLink
	}
	binary.LittleEndian.PutUint16(m.intBuf[:], v)
	p := m.intBuf
	m.mu.Unlock()
	err := m.host.SendIn(EPIntr, p[:])
	m.mu.Lock()
	if err == nil {
		m.stats.Interrupts++
	} else {
		m.stats.IntDropped++
	}
	m.mu.Unlock()
}

// linkEventLocked returns what to do after the lock is released if the
// link changed: report it on the interrupt endpoint.
func (m *Model) linkEventLocked(before bool) func() {
	if m.phy.link == before {
		return nil
	}
	if !m.phy.link {
		m.agg.reset()
		m.timer.Disarm()
	}
	return m.report
}

// PlugCable connects a link partner with the given best speed (1000, 100,
// 10) and duplex; if the PHY is powered, the link comes up and is
// reported.
func (m *Model) PlugCable(mbps int, full bool) {
	m.mu.Lock()
	before := m.phy.link
	m.cfg.NoCable, m.cfg.LinkMbps, m.cfg.HalfDuplex = false, mbps, !full
	m.phy.negotiate(m.cfg)
	ev := m.linkEventLocked(before)
	m.mu.Unlock()
	if ev != nil {
		ev()
	}
}

// UnplugCable removes the link partner: link down, reported.
func (m *Model) UnplugCable() {
	m.mu.Lock()
	before := m.phy.link
	m.cfg.NoCable = true
	m.phy.negotiate(m.cfg)
	ev := m.linkEventLocked(before)
	m.mu.Unlock()
	if ev != nil {
		ev()
	}
}
