package specs_test

import (
	"testing"

	"dongle/specs"
)

// TestConformance runs the suite: `go test ./specs` (every sim backend and
// fixture trace), `go test ./specs -args --backend=usb`, or through the
// ginkgo CLI with its flags.
func TestConformance(t *testing.T) {
	specs.Run(t, specs.OptionsFromFlags())
}
