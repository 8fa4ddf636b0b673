package replay

import (
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// DivergenceError is the first point where a driver under strict replay
// did something other than what the trace recorded.
type DivergenceError struct {
	Index    int    // index of the expected record in the trace (tshark frame Index+1)
	Expected string // the recorded submission, "control 80 06 0100 0000 0012" or "bulk OUT 0x02 60 bytes"
	Got      string // what the driver did
	Diff     string // hex diff of setup bytes or OUT data, when both sides have bytes
}

func (e *DivergenceError) Error() string {
	s := fmt.Sprintf("replay: diverged from the trace at record %d: expected %s, got %s", e.Index, e.Expected, e.Got)
	if e.Diff != "" {
		s += "\n" + e.Diff
	}
	return s
}

// hexDiff shows where want and got first differ, as two hex dump lines of
// at most 32 bytes starting on the 16-byte line holding the difference.
// It returns "" if they are equal.
func hexDiff(want, got []byte) string {
	i := 0
	for i < len(want) && i < len(got) && want[i] == got[i] {
		i++
	}
	if i == len(want) && i == len(got) {
		return ""
	}
	start := i &^ 15
	dump := func(b []byte) string {
		if start >= len(b) {
			return "(ends)"
		}
		end := min(start+32, len(b))
		s := hex.EncodeToString(b[start:end])
		var sb strings.Builder
		for j := 0; j < len(s); j += 2 {
			if j > 0 {
				sb.WriteByte(' ')
			}
			sb.WriteString(s[j : j+2])
		}
		if end < len(b) {
			sb.WriteString(" ...")
		}
		return sb.String()
	}
	return fmt.Sprintf("first difference at byte %d (expected %d bytes, got %d)\n  expected @%04x: %s\n  got      @%04x: %s",
		i, len(want), len(got), start, dump(want), start, dump(got))
}

// Errors of choosing the device a replay serves.
var (
	// ErrSeveralDevices: the capture holds records of several devices and
	// ModelOptions.Device picks none (decode finds the network adapter:
	// usbnet/decode's Trace.Bus and Trace.Address).
	ErrSeveralDevices = errors.New("the capture holds several devices: pick one (BUS.ADDR)")
	// ErrNoSuchDevice: ModelOptions.Device names a device without records.
	ErrNoSuchDevice = errors.New("no records of that device in the capture")
)
