package replay_test

import (
	"context"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"dongle/hw"
	"dongle/hw/replay"
	"dongle/hw/usbmon"
)

// Two drivers for one chip write the same registers with different values
// (Linux's asix writes WRITE_IPG 0x001d, dongle 0x0c15): a model replay of
// one driver's trace must take the other's writes, but never invent reads.
var _ = Describe("Model replay of register writes recorded with other values", func() {
	var d *replay.Model
	ctx := context.Background()
	BeforeEach(func() {
		ipg := hw.Setup{RequestType: 0x40, Request: 0x12, Value: 0x001d, Index: 0x0012}.Bytes()
		read := hw.Setup{RequestType: 0xc0, Request: 0x13, Length: 6}.Bytes()
		recs := []usbmon.Record{
			{Type: 'S', XferType: usbmon.XferControl, Endpoint: 0x00, Setup: ipg},
			{Type: 'C', XferType: usbmon.XferControl, Endpoint: 0x00, FlagSetup: '-'},
			{Type: 'S', XferType: usbmon.XferControl, Endpoint: 0x80, Setup: read},
			{Type: 'C', XferType: usbmon.XferControl, Endpoint: 0x80, FlagSetup: '-', Length: 6, Data: []byte{0, 0x0e, 0xc6, 0x88, 0x77, 0x2b}},
		}
		var err error
		d, err = replay.NewModel(recs, replay.ModelOptions{Name: "writes", Logf: GinkgoLogr.Info})
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(func() { Expect(d.Close()).To(Succeed()) })
	})

	It("accepts the write with another wValue, and counts it", func() {
		c, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		_, err := d.Control(c, hw.Setup{RequestType: 0x40, Request: 0x12, Value: 0x0c15, Index: 0x0012}, nil)
		Expect(err).NotTo(HaveOccurred())
		Expect(d.Stats().ControlWriteValue).To(Equal(1))
		Expect(d.Stats().ControlStalled).To(BeZero())
	})

	It("still stalls a write request the trace never made", func() {
		_, err := d.Control(ctx, hw.Setup{RequestType: 0x40, Request: 0x10, Value: 0x0088}, nil)
		Expect(err).To(MatchError(hw.ErrStall))
		Expect(d.Stats().ControlStalled).To(Equal(1))
	})

	It("does not invent a read of another register", func() {
		_, err := d.Control(ctx, hw.Setup{RequestType: 0xc0, Request: 0x13, Value: 1, Length: 6}, make([]byte, 6))
		Expect(err).To(MatchError(hw.ErrStall))
	})
})
