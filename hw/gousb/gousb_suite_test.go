package gousb

import (
	"testing"

	"github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// The package has a Context type, so ginkgo is not dot-imported; these are
// the DSL names the specs use.
var (
	Describe      = ginkgo.Describe
	It            = ginkgo.It
	BeforeEach    = ginkgo.BeforeEach
	DescribeTable = ginkgo.DescribeTable
	Entry         = ginkgo.Entry
	DeferCleanup  = ginkgo.DeferCleanup
	By            = ginkgo.By
	GinkgoT       = ginkgo.GinkgoT
)

func TestGousb(t *testing.T) {
	RegisterFailHandler(ginkgo.Fail)
	ginkgo.RunSpecs(t, "hw/gousb")
}
