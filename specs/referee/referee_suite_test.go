package referee_test

import (
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

func TestASIXLab(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "referee")
}
