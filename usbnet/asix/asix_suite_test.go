package asix_test

import (
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

func TestASIX(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "ASIX minidriver against the AX88772B and AX88178 models")
}
