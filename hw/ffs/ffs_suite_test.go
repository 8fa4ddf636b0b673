package ffs_test

import (
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

func TestFFS(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "ffs")
}
