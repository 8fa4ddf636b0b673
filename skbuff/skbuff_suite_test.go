package skbuff_test

import (
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gleak"

	"dongle/skbuff"
)

func TestSkbuff(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "skbuff")
}

// Every spec must leave no buffer allocated and no goroutine behind.
var _ = BeforeEach(func() {
	good := gleak.Goroutines()
	DeferCleanup(func() {
		Expect(skbuff.Live()).To(BeZero(), "buffers leaked by this spec")
		Eventually(gleak.Goroutines).ShouldNot(gleak.HaveLeaked(good))
	})
})

// panicState runs fn and returns the *PanicError it panicked with, or nil.
func panicState(fn func()) (pe *skbuff.PanicError) {
	defer func() {
		if r := recover(); r != nil {
			pe, _ = r.(*skbuff.PanicError)
			if pe == nil {
				panic(r)
			}
		}
	}()
	fn()
	return nil
}
