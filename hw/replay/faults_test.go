package replay_test

import (
	"bytes"
	"context"
	"errors"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"dongle/hw"
	"dongle/hw/replay"
	"dongle/hw/usbmon"
)

// faultTrace builds a foreign (kernel-style, untagged) bulk trace by hand
// and passes it through usbmon's writer and reader, as a capture file
// would. Endpoints without descriptors are 64-byte.
type faultTrace struct {
	recs []usbmon.Record
	id   uint64
}

func (f *faultTrace) next() uint64 { f.id += 0x40; return 0xffff8800_00000000 + f.id }

// in records one bulk IN 0x82 URB completing with status and data, its
// submission without a length (as QEMU logs each packet: the completions
// of one transfer are joined up to a short one).
func (f *faultTrace) in(status int32, data []byte) *faultTrace {
	return f.inURB(0, status, data)
}

// inURB is in with the URB's length in its submission, as the kernel's
// usbmon records it.
func (f *faultTrace) inURB(urbLen uint32, status int32, data []byte) *faultTrace {
	id := f.next()
	f.recs = append(f.recs,
		usbmon.Record{ID: id, Type: 'S', XferType: usbmon.XferBulk, Endpoint: 0x82, FlagSetup: '-', FlagData: '<', Status: -115, Length: urbLen},
		usbmon.Record{ID: id, Type: 'C', XferType: usbmon.XferBulk, Endpoint: 0x82, FlagSetup: '-', Status: status, Length: uint32(len(data)), LenCap: uint32(len(data)), Data: data})
	return f
}

// inFlight records n bulk IN URBs submitted together that all complete
// with status (the transfers in flight when an endpoint halts).
func (f *faultTrace) inFlight(n int, status int32) *faultTrace {
	var ids []uint64
	for range n {
		id := f.next()
		ids = append(ids, id)
		f.recs = append(f.recs, usbmon.Record{ID: id, Type: 'S', XferType: usbmon.XferBulk, Endpoint: 0x82, FlagSetup: '-', FlagData: '<', Status: -115, Length: 1536})
	}
	for _, id := range ids {
		f.recs = append(f.recs, usbmon.Record{ID: id, Type: 'C', XferType: usbmon.XferBulk, Endpoint: 0x82, FlagSetup: '-', Status: status})
	}
	return f
}

// out records one bulk OUT 0x02 URB with data completing with status.
func (f *faultTrace) out(status int32, data []byte) *faultTrace {
	id := f.next()
	n := uint32(len(data))
	if status != 0 {
		n = 0
	}
	f.recs = append(f.recs,
		usbmon.Record{ID: id, Type: 'S', XferType: usbmon.XferBulk, Endpoint: 0x02, FlagSetup: '-', Status: -115, Length: uint32(len(data)), LenCap: uint32(len(data)), Data: data},
		usbmon.Record{ID: id, Type: 'C', XferType: usbmon.XferBulk, Endpoint: 0x02, FlagSetup: '-', FlagData: '>', Status: status, Length: n})
	return f
}

// clearHalt records CLEAR_FEATURE(ENDPOINT_HALT) for ep, completing OK.
func (f *faultTrace) clearHalt(ep uint8) *faultTrace { return f.clearHaltStatus(ep, 0) }

// clearHaltStatus records CLEAR_FEATURE(ENDPOINT_HALT) for ep, completing
// with status.
func (f *faultTrace) clearHaltStatus(ep uint8, status int32) *faultTrace {
	id := f.next()
	s := hw.Setup{RequestType: hw.RecipEndpoint, Request: hw.ReqClearFeature, Index: uint16(ep)}.Bytes()
	f.recs = append(f.recs,
		usbmon.Record{ID: id, Type: 'S', XferType: usbmon.XferControl, Endpoint: 0x00, Setup: s, FlagData: '<', Status: -115},
		usbmon.Record{ID: id, Type: 'C', XferType: usbmon.XferControl, Endpoint: 0x00, FlagSetup: '-', FlagData: '>', Status: status})
	return f
}

// raw appends a record as is.
func (f *faultTrace) raw(r usbmon.Record) *faultTrace { f.recs = append(f.recs, r); return f }

