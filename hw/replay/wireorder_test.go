package replay_test

import (
	"bytes"
	"context"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"dongle/hw"
	"dongle/hw/replay"
	"dongle/hw/usbmon"
)

// qemuRingWrap is bulk IN as QEMU's pcap= writer logs it when the guest's
// host controller keeps several transfers queued: an 'S' each time QEMU
// polls a transfer the device has no data for yet (so one id collects
// several submissions and one completion), the ZLP after a 64-byte frame
// completing the next transfer id, and ids (transfer-ring addresses)
// coming round again. Pairing completions with the oldest submission of
// their id then pairs frame 3 with one of frame 1's retries:
//
//	rec  0-2  S a  S a  S a      (a polled three times)
//	rec  3    C a  64 bytes       frame 1
//	rec  4-5  S b  C b   0 bytes  its ZLP, on another id
//	rec  6-7  S c  C c  60 bytes  frame 2
//	rec  8-9  S a  C a  64 bytes  frame 3, a reused: pairs with rec 1
//	rec 10-11 S b  C b   0 bytes  its ZLP
func qemuRingWrap() (recs []usbmon.Record, frames [][]byte) {
	const a, b, c = 0x6000, 0x6010, 0x6020
	sub := func(id uint64) usbmon.Record {
		return usbmon.Record{ID: id, Type: 'S', XferType: usbmon.XferBulk, Endpoint: 0x82, FlagSetup: '-', FlagData: '<'}
	}
	done := func(id uint64, data []byte) usbmon.Record {
		return usbmon.Record{ID: id, Type: 'C', XferType: usbmon.XferBulk, Endpoint: 0x82, FlagSetup: '-', Length: uint32(len(data)), Data: data}
	}
	f1, f2, f3 := bytes.Repeat([]byte{0x11}, 64), bytes.Repeat([]byte{0x22}, 60), bytes.Repeat([]byte{0x33}, 64)
	recs = []usbmon.Record{
		sub(a), sub(a), sub(a), done(a, f1),
		sub(b), done(b, nil),
		sub(c), done(c, f2),
		sub(a), done(a, f3),
		sub(b), done(b, nil),
	}
	return recs, [][]byte{f1, f2, f3}
}

var _ = Describe("Model replay of interleaved QEMU bulk IN records", func() {
	var (
		in     hw.Endpoint
		d      *replay.Model
		frames [][]byte
		ctx    context.Context
	)
	BeforeEach(func() {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(context.Background(), 5*time.Second)
		DeferCleanup(cancel)
		var recs []usbmon.Record
		recs, frames = qemuRingWrap()
		var err error
		d, err = replay.NewModel(recs, replay.ModelOptions{Name: "ringwrap", Logf: GinkgoLogr.Info})
		Expect(err).NotTo(HaveOccurred())
		Expect(d.Claim(0)).To(Succeed())
		DeferCleanup(d.Release, 0)
		in, err = d.OpenEndpoint(0x82)
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(in.Close)
	})

	read := func(size int) *hw.Transfer {
		GinkgoHelper()
		Expect(in.Submit(&hw.Transfer{Buf: make([]byte, size)})).To(Succeed())
		t, err := in.Wait(ctx)
		Expect(err).NotTo(HaveOccurred())
		Expect(t.Err).NotTo(HaveOccurred())
		return t
	}

	It("ends each frame at its ZLP, in completion order, whatever ids carried them", func() {
		var got [][]byte
		for range frames {
			got = append(got, read(1536).Data())
		}
		Expect(got).To(Equal(frames), "frame 3 must not be glued to frame 1")
		Expect(d.Stats().InTransfers).To(Equal(3))
		Expect(d.Stats().InSkippedTruncated).To(BeZero())

		// Nothing else was recorded: no stray empty transfer from a
		// misplaced ZLP.
		Expect(in.Submit(&hw.Transfer{Buf: make([]byte, 1536)})).To(Succeed())
		short, cancel := context.WithTimeout(ctx, 30*time.Millisecond)
		defer cancel()
		_, err := in.Wait(short)
		Expect(err).To(MatchError(context.DeadlineExceeded))
		in.Cancel()
		_, err = in.Wait(ctx)
		Expect(err).NotTo(HaveOccurred())
	})

	It("hands the packets out as on the wire to full-packet host transfers", func() {
		var sizes []int
		for i := 0; i < 5; i++ {
			sizes = append(sizes, read(64).N)
		}
		// 64 fills the buffer, its ZLP completes the next transfer empty.
		Expect(sizes).To(Equal([]int{64, 0, 60, 64, 0}))
	})
})

// The dongle echo capture (dongleblast echo, 11 sizes) holds every echoed
// frame, but QEMU keeps 256 bytes of a record: the 511-, 512-, 513-, 1024-
// and 1514-byte echoes are cut and skipped, while the 64-, 128- and
// 192-byte ones, each ended by a ZLP on another transfer id, come whole.
var _ = It("replays the dongle echo capture: every uncut frame, ZLP-ended ones included", func(ctx SpecContext) {
	d := openModel("qemu-usbnet-dongle-echo.pcap", &logLines{})
	Expect(d.Claim(1)).To(Succeed())
	DeferCleanup(d.Release, 1)
	Expect(d.SetAlt(1, 1)).To(Succeed())
	in, err := d.OpenEndpoint(0x82)
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(in.Close)
	var sizes []int
	for range 6 {
		Expect(in.Submit(&hw.Transfer{Buf: make([]byte, 1536)})).To(Succeed())
		t, err := in.Wait(ctx)
		Expect(err).NotTo(HaveOccurred())
		Expect(t.Err).NotTo(HaveOccurred())
		Expect(t.Data()[12:14]).To(Equal([]byte{0x88, 0xb5}), "an echoed dongleblast frame")
		sizes = append(sizes, t.N)
	}
	Expect(sizes).To(Equal([]int{60, 63, 64, 65, 128, 192}))
	st := d.Stats()
	Expect(st.InTransfers).To(Equal(12), "11 echoes and the interrupt's link notification")
	Expect(st.InSkippedTruncated).To(Equal(5), "the echoes over 256 bytes")
}, SpecTimeout(5*time.Second))

// The lab capture of dongle's driver (fixtures/qemu-usbnet-dongle-zlp-filter.md)
// reopens the device for every spec, so QEMU's transfer ids start again
// while stale polls of the same ids are still unpaired: replayed in
// submission order, frames came out glued to others (19 of 23 arrived).
var _ = It("replays the lab's ZLP/filter capture frame by frame despite reused transfer ids", func(ctx SpecContext) {
	d := openModel("qemu-usbnet-dongle-zlp-filter.pcap", &logLines{})
	Expect(d.Claim(1)).To(Succeed())
	DeferCleanup(d.Release, 1)
	Expect(d.SetAlt(1, 1)).To(Succeed())
	in, err := d.OpenEndpoint(0x82)
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(in.Close)
	want := []int{60, 61, 63, 64, 65, 127, 128, 129, 191, 192, 193, // the echo specs
		62, 64, 66, 126, 128, 130, 190, 192, 194, 200, 224, 250} // dongleblast echo
	var sizes []int
	for range want {
		Expect(in.Submit(&hw.Transfer{Buf: make([]byte, 1536)})).To(Succeed())
		t, err := in.Wait(ctx)
		Expect(err).NotTo(HaveOccurred())
		Expect(t.Err).NotTo(HaveOccurred())
		sizes = append(sizes, t.N)
	}
	Expect(sizes).To(Equal(want))
	Expect(d.Stats().InSkippedTruncated).To(BeZero())
}, SpecTimeout(5*time.Second))
