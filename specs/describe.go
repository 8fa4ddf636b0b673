package specs

import (
	"fmt"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
)

// describeBackend defines every spec area for one backend, under the
// backend's label.
func describeBackend(b Backend) {
	args := []any{Label(BackendLabel(b.Name()))}
	_, real := b.(*usbBackend)
	_, wired := b.(*wireBackend)
	if real || wired {
		// A real adapter, or a host interface, is one shared, stateful
		// thing: its specs run one at a time, in order, each with a
		// deadline (under ginkgo -p, two bridges on one interface would
		// each see the other's frames).
		args = append(args, Serial, Ordered, ContinueOnFailure)
	}
	args = append(args, func() {
		BeforeEach(func() { skipMissing(b) })
		bindSpecs(b)
		linkSpecs(b)
		frameSpecs(b)
		filterSpecs(b)
		flowSpecs(b)
		mtuSpecs(b)
		errorSpecs(b)
		if _, recording := b.(*traceBackend); recording {
			// What a recording carries is a question only a recording
			// answers; on a live device it is not a gap to count as a skip.
			traceSpecs(b)
		}
	})
	Describe(b.Name(), args...)
}

// skipMissing skips the current spec, with the backend's reason, when it
// needs a capability the backend lacks. A spec that needs "a peer or an
// echo" carries the label needs-peer-or-echo.
func skipMissing(b Backend) {
	for _, l := range CurrentSpecReport().Labels() {
		if l == "needs-peer-or-echo" {
			if !has(b, CapPeer) && !has(b, CapEcho) {
				Skip(fmt.Sprintf("%s: needs a peer or an echo on the far side: %s", b.Name(), b.Why(CapPeer)))
			}
			continue
		}
		if !strings.HasPrefix(l, "needs-") {
			continue
		}
		if c := Cap(l); !has(b, c) {
			Skip(fmt.Sprintf("%s: %s: %s", b.Name(), l, b.Why(c)))
		}
	}
}

// specTimeout bounds every spec: a hung device fails the spec, not CI.
const specTimeout = 20 * time.Second

var needsPeerOrEcho = Label("needs-peer-or-echo")
