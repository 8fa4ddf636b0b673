package usbmon

import (
	"context"
	"errors"
	"fmt"
)

// Source is the kernel side of a live capture: the events one usbmon reader
// sees, one at a time. Live (the /dev/usbmonN binary API) is the real one;
// usbmontest.Source replays records for tests.
type Source interface {
	// Next blocks until the next event or until ctx is done (then it
	// returns ctx.Err()). The event is one mon_bin_hdr (HeaderLenMmapped
	// bytes, host byte order) followed by the data the kernel captured
	// (iso descriptors first); it is valid until the next call.
	Next(ctx context.Context) ([]byte, error)
	// Dropped is the number of events the kernel discarded so far because
	// the reader's ring was full (MON_IOCG_STATS, accumulated).
	Dropped() (uint64, error)
	// Close releases the source. Call it after Next has returned.
	Close() error
}

// CaptureOptions select what Capture keeps.
type CaptureOptions struct {
	// Device keeps only events of this device address (devnum); 0 keeps
	// every device on the source's bus(es). Note that a device's first
	// requests during enumeration go to address 0 and are not kept.
	Device uint8
}

// CaptureStats counts what Capture did. Every event read from the source is
// either Written or Filtered.
type CaptureStats struct {
	Written  int    // events written
	Filtered int    // events of other devices (CaptureOptions.Device)
	Dropped  uint64 // events the kernel dropped (ring full); they are in no count above
}

func (s CaptureStats) String() string {
	return fmt.Sprintf("%d events captured (%d of other devices skipped), %d dropped by the kernel", s.Written, s.Filtered, s.Dropped)
}

// Capture copies events from src to w until ctx is done (the normal end:
// the error is then nil) or something fails. Each event is decoded (and so
// checked: a short header, or data shorter than len_cap or disagreeing with
// it, is an error naming the event) and written as one link type 220
// record, so the file opens in Wireshark and in Reader.
//
// A live event is never cut: mon_bin_event caps an event's data at a fifth
// of the ring plus its iso descriptors, and Live's buffer is sized for that
// (maxEventData). So an event with fewer data bytes than len_cap is damage,
// reported as a TruncatedError, not kept.
//
// Capture reads the kernel's dropped count once, at the end; a non-zero
// count means the capture has holes (enlarge LiveOptions.RingSize).
func Capture(ctx context.Context, src Source, w *Writer, opts CaptureOptions) (CaptureStats, error) {
	var st CaptureStats
	var rec Record
	for i := 0; ; i++ { // i: index of the event from the source
		ev, err := src.Next(ctx)
		if err != nil {
			if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
				break
			}
			return st, fmt.Errorf("usbmon capture: after %d events: %w", i, err)
		}
		if err := Decode(ev, LinkTypeMmapped, &rec); err != nil {
			return st, fmt.Errorf("usbmon capture: kernel event %d: %w", i, err)
		}
		if opts.Device != 0 && rec.Device != opts.Device {
			st.Filtered++
			continue
		}
		if err := w.Write(&rec); err != nil {
			return st, fmt.Errorf("usbmon capture: writing event %d: %w", i, err)
		}
		st.Written++
	}
	d, err := src.Dropped()
	st.Dropped = d
	if err != nil {
		return st, fmt.Errorf("usbmon capture: dropped-event count: %w", err)
	}
	return st, nil
}

// LiveOptions configure OpenLive.
type LiveOptions struct {
	// RingSize is the kernel ring buffer size in bytes (MON_IOCT_RING_SIZE),
	// RingMin..RingMax; 0 means RingMax. A larger ring drops fewer events
	// when the reader falls behind.
	RingSize int
	// Path overrides the device node (default /dev/usbmonN).
	Path string
}

// LiveError is a failure of a usbmon character device: Op is "open" or
// the ioctl ("MON_IOCX_GETX", ...), Err the errno, Hint what to do.
type LiveError struct {
	Path string
	Op   string
	Err  error
	Hint string
}

func (e *LiveError) Error() string {
	s := fmt.Sprintf("usbmon: %s %s: %v", e.Op, e.Path, e.Err)
	if e.Hint != "" {
		s += " (" + e.Hint + ")"
	}
	return s
}

func (e *LiveError) Unwrap() error { return e.Err }

// NodePath is the binary API's node for a bus: /dev/usbmon0 is every bus.
func NodePath(bus int) string { return fmt.Sprintf("/dev/usbmon%d", bus) }
