package referee

import (
	"bufio"
	"encoding/hex"
	"fmt"
	"io"
	"strconv"
	"strings"

	"dongle/hw"
)

// Request is one control request as a log line holds it.
type Request struct {
	Setup   hw.Setup
	Data    []byte // OUT data or the IN answer
	Stalled bool
}

// String is the log line: "c0 13 0000 0000 0006 000ec688772b", plus " STALL".
func (r Request) String() string {
	s := r.Setup.String() + " " + hex.EncodeToString(r.Data)
	if r.Stalled {
		s += " STALL"
	}
	return s
}

// Key is what Diff compares: the request and, for OUT, the data written
// (IN answers depend on the model's state and timing, not on the driver).
func (r Request) Key() string {
	s := r.Setup
	k := fmt.Sprintf("%02x %02x %04x %04x %04x", s.RequestType, s.Request, s.Value, s.Index, s.Length)
	if !s.In() {
		k += " " + hex.EncodeToString(r.Data)
	}
	return k
}

// ParseLog reads a request log (ffsmodel -requests). Blank lines and lines
// starting with # are skipped; a malformed line is an error naming it.
func ParseLog(r io.Reader) ([]Request, error) {
	var out []Request
	sc := bufio.NewScanner(r)
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		f := strings.Fields(line)
		if len(f) < 5 {
			return nil, fmt.Errorf("request log line %d %q: want 5 setup fields", n, line)
		}
		var v [5]uint64
		for i := range v {
			bits := 16
			if i < 2 {
				bits = 8
			}
			x, err := strconv.ParseUint(f[i], 16, bits)
			if err != nil {
				return nil, fmt.Errorf("request log line %d field %d: %w", n, i+1, err)
			}
			v[i] = x
		}
		req := Request{Setup: hw.Setup{RequestType: uint8(v[0]), Request: uint8(v[1]), Value: uint16(v[2]), Index: uint16(v[3]), Length: uint16(v[4])}}
		for _, x := range f[5:] {
			if x == "STALL" {
				req.Stalled = true
				continue
			}
			b, err := hex.DecodeString(x)
			if err != nil {
				return nil, fmt.Errorf("request log line %d data: %w", n, err)
			}
			req.Data = b
		}
		out = append(out, req)
	}
	return out, sc.Err()
}
