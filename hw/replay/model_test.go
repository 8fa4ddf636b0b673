package replay_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/google/gopacket/pcapgo"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"dongle/hw"
	"dongle/hw/replay"
	"dongle/hw/usbmon"
)

func fixture(name string) string { return filepath.Join("..", "..", "fixtures", name) }

type logLines struct {
	mu    sync.Mutex
	lines []string
}

func (l *logLines) Logf(format string, a ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, fmt.Sprintf(format, a...))
}

func (l *logLines) all() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

func openModel(name string, log *logLines) *replay.Model {
	GinkgoHelper()
	recs, _, err := usbmon.ReadFile(fixture(name))
	Expect(err).NotTo(HaveOccurred())
	m, err := replay.NewModel(recs, replay.ModelOptions{Name: name, Logf: log.Logf})
	Expect(err).NotTo(HaveOccurred())
	return m
}

func ctxFor(d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	DeferCleanup(cancel)
	return ctx
}

// hostFrames are the 70 frames of the echo run as the host peer saw them.
func hostFrames() [][]byte {
	GinkgoHelper()
	f, err := os.Open(fixture("hostecho-rx-ethernet.pcap"))
	Expect(err).NotTo(HaveOccurred())
	defer f.Close()
	r, err := pcapgo.NewReader(f)
	Expect(err).NotTo(HaveOccurred())
	var out [][]byte
	for {
		b, _, err := r.ReadPacketData()
		if err == io.EOF {
			return out
		}
		Expect(err).NotTo(HaveOccurred())
		out = append(out, b)
	}
}

var _ = Describe("Model replay of QEMU's usb-net under cdc_ether", func() {
	var (
		d   *replay.Model
		log *logLines
		ctx context.Context
	)
	BeforeEach(func() {
		log = &logLines{}
		d = openModel("qemu-usbnet-cdc_ether.pcap", log)
		ctx = ctxFor(5 * time.Second)
	})

	It("answers descriptors from the trace", func() {
		dd, err := hw.ReadDeviceDescriptor(ctx, d)
		Expect(err).NotTo(HaveOccurred())
		Expect([]uint16{dd.Vendor, dd.Product}).To(Equal([]uint16{0x0525, 0xa4a2}))
		Expect(d.Info().Vendor).To(Equal(uint16(0x0525)))
		Expect(d.Info().Product).To(Equal(uint16(0xa4a2)))
		Expect(d.Info().Speed).To(Equal(hw.SpeedFull), "64-byte bulk endpoints")
		Expect(d.Info().Backend).To(Equal("trace:qemu-usbnet-cdc_ether.pcap"))

		// QEMU lists RNDIS (value 2) at index 0 and CDC-ECM (value 1) at 1.
		Expect(dd.NumConfigurations).To(Equal(uint8(2)))
		var values []uint8
		var cfg *hw.Config
		for i := uint8(0); i < dd.NumConfigurations; i++ {
			c, err := hw.ReadConfig(ctx, d, i)
			Expect(err).NotTo(HaveOccurred())
			values = append(values, c.Value)
			if c.Value == 1 {
				cfg = c
			}
		}
		Expect(values).To(Equal([]uint8{2, 1}))
		c, err := d.Configuration()
		Expect(err).NotTo(HaveOccurred())
		Expect(c).To(Equal(1), "the configuration cdc_ether selected")
		// The CDC Ethernet Networking functional descriptor (0x24/0x0f)
		// names the MAC string.
		var iMAC uint8
		for _, in := range cfg.Interfaces {
			for _, a := range in.Alts {
				ds, err := hw.Descriptors(a.Extra)
				Expect(err).NotTo(HaveOccurred())
				for _, x := range ds {
					if x[1] == hw.DescCSInterface && len(x) >= 4 && x[2] == 0x0f {
						iMAC = x[3]
					}
				}
			}
		}
		Expect(iMAC).NotTo(BeZero())
		mac, err := hw.ReadString(ctx, d, iMAC)
		Expect(err).NotTo(HaveOccurred())
		Expect(mac).To(Equal("525400123456"))
		Expect(d.Stats().ControlStalled).To(BeZero())
	})

	It("answers the same request with another wLength with min(len) bytes", func() {
		buf := make([]byte, 4)
		n, err := d.Control(ctx, hw.Setup{RequestType: 0x80, Request: hw.ReqGetDescriptor, Value: 0x0100}, buf)
		Expect(err).NotTo(HaveOccurred())
		Expect(n).To(Equal(4))
		Expect(buf).To(Equal([]byte{18, 1, 0x00, 0x02}))
		Expect(d.Stats().ControlLength).To(Equal(1))
	})

	It("replays recorded stalls", func() {
		// The device-qualifier request is stalled by a full-speed device (QEMU status -121).
		_, err := d.Control(ctx, hw.Setup{RequestType: 0x80, Request: hw.ReqGetDescriptor, Value: 0x0600}, make([]byte, 10))
		Expect(errors.Is(err, hw.ErrStall)).To(BeTrue())
	})

	It("stalls an unknown request and logs the nearest recorded one", func() {
		_, err := d.Control(ctx, hw.Setup{RequestType: 0xc0, Request: 0x42, Value: 1}, make([]byte, 2))
		Expect(errors.Is(err, hw.ErrStall)).To(BeTrue())
		Expect(err.Error()).To(ContainSubstring("c0 42 0001 0000 0002"))
		Expect(log.all()).To(ContainSubstring("nearest recorded: "))
		Expect(log.all()).To(MatchRegexp(`nearest recorded: [0-9a-f]{2} [0-9a-f]{2} .* \(record \d+\)`))
		Expect(d.Stats().ControlStalled).To(Equal(1))
	})
})

