package usbnet_test

import (
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gleak"

	"dongle/skbuff"
)

func TestUsbnet(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "usbnet")
}

// Every spec ends with every sk_buff freed and no goroutine left behind.
// Registered first, so it runs after the spec's own cleanups.
var _ = BeforeEach(func() {
	base := gleak.Goroutines()
	DeferCleanup(func() {
		Eventually(skbuff.Live).Should(BeZero(), "sk_buffs still live")
		Eventually(gleak.Goroutines).ShouldNot(gleak.HaveLeaked(base))
	})
})
