package specs_test

import (
	"testing"

	// The ginkgo CLI runs a package as a Ginkgo suite, passing it its
	// flags (--label-filter, --randomize-all, --junit-report, ...), only
	// when a test file imports Ginkgo; without this import it ran the
	// suite as a plain go test and dropped every one of them.
	_ "github.com/onsi/ginkgo/v2"

	"dongle/specs"
)

// TestConformance runs the suite: `go test ./specs` (every sim backend and
// fixture trace), `go test ./specs -args --backend=usb`, or through the
// ginkgo CLI with its flags.
func TestConformance(t *testing.T) {
	specs.Run(t, specs.OptionsFromFlags())
}
