package specs

import (
	"errors"
	"fmt"

	. "github.com/onsi/ginkgo/v2"

	"dongle/usbnet/catalog"
)

// FilterFinding is what a device's receive filter really drops, and the
// finding about the device when that is less than its protocol asks
// (catalog.FilterFinding). The filter specs assert the device's real
// behaviour; a device that breaks its protocol is not skipped.
type FilterFinding = catalog.FilterFinding

// ErrFindingGone: a device no longer shows a behaviour recorded as a
// finding about it (it now does what its protocol says). The expectation
// is out of date: the spec fails until it is updated.
var ErrFindingGone = errors.New("known device finding no longer reproduces")

// ErrFilterLeak: a frame the device's filter should have dropped (by its
// protocol, or by the finding recorded for it) reached the driver.
var ErrFilterLeak = errors.New("a frame the device's filter must drop reached the driver")

// ReportFinding is the report entry name under which a spec records the
// device finding it checked (with the finding's evidence and the spec's
// own USB trace), so that findings are counted apart from skips.
const ReportFinding = "device-finding"

// filterProbe is a frame CDC's packet filter drops outside promiscuous
// (and, for a group, all-multicast) mode.
type filterProbe int

const (
	probeOtherUnicast      filterProbe = iota // unicast to another station
	probeUnsubscribedGroup                    // a multicast group the host did not join
)

func (p filterProbe) String() string {
	if p == probeOtherUnicast {
		return "another station's unicast"
	}
	return "an unsubscribed multicast group"
}

// passes reports whether f's device hands the host probe p.
func (p filterProbe) passes(f FilterFinding) bool {
	if p == probeOtherUnicast {
		return f.PassesOtherUnicast()
	}
	return f.PassesUnsubscribedGroup()
}

// filterVerdict checks whether a frame of kind p reached the driver (got)
// as device dev's filter f says. nil: as expected. ErrFindingGone: the
// device now drops what its finding says it passes. ErrFilterLeak: it
// passed what it should drop.
func filterVerdict(dev string, f FilterFinding, p filterProbe, got bool) error {
	want := p.passes(f)
	switch {
	case got == want:
		return nil
	case want:
		return fmt.Errorf("%w: %s on %s: it now drops %s, as its protocol says; update Expectations.Filter (the finding was: %s)", ErrFindingGone, f.Finding, dev, p, f.Finding)
	}
	return fmt.Errorf("%w: %s passed %s (its filter: %s)", ErrFilterLeak, dev, p, f.Filters)
}

// expectFiltered asserts that a frame of kind p reached the driver (got)
// as the backend's filter expectation says, and records the finding in
// the spec's report when the device showed it.
func (h *Harness) expectFiltered(p filterProbe, got bool) {
	GinkgoHelper()
	f := h.B.Expect().Filter
	if err := filterVerdict(h.B.Name(), f, p, got); err != nil {
		Fail(err.Error())
	}
	if got {
		h.finding(f)
	}
}

// seenFinding is a device finding a spec showed, as its report entry
// names it: what the device does, what the spec saw of it (the filter it
// has, or measured numbers), and where it is shown.
type seenFinding struct {
	finding, seen, evidence string
}

// finding notes that the spec saw f's finding: teardown keeps the USB
// trace as its evidence and adds the report entry.
func (h *Harness) finding(f FilterFinding) {
	if f.Finding != "" {
		h.sawFinding(f.Finding, f.Filters.String(), f.Evidence)
	}
}

// sawFinding notes a device finding the spec showed, with what it saw of
// it (the first one noted stays).
func (h *Harness) sawFinding(finding, seen, evidence string) {
	if h.found == nil {
		h.found = &seenFinding{finding: finding, seen: seen, evidence: evidence}
	}
}

// reportFinding keeps the trace of a spec that showed a device finding as
// finding-<spec>.pcap and names it in a ReportFinding entry, with the
// finding and its evidence. It reports whether the temporary trace must
// stay (it could not be copied and the entry names it).
func (h *Harness) reportFinding(name string) (keepTemp bool) {
	if h.found == nil {
		return false
	}
	trace, ok := h.copyTrace("finding-" + name)
	if !ok {
		trace, keepTemp = h.tracePath, true
	}
	AddReportEntry(ReportFinding, fmt.Sprintf("%s: %s (%s). Evidence: %s; this spec's USB trace: %s",
		h.B.Name(), h.found.finding, h.found.seen, h.found.evidence, trace), ReportEntryVisibilityAlways)
	return keepTemp
}
