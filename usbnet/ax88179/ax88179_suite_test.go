package ax88179_test

import (
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gleak"

	"dongle/skbuff"
)

func TestAX88179(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "AX88179 minidriver")
}

// Every spec ends with no buffer live and no goroutine leaked.
var _ = BeforeEach(func() {
	g := gleak.Goroutines()
	DeferCleanup(func() {
		Eventually(gleak.Goroutines).WithTimeout(2 * time.Second).ShouldNot(gleak.HaveLeaked(g))
		Eventually(skbuff.Live).WithTimeout(2 * time.Second).Should(BeZero())
	})
})