var _ = Describe("Model replay of the gousb echo run", func() {
	var (
		d   *replay.Model
		log *logLines
		ctx context.Context
	)
	BeforeEach(func() {
		log = &logLines{}
		d = openModel("qemu-usbnet-gousb-echo.pcap", log)
		ctx = ctxFor(5 * time.Second)
		Expect(d.Claim(1)).To(Succeed())
		DeferCleanup(d.Release, 1)
		Expect(d.SetAlt(1, 1)).To(Succeed())
	})

	It("yields the echoed frames on bulk IN, then goes quiet", func() {
		in, err := d.OpenEndpoint(0x82)
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(in.Close)
		Expect(in.Desc().MaxPacketSize).To(Equal(uint16(64)))
		want := hostFrames()
		Expect(want).To(HaveLen(70))
		var got [][]byte
		for range want {
			Expect(in.Submit(&hw.Transfer{Buf: make([]byte, 1536)})).To(Succeed())
			t, err := in.Wait(ctx)
			Expect(err).NotTo(HaveOccurred())
			Expect(t.Err).NotTo(HaveOccurred())
			got = append(got, t.Data())
		}
		Expect(got).To(Equal(want))
		st := d.Stats()
		Expect(st.InTransfers).To(Equal(70))
		Expect(st.InSkippedTruncated).To(BeZero())

		// Recorded data exhausted: the next transfer stays pending until cancelled.
		Expect(in.Submit(&hw.Transfer{Buf: make([]byte, 1536)})).To(Succeed())
		short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
		defer cancel()
		_, err = in.Wait(short)
		Expect(err).To(MatchError(context.DeadlineExceeded))
		in.Cancel()
		t, err := in.Wait(ctx)
		Expect(err).NotTo(HaveOccurred())
		Expect(errors.Is(t.Err, hw.ErrCancelled)).To(BeTrue())
	})

	It("splits frames across small host transfers by packets", func() {
		in, err := d.OpenEndpoint(0x82)
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(in.Close)
		// Frame 0 is 60 bytes: one short packet. A 64-byte buffer takes it whole.
		var sizes []int
		for i := 0; i < 7; i++ {
			Expect(in.Submit(&hw.Transfer{Buf: make([]byte, 64)})).To(Succeed())
			t, err := in.Wait(ctx)
			Expect(err).NotTo(HaveOccurred())
			Expect(t.Err).NotTo(HaveOccurred())
			sizes = append(sizes, t.N)
		}
		// 60, 61, 62, 63, then the 64-byte frame fills the buffer, then its
		// ZLP completes a transfer with 0 bytes, then 64 of the 65-byte frame.
		Expect(sizes).To(Equal([]int{60, 61, 62, 63, 64, 0, 64}))
	})

	It("checks OUT data against the recording without failing", func() {
		out, err := d.OpenEndpoint(0x02)
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(out.Close)
		send := func(b []byte) {
			Expect(out.Submit(&hw.Transfer{Buf: b})).To(Succeed())
			t, err := out.Wait(ctx)
			Expect(err).NotTo(HaveOccurred())
			Expect(t.Err).NotTo(HaveOccurred())
			Expect(t.N).To(Equal(len(b)))
		}
		for _, f := range hostFrames() {
			send(f)
			if len(f)%64 == 0 {
				send(nil) // the ZLP the recording has after full-packet frames
			}
		}
		Expect(d.Stats().OutMatched).To(Equal(72))
		Expect(d.Stats().OutMismatched).To(BeZero())
		send([]byte{1, 2, 3})
		Expect(d.Stats().OutExtra).To(Equal(1))
	})

	It("counts and logs an OUT frame that differs", func() {
		out, err := d.OpenEndpoint(0x02)
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(out.Close)
		f := append([]byte(nil), hostFrames()[0]...)
		f[20] ^= 0xff
		Expect(out.Submit(&hw.Transfer{Buf: f})).To(Succeed())
		_, err = out.Wait(ctx)
		Expect(err).NotTo(HaveOccurred())
		Expect(d.Stats().OutMismatched).To(Equal(1))
		Expect(log.all()).To(ContainSubstring("first difference at byte 20"))
	})
})
