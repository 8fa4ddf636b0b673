package replay_test

import (
	"context"
	"errors"
	"path/filepath"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"dongle/hw"
	"dongle/hw/record"
	"dongle/hw/record/recordtest"
	"dongle/hw/replay"
)

// recordEcho records recordtest.Session against the echo device and
// returns the trace's path and what the driver saw.
func recordEcho() (string, *recordtest.Result) {
	GinkgoHelper()
	path := filepath.Join(GinkgoT().TempDir(), "echo.pcap")
	rec, err := record.Create(recordtest.NewEcho(), path, record.Options{})
	Expect(err).NotTo(HaveOccurred())
	res, err := recordtest.Session(ctxFor(5*time.Second), rec)
	Expect(err).NotTo(HaveOccurred())
	Expect(rec.Close()).To(Succeed())
	return path, res
}

var _ = Describe("Strict replay", func() {
	var (
		path string
		want *recordtest.Result
		ctx  context.Context
	)
	BeforeEach(func() {
		path, want = recordEcho()
		ctx = ctxFor(5 * time.Second)
	})

	It("is what Open picks for dongle's traces, and passes the same driver", func() {
		d, err := replay.Open(path, replay.ModelOptions{})
		Expect(err).NotTo(HaveOccurred())
		s, ok := d.(*replay.Strict)
		Expect(ok).To(BeTrue(), "Open picks strict replay for a recorded trace")
		Expect(s.Info().Vendor).To(Equal(uint16(0x1d6b)))
		Expect(s.Info().Speed).To(Equal(hw.SpeedFull))
		got, err := recordtest.Session(ctx, s)
		Expect(err).NotTo(HaveOccurred())
		Expect(errors.Is(got.Cancel, hw.ErrCancelled)).To(BeTrue(), "the recorded -ENOENT")
		got.Cancel, want.Cancel = nil, nil
		Expect(got).To(Equal(want))
		Expect(s.Err()).NotTo(HaveOccurred())
		Expect(s.Remaining()).To(BeZero())
		Expect(s.Close()).To(Succeed())
	})

	It("fails a different request with a DivergenceError naming the record", func() {
		d, err := replay.Open(path, replay.ModelOptions{})
		Expect(err).NotTo(HaveOccurred())
		// The session starts with GET_DESCRIPTOR(device); ask for a configuration instead.
		_, err = d.Control(ctx, hw.Setup{RequestType: 0x80, Request: hw.ReqGetDescriptor, Value: 0x0200}, make([]byte, 18))
		var de *replay.DivergenceError
		Expect(errors.As(err, &de)).To(BeTrue())
		Expect(de.Index).To(Equal(0))
		Expect(de.Expected).To(Equal("control 80 06 0100 0000 0012"))
		Expect(de.Got).To(Equal("control 80 06 0200 0000 0012"))
		Expect(de.Diff).To(ContainSubstring("first difference at byte 3"))
		// From then on, everything answers with the same error.
		_, err = hw.ReadDeviceDescriptor(ctx, d)
		Expect(errors.As(err, &de)).To(BeTrue())
		Expect(errors.Is(d.Claim(0), de)).To(BeTrue())
	})

	It("names the record and shows a hex diff when OUT data differs", func() {
		d, err := replay.Open(path, replay.ModelOptions{})
		Expect(err).NotTo(HaveOccurred())
		// A driver that sends a corrupted second frame.
		bad := &corruptingDevice{Device: d, frame: 1}
		_, err = recordtest.Session(ctx, bad)
		var de *replay.DivergenceError
		Expect(errors.As(err, &de)).To(BeTrue(), "%v", err)
		// Records: 11 control URBs before the bulk ones, minus CLEAR_FEATURE
		// at the end = 10 URBs = 20 records, then 3 IN submissions; the
		// second OUT submission is record 24.
		Expect(de.Index).To(Equal(24))
		Expect(de.Expected).To(Equal("bulk OUT 0x02 64 bytes"))
		Expect(de.Diff).To(ContainSubstring("first difference at byte 5"))
	})
})

// corruptingDevice flips a byte of the frame-th OUT transfer.
type corruptingDevice struct {
	hw.Device
	frame int
	n     int
}

func (c *corruptingDevice) OpenEndpoint(addr uint8) (hw.Endpoint, error) {
	ep, err := c.Device.OpenEndpoint(addr)
	if err != nil || addr&0x80 != 0 {
		return ep, err
	}
	return &corruptingEndpoint{Endpoint: ep, c: c}, nil
}

type corruptingEndpoint struct {
	hw.Endpoint
	c *corruptingDevice
}

func (e *corruptingEndpoint) Submit(t *hw.Transfer) error {
	if e.c.n == e.c.frame {
		b := append([]byte(nil), t.Buf...)
		b[5] ^= 0x55
		t = &hw.Transfer{Buf: b}
	}
	e.c.n++
	return e.Endpoint.Submit(t)
}