// model writes the trace with usbmon.Writer, reads it back and replays it.
func (f *faultTrace) model(opts replay.ModelOptions, log *logLines) *replay.Model {
	GinkgoHelper()
	var buf bytes.Buffer
	w, err := usbmon.NewWriter(&buf)
	Expect(err).NotTo(HaveOccurred())
	for i := range f.recs {
		f.recs[i].Bus, f.recs[i].Device = 1, 5
		Expect(w.Write(&f.recs[i])).To(Succeed())
	}
	recs, _, err := usbmon.ReadAll(&buf)
	Expect(err).NotTo(HaveOccurred())
	Expect(recs).To(HaveLen(len(f.recs)))
	opts.Name = "faults"
	opts.Logf = log.Logf
	d, err := replay.NewModel(recs, opts)
	Expect(err).NotTo(HaveOccurred())
	Expect(d.Claim(0)).To(Succeed())
	DeferCleanup(d.Release, 0)
	return d
}

func frameOf(b byte, n int) []byte { return bytes.Repeat([]byte{b}, n) }

// xfers drives one endpoint of a replay.
type xfers struct {
	ep     hw.Endpoint
	ctx    context.Context
	closed bool
}

// close cancels what is in flight, reaps it and closes the endpoint (once).
func (x *xfers) close() {
	GinkgoHelper()
	if x.closed {
		return
	}
	x.closed = true
	x.ep.Cancel()
	for x.ep.InFlight() > 0 {
		_, err := x.ep.Wait(x.ctx)
		Expect(err).NotTo(HaveOccurred())
	}
	Expect(x.ep.Close()).To(Succeed())
}

func openEP(d hw.Device, addr uint8) *xfers {
	GinkgoHelper()
	ep, err := d.OpenEndpoint(addr)
	Expect(err).NotTo(HaveOccurred())
	x := &xfers{ep: ep, ctx: ctxFor(5 * time.Second)}
	DeferCleanup(x.close)
	return x
}

// do submits buf and waits for its completion.
func (x *xfers) do(buf []byte) *hw.Transfer {
	GinkgoHelper()
	Expect(x.ep.Submit(&hw.Transfer{Buf: buf})).To(Succeed())
	t, err := x.ep.Wait(x.ctx)
	Expect(err).NotTo(HaveOccurred())
	return t
}

// pending asserts that a transfer stays pending (the recording ran out).
func (x *xfers) pending() {
	GinkgoHelper()
	Expect(x.ep.Submit(&hw.Transfer{Buf: make([]byte, 1536)})).To(Succeed())
	short, cancel := context.WithTimeout(x.ctx, 30*time.Millisecond)
	defer cancel()
	_, err := x.ep.Wait(short)
	Expect(err).To(MatchError(context.DeadlineExceeded))
}

var _ = DescribeTable("Model replay of one recorded bulk IN error completion",
	func(status int32, want error, ignore bool) {
		log := &logLines{}
		d := (&faultTrace{}).in(0, frameOf(0xa1, 10)).in(status, nil).in(0, frameOf(0xb2, 20)).
			model(replay.ModelOptions{IgnoreErrors: ignore}, log)
		in := openEP(d, 0x82)

		Expect(in.do(make([]byte, 1536)).Data()).To(Equal(frameOf(0xa1, 10)))
		if want != nil {
			t := in.do(make([]byte, 1536))
			Expect(t.Err).To(MatchError(want))
			Expect(t.Err.Error()).To(ContainSubstring("record 3"), "names the recorded completion")
			Expect(t.N).To(BeZero())
			Expect(d.Stats().InFailed).To(Equal(1))
			Expect(d.Stats().Faults).To(Equal(1))
		}
		if errors.Is(want, hw.ErrStall) {
			// Halted until the host clears it, as a real device.
			t := in.do(make([]byte, 1536))
			Expect(t.Err).To(MatchError(hw.ErrStall))
			Expect(d.Stats().Halts).To(Equal(1))
			Expect(d.ClearHalt(0x82)).To(Succeed())
			Expect(d.Stats().HaltsCleared).To(Equal(1))
		}
		t := in.do(make([]byte, 1536))
		Expect(t.Err).NotTo(HaveOccurred())
		Expect(t.Data()).To(Equal(frameOf(0xb2, 20)), "the sequence goes on after the error")
		in.pending()
		if want == nil {
			Expect(d.Stats().InFailed).To(BeZero())
			Expect(d.Stats().Faults).To(BeZero())
		}
	},
	Entry("-EPIPE: stall, halted until ClearHalt", int32(-usbmon.EPIPE), hw.ErrStall, false),
	Entry("-EREMOTEIO (QEMU's failure): stall", int32(-usbmon.EREMOTEIO), hw.ErrStall, false),
	Entry("-EPROTO: I/O error", int32(-usbmon.EPROTO), hw.ErrIO, false),
	Entry("-EILSEQ: I/O error", int32(-usbmon.EILSEQ), hw.ErrIO, false),
	Entry("-ETIME: timeout", int32(-usbmon.ETIME), hw.ErrTimeout, false),
	Entry("-ETIMEDOUT: timeout", int32(-usbmon.ETIMEDOUT), hw.ErrTimeout, false),
	Entry("-EOVERFLOW: babble", int32(-usbmon.EOVERFLOW), hw.ErrOverflow, false),
	Entry("an isolated -ENODEV: one failed transfer", int32(-usbmon.ENODEV), hw.ErrNoDevice, false),
	Entry("-ENOENT (usb_kill_urb): skipped", int32(-usbmon.ENOENT), nil, false),
	Entry("-ECONNRESET (usb_unlink_urb): skipped", int32(-usbmon.ECONNRESET), nil, false),
	Entry("-EPIPE with IgnoreErrors: skipped", int32(-usbmon.EPIPE), nil, true),
	Entry("-EPROTO with IgnoreErrors: skipped", int32(-usbmon.EPROTO), nil, true),
)

