package soak

import (
	"bufio"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"dongle/usbnet"
)

// Summary is a run's result, as --json writes it.
type Summary struct {
	Backend string  `json:"backend"`
	Pass    bool    `json:"pass"`
	Failure string  `json:"failure,omitempty"`
	Seconds float64 `json:"seconds"`
	// FramesPerSecond counts both directions.
	FramesPerSecond float64   `json:"frames_per_second"`
	TX              Direction `json:"tx"`
	RX              Direction `json:"rx"`
	// Counters are the driver's, summed over every binding.
	Counters Counters `json:"counters"`
	// Faults are per kind (every configured kind is present).
	Faults   map[string]*FaultStats `json:"faults"`
	Bindings int                    `json:"bindings"`
	// OtherFrames are frames seen that were not soak's (none expected).
	OtherFrames uint64 `json:"other_frames"`
	BadFrames   uint64 `json:"bad_frames"`
	// LeakedSKBs and LeakedGoroutines are what outlived the run (the
	// specs' checks: skbuff.Live, gleak).
	LeakedSKBs       int `json:"leaked_skbs"`
	LeakedGoroutines int `json:"leaked_goroutines"`
	// RSSStartKB and RSSEndKB are the process's resident set (VmRSS; 0
	// where /proc is not there).
	// RSSWarmKB is sampled when the trace ring first fills (0 if it
	// never did): from then on the run needs no more memory, and RSSEndKB
	// should stay near it however long the run.
	RSSStartKB int64 `json:"rss_start_kb"`
	RSSWarmKB  int64 `json:"rss_warm_kb"`
	RSSEndKB   int64 `json:"rss_end_kb"`
	// AllocsPerFrame are heap allocations per frame over the stretches of
	// traffic between faults and progress reports (the whole process's).
	AllocsPerFrame float64 `json:"allocs_per_frame"`
	TraceRecords   int     `json:"trace_records"`
	TraceEvicted   uint64  `json:"trace_evicted"`
	TraceFile      string  `json:"trace_file,omitempty"`
	// Findings are what the failure rules (usbnet/rules) found in the
	// trace written on failure, most severe first; FindingsNote says why
	// that trace could not be judged.
	Findings     []usbnet.Finding `json:"findings,omitempty"`
	FindingsNote string           `json:"findings_note,omitempty"`
}

// Direction is one direction's frames. Offered = arrived + the driver's
// dropped and error counts + LostToFaults + Unaccounted when the run
// passes with Unaccounted 0.
type Direction struct {
	// Offered: TX frames given to Xmit; RX frames the wire took from the
	// peer's end.
	Offered uint64 `json:"offered"`
	// Arrived: TX frames on the wire; RX frames delivered to soak's
	// handler by the stack.
	Arrived      uint64 `json:"arrived"`
	LostToFaults uint64 `json:"lost_to_faults"`
	Unaccounted  uint64 `json:"unaccounted"`
	// NotTaken: RX frames the wire refused (nothing attached): not offered.
	NotTaken uint64 `json:"not_taken,omitempty"`
}

// Counters are the netdev counters soak accounts with, as ip -s link
// names them.
type Counters struct {
	TxPackets uint64 `json:"tx_packets"`
	TxDropped uint64 `json:"tx_dropped"`
	TxErrors  uint64 `json:"tx_errors"`
	RxPackets uint64 `json:"rx_packets"`
	RxDropped uint64 `json:"rx_dropped"`
	RxErrors  uint64 `json:"rx_errors"`
}

// FaultStats are one kind's faults.
type FaultStats struct {
	Injected  uint64 `json:"injected"`
	Recovered uint64 `json:"recovered"`
	LostTX    uint64 `json:"lost_tx"`
	LostRX    uint64 `json:"lost_rx"`
	// Reordered are frames (either way) that arrived after later ones
	// while the driver recovered.
	Reordered uint64 `json:"reordered"`
	// BindsRefused: short only, the binds that failed on the short
	// answer (each followed by one that succeeded).
	BindsRefused uint64 `json:"binds_refused,omitempty"`
	// Seconds is the time spent on this kind's faults (quiesces before
	// and after included), MaxMS the longest one.
	Seconds float64 `json:"seconds"`
	MaxMS   float64 `json:"max_ms"`
}

func newSummary(c Config) *Summary {
	s := &Summary{Backend: c.Backend, Faults: map[string]*FaultStats{}}
	for _, k := range c.Faults {
		s.Faults[k.String()] = &FaultStats{}
	}
	return s
}

// fill brings the summary's counts up to date.
func (r *run) fill(elapsed time.Duration) {
	s := r.sum
	s.Seconds = elapsed.Seconds()
	if s.Seconds > 0 {
		s.FramesPerSecond = float64(r.offered+r.sent) / s.Seconds
	}
	c := r.counts()
	s.Counters = Counters{c.txPackets, c.txDropped, c.txErrors, c.rxPackets, c.rxDropped, c.rxErrors}
	s.TX.Offered, s.TX.Arrived = r.offered, r.onWire.Load()
	s.RX.Offered, s.RX.Arrived = r.sent, r.delivered.Load()
	s.OtherFrames, s.BadFrames = r.others.Load(), r.bad.Load()
	if r.segFrames > 0 {
		s.AllocsPerFrame = float64(r.segMallocs) / float64(r.segFrames)
	}
	for k := range numKinds {
		if f := s.Faults[k.String()]; f != nil {
			f.Reordered = r.reordered[k].Load()
		}
	}
	s.TraceRecords, s.TraceEvicted = r.ring.Records(), r.ring.Evicted()
}

// rssKB is the process's VmRSS in KiB (0 if /proc/self/status cannot say).
func rssKB() int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	return vmRSS(f)
}

// vmRSS is the VmRSS line of a /proc/PID/status, in kB (0 if absent).
func vmRSS(r io.Reader) int64 {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return n
		}
	}
	return 0
}
