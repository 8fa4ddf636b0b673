package rules

import (
	"fmt"
	"io"
	"strings"
	"time"

	"dongle/hw"
	"dongle/usbnet"
)

// MaxBuckets bounds a Timeline: when a trace outgrows it, neighbouring
// intervals are merged and the interval doubles.
const MaxBuckets = 512

// FirstInterval is a Timeline's interval until the trace outgrows
// MaxBuckets of it.
const FirstInterval = 10 * time.Millisecond

// Status columns a Timeline counts errors in (the last is every other).
var timelineStatuses = [...]int32{stEPROTO, stETIMEDOUT, stEPIPE, stENODEV, stESHUTDOWN, stEOVERFLOW, stEILSEQ, stEREMOTEIO}

// Bucket is one interval of a Timeline.
type Bucket struct {
	RxFrames, TxFrames int `json:",omitempty"`
	RxBytes, TxBytes   int `json:",omitempty"` // bulk transfer bytes
	// Errors are failed URBs by status (timelineStatuses order, then
	// every other status; cancellations are not errors).
	Errors   [len(timelineStatuses) + 1]int
	Controls int `json:",omitempty"` // control requests submitted
	// Link is the link state at the interval's end: 0 unknown, 1 down,
	// 2 up; LinkChanges how often it changed within. A device that went
	// (-ENODEV, -ESHUTDOWN) or appeared afresh has no known link until it
	// reports one.
	Link        uint8
	LinkChanges int `json:",omitempty"`
	Lives       int `json:",omitempty"` // the device (re)appearing
	Configs     int `json:",omitempty"` // SET_CONFIGURATION requests (enumerations)
}

// Failed sums the errors of the bucket.
func (b *Bucket) Failed() int {
	n := 0
	for _, e := range b.Errors {
		n += e
	}
	return n
}

func (b *Bucket) add(o *Bucket) {
	b.RxFrames += o.RxFrames
	b.TxFrames += o.TxFrames
	b.RxBytes += o.RxBytes
	b.TxBytes += o.TxBytes
	for i := range b.Errors {
		b.Errors[i] += o.Errors[i]
	}
	b.Controls += o.Controls
	b.LinkChanges += o.LinkChanges
	b.Lives += o.Lives
	b.Configs += o.Configs
	b.Link = o.Link // o is the later interval: its end is the merged one's
}

// Timeline is a trace's activity per interval, kept as events stream by:
// at most MaxBuckets intervals, from the first event's time.
type Timeline struct {
	Start    time.Time
	Interval time.Duration
	Buckets  []Bucket
	link     uint8
}

// NewTimeline returns an empty timeline.
func NewTimeline() *Timeline {
	return &Timeline{Interval: FirstInterval, Buckets: make([]Bucket, 0, MaxBuckets)}
}

// Observe adds one event.
func (t *Timeline) Observe(e *usbnet.Event) {
	if e.Time.IsZero() {
		return
	}
	if t.Start.IsZero() {
		t.Start = e.Time
	}
	d := max(e.Time.Sub(t.Start), 0) // a capture's clock stepping back: the first interval
	for int(d/t.Interval) >= MaxBuckets {
		t.coarsen()
	}
	i := int(d / t.Interval)
	for len(t.Buckets) <= i {
		t.Buckets = append(t.Buckets, Bucket{Link: t.link})
	}
	b := &t.Buckets[i]
	switch e.Kind {
	case usbnet.EventTransfer:
		if e.In() {
			b.RxFrames += e.Frames
			b.RxBytes += e.Length
		} else {
			b.TxFrames += e.Frames
			b.TxBytes += e.Length
		}
	case usbnet.EventComplete, usbnet.EventSubmitError:
		if e.Status != 0 && !cancelled(e.Status) {
			j := len(timelineStatuses)
			for k, s := range timelineStatuses {
				if s == e.Status {
					j = k
				}
			}
			b.Errors[j]++
			if gone(e.Status) {
				t.link, b.Link = 0, 0
			}
		}
	case usbnet.EventSubmit:
		if e.Xfer == hw.XferControl {
			b.Controls++
			if e.HasSetup && e.Setup.RequestType == 0 && e.Setup.Request == hw.ReqSetConfiguration {
				b.Configs++
			}
		}
	case usbnet.EventLink:
		t.link = 1
		if e.Up {
			t.link = 2
		}
		b.Link = t.link
		b.LinkChanges++
	case usbnet.EventLife:
		b.Lives++
		t.link, b.Link = 0, 0
	}
}

// coarsen merges neighbouring buckets and doubles the interval.
func (t *Timeline) coarsen() {
	n := (len(t.Buckets) + 1) / 2
	for i := 0; i < n; i++ {
		b := t.Buckets[2*i]
		if 2*i+1 < len(t.Buckets) {
			b.add(&t.Buckets[2*i+1])
		}
		t.Buckets[i] = b
	}
	t.Buckets = t.Buckets[:n]
	t.Interval *= 2
}

// Rows returns the timeline merged to at most n rows (n ≥ 1), with the
// interval each covers.
func (t *Timeline) Rows(n int) ([]Bucket, time.Duration) {
	k := 1
	for (len(t.Buckets)+k-1)/k > n {
		k *= 2
	}
	var out []Bucket
	for i := 0; i < len(t.Buckets); i += k {
		var b Bucket
		for j := i; j < min(i+k, len(t.Buckets)); j++ {
			b.add(&t.Buckets[j])
		}
		out = append(out, b)
	}
	return out, t.Interval * time.Duration(k)
}

// StatusLabel names error column i of a Bucket.
func StatusLabel(i int) string {
	if i < len(timelineStatuses) {
		return statusName(timelineStatuses[i])
	}
	return "other"
}

// WriteText prints the timeline, at most rows lines: per interval frames
// and bytes each way, failed URBs by status, link state, control requests,
// configurations set and device lives.
func (t *Timeline) WriteText(w io.Writer, rows int) {
	bs, iv := t.Rows(rows)
	fmt.Fprintf(w, "Timeline: %d interval(s) of %v from %s\n", len(bs), iv, t.Start.UTC().Format("15:04:05.000"))
	fmt.Fprintf(w, "  %10s %8s %10s %8s %10s %-5s %5s  %s\n", "t", "rx fr", "rx bytes", "tx fr", "tx bytes", "link", "ctrl", "errors / events")
	for i, b := range bs {
		link := [...]string{"?", "down", "up"}[b.Link]
		if b.LinkChanges > 0 {
			link += "*"
		}
		var ev []string
		for j, n := range b.Errors {
			if n > 0 {
				ev = append(ev, fmt.Sprintf("%s×%d", StatusLabel(j), n))
			}
		}
		if b.Configs > 0 {
			ev = append(ev, fmt.Sprintf("SET_CONFIGURATION×%d", b.Configs))
		}
		if b.Lives > 0 {
			ev = append(ev, fmt.Sprintf("device appears×%d", b.Lives))
		}
		fmt.Fprintf(w, "  %10s %8d %10d %8d %10d %-5s %5d  %s\n", (iv * time.Duration(i)).String(), b.RxFrames, b.RxBytes, b.TxFrames, b.TxBytes, link, b.Controls, strings.Join(ev, " "))
	}
}
