package soak

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"dongle/usbnet"
)

// Kind is a fault kind.
type Kind int

// The fault kinds, in the order they are injected.
const (
	Stall   Kind = iota // a bulk endpoint halted (IN and OUT in turn)
	Timeout             // a bulk transfer timed out (OUT and IN in turn)
	Unplug              // the device removed, then a fresh one bound
	Short               // a control IN answered short at a rebind
	numKinds
)

var kindNames = [numKinds]string{"stall", "timeout", "unplug", "short"}

func (k Kind) String() string {
	if k < 0 || k >= numKinds {
		return fmt.Sprintf("Kind(%d)", int(k))
	}
	return kindNames[k]
}

// AllKinds are every fault kind.
func AllKinds() []Kind { return []Kind{Stall, Timeout, Unplug, Short} }

var (
	// ErrConfig: the run was asked for something it cannot do.
	ErrConfig = errors.New("soak: bad configuration")
	// ErrUnknownFault: --faults names no fault kind.
	ErrUnknownFault = fmt.Errorf("%w: unknown fault kind", ErrConfig)
	// ErrLost: a frame is unaccounted for.
	ErrLost = errors.New("soak: frames unaccounted for")
	// ErrCounters: the driver's counters exceed what was offered.
	ErrCounters = errors.New("soak: counters do not add up")
	// ErrFrame: a frame arrived corrupted, duplicated or out of order.
	ErrFrame = errors.New("soak: bad frame")
	// ErrNotRecovered: the driver did not recover from a fault in time.
	ErrNotRecovered = errors.New("soak: fault not recovered")
	// ErrLeak: a buffer or goroutine outlived the run.
	ErrLeak = errors.New("soak: leak")
	// ErrDevice: the device could not be opened, bound or brought up.
	ErrDevice = errors.New("soak: device")
)

// ParseFaults parses a comma-separated list of fault kinds ("" and "none":
// none; "all": every kind).
func ParseFaults(s string) ([]Kind, error) {
	s = strings.TrimSpace(s)
	switch s {
	case "", "none":
		return nil, nil
	case "all":
		return AllKinds(), nil
	}
	var out []Kind
	seen := map[Kind]bool{}
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		k := Kind(-1)
		for i, n := range kindNames {
			if n == f {
				k = Kind(i)
			}
		}
		if k < 0 {
			return nil, fmt.Errorf("%w %q (have %s)", ErrUnknownFault, f, strings.Join(kindNames[:], ", "))
		}
		if !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
	}
	return out, nil
}

// Config is one soak run.
type Config struct {
	// Backend names the device for messages and the summary ("sim:ecm").
	Backend string
	// Open opens the device (again after an unplug).
	Open Opener
	// Duration and Frames end the run, whichever comes first (Frames
	// counts both directions); at least one must be set.
	Duration time.Duration
	Frames   uint64
	// Faults are the kinds to inject, in turn, Rate times a second, or,
	// with FaultEvery, once every FaultEvery frames offered (both ways):
	// a schedule that does not depend on the machine's speed.
	Faults     []Kind
	Rate       float64
	FaultEvery uint64
	// MinSize and MaxSize bound the frame length (link header included,
	// no FCS); lengths cycle through the range. 0: 60 and 1514.
	MinSize, MaxSize int
	// Window is the most frames in flight each way (0: 32). The model's
	// IN FIFO holds 64 device writes: a wider window would overrun it.
	Window int
	// RecoverWithin bounds each recovery (0: 5 s); Settle is how long a
	// quiesce waits without any frame moving before it counts what is
	// missing (0: 200 ms).
	RecoverWithin, Settle time.Duration
	// TraceBytes is the USB trace ring's size (0: 16 MiB; at least
	// record.MinRingBytes).
	TraceBytes int
	// Progress, if set, is called a few times a second with the run so
	// far.
	Progress func(s *Summary)
	// Bound, if set, is called with each driver bound (tests reach the
	// driver through it).
	Bound func(d *usbnet.Dev)
}

func (c *Config) defaults() error {
	if c.Open == nil {
		return fmt.Errorf("%w: no device", ErrConfig)
	}
	if c.Duration <= 0 && c.Frames == 0 {
		return fmt.Errorf("%w: neither a duration nor a frame count", ErrConfig)
	}
	if c.MinSize == 0 {
		c.MinSize = 60
	}
	if c.MaxSize == 0 {
		c.MaxSize = 1514
	}
	if c.MinSize < minFrame || c.MaxSize < c.MinSize || c.MaxSize > 1514 {
		return fmt.Errorf("%w: frame sizes %d-%d (want %d <= min <= max <= 1514)", ErrConfig, c.MinSize, c.MaxSize, minFrame)
	}
	if c.Window == 0 {
		c.Window = 32
	}
	if c.Window < 1 || c.Window > 64 {
		return fmt.Errorf("%w: window %d (want 1..64)", ErrConfig, c.Window)
	}
	if c.RecoverWithin == 0 {
		c.RecoverWithin = 5 * time.Second
	}
	if c.Settle == 0 {
		c.Settle = 200 * time.Millisecond
	}
	if c.TraceBytes == 0 {
		c.TraceBytes = 16 << 20
	}
	if len(c.Faults) > 0 && c.Rate <= 0 && c.FaultEvery == 0 {
		return fmt.Errorf("%w: faults %v at rate %v (want > 0 a second, or a fault every N frames)", ErrConfig, c.Faults, c.Rate)
	}
	return nil
}
