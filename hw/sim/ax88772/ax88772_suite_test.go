package ax88772_test

import (
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

func TestAX88772Model(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "AX88772B device model")
}
