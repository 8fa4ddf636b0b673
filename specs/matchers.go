package specs

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/onsi/gomega/types"

	"dongle/hw"
)

// BeFrame succeeds when the actual []byte is exactly the expected Ethernet
// frame. Its failure message says where they first differ, which a plain
// Equal on two 1514-byte slices does not.
func BeFrame(expected []byte) types.GomegaMatcher { return &frameMatcher{want: expected} }

type frameMatcher struct{ want []byte }

func (m *frameMatcher) Match(actual any) (bool, error) {
	got, ok := actual.([]byte)
	if !ok {
		return false, fmt.Errorf("BeFrame wants a []byte, got %T", actual)
	}
	return bytes.Equal(got, m.want), nil
}

func (m *frameMatcher) FailureMessage(actual any) string {
	got, _ := actual.([]byte)
	return "frame differs: " + frameDiff(got, m.want)
}

func (m *frameMatcher) NegatedFailureMessage(actual any) string {
	return fmt.Sprintf("expected a frame other than this %d-byte one", len(m.want))
}

func frameDiff(got, want []byte) string {
	i := 0
	for i < len(got) && i < len(want) && got[i] == want[i] {
		i++
	}
	lo, hi := max(0, i-4), i+8
	return fmt.Sprintf("got %d bytes, want %d; first difference at byte %d: got % x, want % x",
		len(got), len(want), i, got[lo:min(hi, len(got))], want[lo:min(hi, len(want))])
}

// HaveStatus succeeds when the actual error carries the hw status (errors.Is),
// and HaveStatus(0) when the actual error is nil: the transfer-status matcher.
func HaveStatus(want hw.Errno) types.GomegaMatcher { return &statusMatcher{want: want} }

type statusMatcher struct{ want hw.Errno }

func (m *statusMatcher) Match(actual any) (bool, error) {
	if actual == nil {
		return m.want == 0, nil
	}
	err, ok := actual.(error)
	if !ok {
		return false, fmt.Errorf("HaveStatus wants an error, got %T", actual)
	}
	if m.want == 0 {
		return false, nil
	}
	return errors.Is(err, m.want), nil
}

func (m *statusMatcher) FailureMessage(actual any) string {
	return fmt.Sprintf("expected transfer status %q (%d), got %v", m.want, int(m.want), actual)
}

func (m *statusMatcher) NegatedFailureMessage(actual any) string {
	return fmt.Sprintf("expected a transfer status other than %q, got %v", m.want, actual)
}
