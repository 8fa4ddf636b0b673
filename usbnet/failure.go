package usbnet

import (
	"time"

	"dongle/hw"
)

// What a trace says about the failures of a device: the events decoding
// streams to failure rules, and the rules' findings. The types are
// declared here, at the seam, so that a minidriver's own rules (r8152's
// checksum-fail bits, cdc_ncm's NTB sizes) live in its package and are
// found through the catalog by the optional RuleSource interface, while
// the generic rules live in usbnet/rules and decoding (usbnet/decode)
// knows no chip.

// EventKind is what an Event reports.
type EventKind uint8

const (
	// EventSubmit: a URB submitted (usbmon 'S'). Length is the URB's
	// buffer (IN) or the data it carries (OUT); a control URB has Setup,
	// and its OUT data in Data.
	EventSubmit EventKind = iota + 1
	// EventComplete: a URB completed (usbmon 'C'). Status is its status,
	// Length the bytes moved, Data the IN data the capture holds;
	// Submitted/SubmitRecord its submission (zero/0 when the capture
	// missed it); a control URB has its Setup.
	EventComplete
	// EventSubmitError: a submission failed (usbmon 'E'), with Status.
	EventSubmitError
	// EventPending: at the end of the trace, a URB still in flight
	// (Record and Time are its submission's).
	EventPending
	// EventTransfer: a bulk transfer put together (one URB, or QEMU's
	// packets up to a short one) and unframed: Length, Data (what the
	// capture holds), Frames found in it; Endpoint says the direction.
	EventTransfer
	// EventLink: the link state changed (Up, Mbps), from the status
	// endpoint as the driver's StatusDescriber reads it.
	EventLink
	// EventLife: the adapter appears at Bus.Address for the Life-th time
	// (1: the first record of the trace's device; 2, ...: re-enumerated
	// at a new address). Gap is the time since the previous life's last
	// record, PrevRecord that record.
	EventLife
)

// Event is one thing a trace shows, as decoding streams it. Data is valid
// during the call only; a rule keeps what it needs by value.
type Event struct {
	Kind     EventKind
	Record   int // tshark's frame.number (1-based) of the record
	Time     time.Time
	Xfer     uint8 // hw.XferControl, XferBulk, XferInterrupt, XferIsochronous
	Endpoint uint8 // with the direction bit (0x80: IN)
	Status   int32 // Linux's URB status: 0 or a negative errno
	Length   int
	Data     []byte
	HasSetup bool
	Setup    hw.Setup

	Submitted    time.Time // EventComplete: when the URB was submitted
	SubmitRecord int       // EventComplete: its submission's record (0: unknown)
	SubmitLength int       // EventComplete: its submission's Length (0: unknown)
	// HostView (EventSubmit): the submission is logged when the host
	// made it (the kernel's usbmon, status -EINPROGRESS; dongle's
	// recorder), not when the device served it (QEMU's pcap=, a device
	// model's own log): only then do gaps between submissions show when
	// the host was not reading.
	HostView bool

	Frames int // EventTransfer

	Up   bool // EventLink
	Mbps int

	Life       int // EventLife
	Bus        uint16
	Address    uint8
	Gap        time.Duration
	PrevRecord int
}

// In reports whether the event is of an IN endpoint.
func (e *Event) In() bool { return e.Endpoint&0x80 != 0 }

// Severity orders findings: the most severe is printed first.
type Severity uint8

const (
	SeverityWarning  Severity = iota + 1 // degrades, does not stop traffic
	SeverityError                        // traffic fails
	SeverityCritical                     // the device stops working
)

func (s Severity) String() string {
	switch s {
	case SeverityWarning:
		return "warning"
	case SeverityError:
		return "error"
	case SeverityCritical:
		return "critical"
	}
	return "severity?"
}

// MarshalText names the severity in JSON.
func (s Severity) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// RuleInfo is a rule's entry of the failure-mode catalogue.
type RuleInfo struct {
	Name     string   // kebab-case, as fixtures/failure-<name>.pcap
	Severity Severity // of its findings
	Title    string   // one line: what is wrong
	Trigger  string   // what fires it, with its thresholds
	Causes   []string // the likely causes
	Try      []string // what to try
}

// Rule is one failure mode, recognised as events stream by: it keeps
// bounded state (counters, a few cited records, a window), never the
// trace, and Observe allocates nothing in steady state. A Rule is used
// for one trace (or run) only.
type Rule interface {
	Info() RuleInfo
	// Observe sees one event.
	Observe(e *Event)
	// Verdict is called once after the last event (end: the trace's
	// last record time): a finding, or nil when the failure was not seen.
	Verdict(end time.Time) *Finding
}

// RuleSource is a minidriver's own failure rules, for its chips' failure
// modes (checksum-fail bits in its RX descriptors, its NTB limits): fresh
// instances each call. c is what the trace shows of the device (nil when
// only the catalogue is wanted).
type RuleSource interface {
	FailureRules(c *Capture) []Rule
}

// Evidence is one record a finding cites.
type Evidence struct {
	Record int       `json:"record"` // tshark's frame.number
	Time   time.Time `json:"time"`
	What   string    `json:"what"`
}

// Finding is a rule that fired: what it saw and where.
type Finding struct {
	Rule     string     `json:"rule"`
	Severity Severity   `json:"severity"`
	Summary  string     `json:"summary"`
	Evidence []Evidence `json:"evidence"`
	Causes   []string   `json:"causes"`
	Try      []string   `json:"try"`
}

// Cites reports whether the finding cites record n.
func (f *Finding) Cites(n int) bool {
	for _, e := range f.Evidence {
		if e.Record == n {
			return true
		}
	}
	return false
}

// NewFinding starts a finding of the rule described by info.
func NewFinding(info RuleInfo, summary string) *Finding {
	return &Finding{Rule: info.Name, Severity: info.Severity, Summary: summary, Causes: info.Causes, Try: info.Try}
}

// Cite adds one record to the evidence.
func (f *Finding) Cite(record int, t time.Time, what string) {
	f.Evidence = append(f.Evidence, Evidence{Record: record, Time: t, What: what})
}

// TransferTally counts what a chip rule finds per bulk transfer (frames
// whose descriptor marks a checksum failure, say) and keeps the first
// eight transfers that had any, to cite: bounded whatever the trace.
type TransferTally struct {
	Total int // everything counted
	hits  [8]struct {
		rec, n int
		t      time.Time
	}
	nhits int
}

// Add counts n found in the transfer of event e (nothing when n is 0).
func (c *TransferTally) Add(e *Event, n int) {
	if n == 0 {
		return
	}
	c.Total += n
	if c.nhits < len(c.hits) {
		c.hits[c.nhits].rec, c.hits[c.nhits].n, c.hits[c.nhits].t = e.Record, n, e.Time
		c.nhits++
	}
}

// Cite adds the kept transfers to f's evidence, each described by what
// (given the count found in it).
func (c *TransferTally) Cite(f *Finding, what func(n int) string) {
	for _, h := range c.hits[:c.nhits] {
		f.Cite(h.rec, h.t, what(h.n))
	}
}