var _ = Describe("Model replay of recorded faults", func() {
	var log *logLines
	BeforeEach(func() { log = &logLines{} })

	It("replays a stall, the recorded clear-halt, then the data, as one halt for all the transfers it failed", func() {
		d := (&faultTrace{}).in(0, frameOf(1, 60)).inFlight(3, -usbmon.EPIPE).clearHalt(0x82).
			in(0, frameOf(2, 61)).in(0, frameOf(3, 62)).model(replay.ModelOptions{}, log)
		in := openEP(d, 0x82)
		Expect(in.do(make([]byte, 1536)).Data()).To(Equal(frameOf(1, 60)))
		// Two transfers in flight: the first meets the stall, the second
		// the halt.
		t1, t2 := &hw.Transfer{Buf: make([]byte, 1536)}, &hw.Transfer{Buf: make([]byte, 1536)}
		Expect(in.ep.Submit(t1)).To(Succeed())
		Expect(in.ep.Submit(t2)).To(Succeed())
		for _, want := range []*hw.Transfer{t1, t2} {
			got, err := in.ep.Wait(in.ctx)
			Expect(err).NotTo(HaveOccurred())
			Expect(got).To(BeIdenticalTo(want))
			Expect(got.Err).To(MatchError(hw.ErrStall))
		}
		Expect(d.Stats().Halts).To(Equal(1))
		// CLEAR_FEATURE through Control, as a driver may send it.
		_, err := d.Control(in.ctx, hw.Setup{RequestType: hw.RecipEndpoint, Request: hw.ReqClearFeature, Index: 0x82}, nil)
		Expect(err).NotTo(HaveOccurred())
		Expect(d.Stats().ControlExact).To(Equal(1), "answered from the recorded CLEAR_FEATURE")
		// The other two recorded stalls were the same halt: data follows.
		Expect(in.do(make([]byte, 1536)).Data()).To(Equal(frameOf(2, 61)))
		Expect(in.do(make([]byte, 1536)).Data()).To(Equal(frameOf(3, 62)))
		st := d.Stats()
		Expect([]int{st.Faults, st.Halts, st.HaltsCleared, st.InFailed}).To(Equal([]int{1, 1, 1, 2}))
	})

	It("replays two halts separated by a clear-halt as two", func() {
		d := (&faultTrace{}).in(-usbmon.EPIPE, nil).clearHalt(0x82).in(-usbmon.EPIPE, nil).clearHalt(0x82).
			in(0, frameOf(7, 10)).model(replay.ModelOptions{}, log)
		in := openEP(d, 0x82)
		for range 2 {
			Expect(in.do(make([]byte, 64)).Err).To(MatchError(hw.ErrStall))
			Expect(d.ClearHalt(0x82)).To(Succeed())
		}
		Expect(in.do(make([]byte, 64)).Data()).To(Equal(frameOf(7, 10)))
		Expect(d.Stats().Halts).To(Equal(2))
	})

	DescribeTable("ends a halt by what ends one on a real device",
		func(clearIt func(d *replay.Model) error, cleared bool) {
			d := (&faultTrace{}).in(-usbmon.EPIPE, nil).in(0, frameOf(9, 12)).model(replay.ModelOptions{}, log)
			in := openEP(d, 0x82)
			Expect(in.do(make([]byte, 64)).Err).To(MatchError(hw.ErrStall))
			in.close() // SET_INTERFACE needs the interface's endpoints closed
			Expect(clearIt(d)).To(Succeed())
			in = openEP(d, 0x82)
			t := in.do(make([]byte, 64))
			if cleared {
				Expect(t.Err).NotTo(HaveOccurred())
				Expect(t.Data()).To(Equal(frameOf(9, 12)))
			} else {
				Expect(t.Err).To(MatchError(hw.ErrStall))
			}
		},
		Entry("Reset", func(d *replay.Model) error { return d.Reset() }, true),
		Entry("SET_INTERFACE of its interface", func(d *replay.Model) error { return d.SetAlt(0, 0) }, true),
		Entry("SET_CONFIGURATION", func(d *replay.Model) error {
			cfg, err := d.Configuration()
			if err != nil {
				return err
			}
			// SET_CONFIGURATION needs every interface released.
			if err := d.Release(0); err != nil {
				return err
			}
			if err := d.SetConfiguration(cfg); err != nil {
				return err
			}
			return d.Claim(0)
		}, true),
		Entry("not a CLEAR_FEATURE of another endpoint", func(d *replay.Model) error { return d.ClearHalt(0x02) }, false),
	)

	It("leaves the endpoint halted when the recorded clear-halt failed, until one succeeds", func() {
		d := (&faultTrace{}).in(-usbmon.EPIPE, nil).clearHaltStatus(0x82, -usbmon.EPROTO).clearHalt(0x82).
			in(0, frameOf(6, 33)).model(replay.ModelOptions{}, log)
		in := openEP(d, 0x82)
		Expect(in.do(make([]byte, 64)).Err).To(MatchError(hw.ErrStall))
		// Answered from the first recorded CLEAR_FEATURE, which failed:
		// the device never took it, so the halt stays.
		Expect(d.ClearHalt(0x82)).To(MatchError(hw.ErrIO))
		Expect(in.do(make([]byte, 64)).Err).To(MatchError(hw.ErrStall), "still halted")
		Expect(d.Stats().HaltsCleared).To(BeZero())
		// The second recorded one succeeded: the halt ends, data follows.
		Expect(d.ClearHalt(0x82)).To(Succeed())
		Expect(d.Stats().HaltsCleared).To(Equal(1))
		t := in.do(make([]byte, 64))
		Expect(t.Err).NotTo(HaveOccurred())
		Expect(t.Data()).To(Equal(frameOf(6, 33)))
		Expect(d.Stats().ControlExact).To(Equal(2))
	})

	It("ends an IN transfer at a completion shorter than its URB, even one of whole packets (usbmon records no ZLP)", func() {
		d := (&faultTrace{}).inURB(1536, 0, frameOf(4, 128)).inURB(1536, 0, frameOf(5, 30)).model(replay.ModelOptions{}, log)
		in := openEP(d, 0x82)
		t := in.do(make([]byte, 1536))
		Expect(t.Err).NotTo(HaveOccurred())
		Expect(t.Data()).To(Equal(frameOf(4, 128)), "the first URB's data alone, ended by its ZLP")
		Expect(in.do(make([]byte, 1536)).Data()).To(Equal(frameOf(5, 30)))
	})

	It("fails the IN transfer being filled when the error came mid-frame, keeping its bytes", func() {
		d := (&faultTrace{}).in(0, frameOf(4, 64)).in(-usbmon.EPROTO, nil).in(0, frameOf(5, 30)).model(replay.ModelOptions{}, log)
		in := openEP(d, 0x82)
		t := in.do(make([]byte, 1536))
		Expect(t.Err).To(MatchError(hw.ErrIO))
		Expect(t.Data()).To(Equal(frameOf(4, 64)), "the full packet that had arrived, no ZLP invented")
		Expect(in.do(make([]byte, 1536)).Data()).To(Equal(frameOf(5, 30)))
	})

	It("replays an OUT stall at its position, halts OUT until ClearHalt, then goes on", func() {
		a, b, c := frameOf(0xa, 60), frameOf(0xb, 70), frameOf(0xc, 80)
		d := (&faultTrace{}).out(0, a).out(-usbmon.EPIPE, b).clearHalt(0x02).out(0, c).model(replay.ModelOptions{}, log)
		out := openEP(d, 0x02)
		Expect(out.do(a).Err).NotTo(HaveOccurred())
		t := out.do(b)
		Expect(t.Err).To(MatchError(hw.ErrStall))
		Expect(t.N).To(BeZero())
		Expect(out.do(c).Err).To(MatchError(hw.ErrStall), "halted")
		Expect(d.ClearHalt(0x02)).To(Succeed())
		t = out.do(c)
		Expect(t.Err).NotTo(HaveOccurred())
		Expect(t.N).To(Equal(len(c)))
		st := d.Stats()
		Expect([]int{st.OutMatched, st.OutMismatched, st.OutFailed, st.Halts, st.HaltsCleared}).To(Equal([]int{3, 0, 2, 1, 1}))
	})

	It("replays an OUT timeout and the retry after it", func() {
		b := frameOf(0xb, 200)
		d := (&faultTrace{}).out(-usbmon.ETIMEDOUT, b).out(0, b).model(replay.ModelOptions{}, log)
		out := openEP(d, 0x02)
		Expect(out.do(b).Err).To(MatchError(hw.ErrTimeout))
		Expect(out.do(b).Err).NotTo(HaveOccurred())
		Expect(d.Stats().OutMatched).To(Equal(2))
	})

	It("replays an unplug once everything before it was replayed", func() {
		tr := (&faultTrace{}).in(0, frameOf(1, 10)).in(0, frameOf(2, 20)).out(0, frameOf(3, 30))
		// The unplug: the transfers in flight fail -ENODEV/-ESHUTDOWN,
		// a later submission fails at once ('E'), a cancel in between.
		tr.inFlight(2, -usbmon.ESHUTDOWN).in(-usbmon.ENOENT, nil)
		tr.raw(usbmon.Record{ID: 0x99, Type: 'S', XferType: usbmon.XferBulk, Endpoint: 0x02, FlagSetup: '-', Length: 4, LenCap: 4, Data: []byte{1, 2, 3, 4}})
		tr.raw(usbmon.Record{ID: 0x99, Type: 'E', XferType: usbmon.XferBulk, Endpoint: 0x02, FlagSetup: '-', Status: -usbmon.ENODEV})
		d := tr.model(replay.ModelOptions{}, log)
		in := openEP(d, 0x82)
		out := openEP(d, 0x02)
		Expect(in.do(make([]byte, 1536)).Data()).To(Equal(frameOf(1, 10)))
		Expect(in.do(make([]byte, 1536)).Data()).To(Equal(frameOf(2, 20)))
		Expect(d.Stats().Unplugged).To(BeFalse(), "the recorded OUT transfer is still to come")
		Expect(out.do(frameOf(3, 30)).Err).NotTo(HaveOccurred())
		t := in.do(make([]byte, 1536))
		Expect(t.Err).To(MatchError(hw.ErrNoDevice))
		Expect(d.Stats().Unplugged).To(BeTrue())
		Expect(in.ep.Submit(&hw.Transfer{Buf: make([]byte, 64)})).To(MatchError(hw.ErrNoDevice))
		_, err := d.Control(in.ctx, hw.Setup{RequestType: 0xc0, Request: 1, Length: 2}, make([]byte, 2))
		Expect(err).To(MatchError(hw.ErrNoDevice))
		Expect(err.Error()).To(ContainSubstring("unplugged at record"))
		Expect(d.ClearHalt(0x82)).To(MatchError(hw.ErrNoDevice))
	})

	It("fails an OUT transfer past the recording with ErrNoDevice after an unplug", func() {
		tr := (&faultTrace{}).out(0, frameOf(3, 30)).out(-usbmon.ENODEV, frameOf(4, 30))
		d := tr.model(replay.ModelOptions{}, log)
		out := openEP(d, 0x02)
		Expect(out.do(frameOf(3, 30)).Err).NotTo(HaveOccurred())
		Expect(out.do(frameOf(4, 30)).Err).To(MatchError(hw.ErrNoDevice))
		Expect(d.Stats().OutExtra).To(BeZero())
	})

	It("skips a malformed status and an error completion without its submission, naming the records", func() {
		tr := (&faultTrace{}).in(0, frameOf(1, 10)).in(5, nil)                                                                         // records 0-3: status +5 at record 3
		tr.raw(usbmon.Record{ID: 0x1234, Type: 'C', XferType: usbmon.XferBulk, Endpoint: 0x82, FlagSetup: '-', Status: -usbmon.EPIPE}) // record 4
		tr.in(-115, nil)                                                                                                               // records 5-6: -EINPROGRESS
		tr.in(0, frameOf(2, 20))
		d := tr.model(replay.ModelOptions{}, log)
		in := openEP(d, 0x82)
		Expect(in.do(make([]byte, 1536)).Data()).To(Equal(frameOf(1, 10)))
		t := in.do(make([]byte, 1536))
		Expect(t.Err).NotTo(HaveOccurred())
		Expect(t.Data()).To(Equal(frameOf(2, 20)))
		Expect(d.Stats().FaultsMalformed).To(Equal(3))
		Expect(d.Stats().Halts).To(BeZero())
		Expect(log.all()).To(ContainSubstring("record 3: bulk IN 0x82 completion status 5"))
		Expect(log.all()).To(ContainSubstring("record 4: bulk IN 0x82 completion with status -32 has no submission"))
		Expect(log.all()).To(ContainSubstring("record 6: bulk IN 0x82 completion status -115"))
	})
})
