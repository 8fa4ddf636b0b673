package gousb

import (
	"context"
	"errors"
	"fmt"

	libusb "github.com/google/gousb"
	. "github.com/onsi/gomega"

	"dongle/hw"
)

var _ = Describe("Errno", func() {
	DescribeTable("maps libusb statuses",
		func(in error, want hw.Errno) {
			Expect(Errno(in)).To(Equal(want))
			Expect(Errno(fmt.Errorf("context: %w", in))).To(Equal(want), "wrapped too")
			err := wrap("bus 1 addr 4 (0b95:1790): bulk IN 0x82", in)
			Expect(errors.Is(err, want)).To(BeTrue())
			Expect(hw.StatusOf(err)).To(Equal(want))
			Expect(err.Error()).To(HavePrefix("bus 1 addr 4 (0b95:1790): bulk IN 0x82: " + want.Error()))
		},
		Entry("transfer stall", libusb.TransferStall, hw.ErrStall),
		Entry("transfer no device", libusb.TransferNoDevice, hw.ErrNoDevice),
		Entry("transfer timed out", libusb.TransferTimedOut, hw.ErrTimeout),
		Entry("transfer overflow", libusb.TransferOverflow, hw.ErrOverflow),
		Entry("transfer cancelled", libusb.TransferCancelled, hw.ErrCancelled),
		Entry("transfer error", libusb.TransferError, hw.ErrIO),
		Entry("io", libusb.ErrorIO, hw.ErrIO),
		Entry("invalid param", libusb.ErrorInvalidParam, hw.ErrInvalid),
		Entry("access", libusb.ErrorAccess, hw.ErrAccess),
		Entry("no device", libusb.ErrorNoDevice, hw.ErrNoDevice),
		Entry("not found", libusb.ErrorNotFound, hw.ErrNotFound),
		Entry("busy", libusb.ErrorBusy, hw.ErrBusy),
		Entry("timeout", libusb.ErrorTimeout, hw.ErrTimeout),
		Entry("overflow", libusb.ErrorOverflow, hw.ErrOverflow),
		Entry("pipe", libusb.ErrorPipe, hw.ErrStall),
		Entry("interrupted", libusb.ErrorInterrupted, hw.ErrInterrupted),
		Entry("no mem", libusb.ErrorNoMem, hw.ErrNoMem),
		Entry("not supported", libusb.ErrorNotSupported, hw.ErrNotSupported),
		Entry("other", libusb.ErrorOther, hw.ErrIO),
		Entry("context cancelled", context.Canceled, hw.ErrCancelled),
		Entry("context deadline", context.DeadlineExceeded, hw.ErrTimeout),
		Entry("an hw.Errno passes through", hw.ErrShort, hw.ErrShort),
		Entry("anything else", errors.New("weird"), hw.ErrIO),
	)
	It("keeps libusb's own error reachable", func() {
		err := wrap("dev", libusb.ErrorBusy)
		var le libusb.Error
		Expect(errors.As(err, &le)).To(BeTrue())
		Expect(le).To(Equal(libusb.ErrorBusy))
		Expect(err.Error()).To(ContainSubstring("libusb: device or resource busy"))
	})
	It("is nil for nil", func() {
		Expect(Errno(nil)).To(BeZero())
		Expect(wrap("x", nil)).To(Succeed())
	})
})
