package referee_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"dongle/hw"
	"dongle/hw/sim"
	"dongle/hw/sim/ax88179"
	"dongle/hw/sim/ax88772"
	"dongle/hw/sim/ncm"
	"dongle/hw/sim/peer"
	"dongle/hw/sim/rtl8153"
	"dongle/specs/referee"
	"dongle/usbnet"
	"dongle/usbnet/catalog"
)

// model is a fresh in-process model with its request log.
type model struct {
	dev      *sim.Device
	requests func() []referee.Request
	close    func()
}

func newModel(name string) model {
	wire := sim.NewWire()
	p := peer.New(wire.B(), nil, nil)
	switch name {
	case "ax88772b":
		dev, m := ax88772.NewDevice(ax88772.Options{})
		m.Plug(wire.A())
		return model{dev, func() []referee.Request {
			var out []referee.Request
			for _, r := range m.Requests() {
				out = append(out, referee.Request{Setup: r.Setup, Data: r.Data, Stalled: r.Stalled()})
			}
			return out
		}, p.Close}
	case "ncm", "ncm-model":
		dev, m := ncm.NewDevice(ncm.Options{})
		m.Connect(wire.A())
		return model{dev, func() []referee.Request {
			var out []referee.Request
			for _, r := range m.Requests() {
				if r.Setup.RequestType&0x60 != hw.TypeClass {
					continue // the kernel log holds the class requests only
				}
				out = append(out, referee.Request{Setup: r.Setup, Data: r.Data, Stalled: r.Stalled()})
			}
			return out
		}, p.Close}
	case "ax88179":
		m, dev := ax88179.New(ax88179.Config{})
		m.Connect(wire.A())
		return model{dev, func() []referee.Request {
			var out []referee.Request
			for _, r := range m.Requests() {
				out = append(out, referee.Request{Setup: r.Setup, Data: r.Data, Stalled: r.Err != nil})
			}
			return out
		}, p.Close}
	case "rtl8153", "rtl8153-super":
		cfg := rtl8153.Config{}
		if name == "rtl8153-super" {
			cfg.Speed = hw.SpeedSuper
		}
		m, dev := rtl8153.New(cfg)
		m.Connect(wire.A())
		return model{dev, func() []referee.Request {
			var out []referee.Request
			for _, r := range m.Requests() {
				out = append(out, referee.Request{Setup: r.Setup, Data: r.Data, Stalled: r.Err != nil})
			}
			return out
		}, p.Close}
	}
	panic("referee test: unknown model " + name)
}

func kernelLog(name string) []referee.Request {
	f, err := os.Open(filepath.Join("testdata", "kernel-"+name+".txt"))
	Expect(err).NotTo(HaveOccurred())
	defer f.Close()
	reqs, err := referee.ParseLog(f)
	Expect(err).NotTo(HaveOccurred())
	Expect(reqs).NotTo(BeEmpty())
	return reqs
}

// dongleRequests brings dongle's driver up on a fresh model the way the lab
// brought the kernel's up (probe, open, carrier) and returns the requests.
func dongleRequests(ctx context.Context, name string) []referee.Request {
	m := newModel(name)
	defer m.close()
	d, err := usbnet.Probe(m.dev, catalog.ForModels()...)
	Expect(err).NotTo(HaveOccurred())
	Expect(d.Net.Open()).To(Succeed())
	Eventually(ctx, d.Net.Carrier).WithTimeout(10 * time.Second).Should(BeTrue())
	reqs := m.requests()
	Expect(d.Net.Close()).To(Succeed())
	Expect(d.Disconnect()).To(Succeed())
	Expect(m.dev.Close()).To(Succeed())
	return reqs
}

// models are the models whose kernel log was recorded on the model itself
// (ffsmodel, FunctionFS or USB/IP): each request must be answered again by
// a fresh model. The NCM model's log is the kernel's cdc_ncm on the model
// over USB/IP (ncm_model_test.go).
var models = []TableEntry{Entry("AX88772B", "ax88772b"), Entry("AX88179", "ax88179"),
	Entry("RTL8153B", "rtl8153"), Entry("RTL8153B at SuperSpeed", "rtl8153-super"),
	Entry("NCM (the kernel's cdc_ncm on the model over USB/IP)", "ncm-model")}

// compared are the models dongle's own driver is compared on. The NCM model
// twice: with the kernel's log on the model itself, and with its log on
// Linux f_ncm (ncm_test.go): a different device, so that log is compared,
// not replayed (f_ncm announces CRC mode, which the kernel then turns off;
// the model has no CRC mode and stalls that request, as a device without
// the capability should).
var compared = []TableEntry{Entry("AX88772B", "ax88772b"), Entry("AX88179", "ax88179"), Entry("RTL8153B", "rtl8153"),
	Entry("NCM (kernel log on the model)", "ncm-model"), Entry("NCM (kernel log from f_ncm)", "ncm")}

var _ = Describe("the Linux driver's requests, recorded in the lab", func() {
	DescribeTable("are all answered by a fresh model, none stalled",
		func(name string) {
			m := newModel(name)
			defer m.close()
			for i, r := range kernelLog(name) {
				data := make([]byte, r.Setup.Length)
				if !r.Setup.In() {
					copy(data, r.Data)
				}
				_, err := m.dev.Control(context.Background(), r.Setup, data)
				Expect(err).NotTo(HaveOccurred(), "kernel request %d: %v", i, r)
			}
			Expect(m.requests()).To(HaveLen(len(kernelLog(name))))
		}, models)

	DescribeTable("compared with dongle's driver on the same model",
		func(name string) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			k := kernelLog(name)
			d := dongleRequests(ctx, name)
			for _, r := range d {
				Expect(r.Stalled).To(BeFalse(), "dongle's driver made a request the model stalls: %v", r)
			}
			edits := referee.Diff(k, d)
			var b strings.Builder
			var same, onlyK, onlyD int
			for _, e := range edits {
				switch e.Op {
				case ' ':
					same++
				case '-':
					onlyK++
				case '+':
					onlyD++
				}
				fmt.Fprintf(&b, "%c %s\n", e.Op, e.Key)
			}
			fmt.Fprintf(GinkgoWriter, "%s: kernel %d requests, dongle %d; common %d, kernel only %d, dongle only %d\n%s",
				name, len(k), len(d), same, onlyK, onlyD, b.String())
			if dir := os.Getenv("DONGLE_REFEREE_DIFF"); dir != "" {
				Expect(os.WriteFile(filepath.Join(dir, "diff-"+name+".txt"), []byte(b.String()), 0o644)).To(Succeed())
			}
			// Both drivers must at least read the MAC the same way and start
			// the receiver: the common part is never empty.
			Expect(same).To(BeNumerically(">", 0))
		}, compared)
})

var _ = Describe("Diff", func() {
	req := func(r uint8, v uint16) referee.Request {
		return referee.Request{Setup: hw.Setup{RequestType: 0x40, Request: r, Value: v}}
	}
	It("keeps the common subsequence and marks the rest", func() {
		a := []referee.Request{req(1, 0), req(2, 0), req(3, 0), req(4, 0)}
		b := []referee.Request{req(1, 0), req(3, 0), req(5, 0), req(4, 0)}
		var ops []string
		for _, e := range referee.Diff(a, b) {
			ops = append(ops, fmt.Sprintf("%c%d", e.Op, max(e.A, e.B)))
		}
		Expect(ops).To(Equal([]string{" 0", "-1", " 2", "+2", " 3"}))
	})
	It("distinguishes OUT data but not IN answers", func() {
		in := referee.Request{Setup: hw.Setup{RequestType: 0xc0, Request: 7, Length: 2}, Data: []byte{1, 2}}
		in2 := in
		in2.Data = []byte{9, 9}
		out := referee.Request{Setup: hw.Setup{RequestType: 0x40, Request: 8, Length: 2}, Data: []byte{1, 2}}
		out2 := out
		out2.Data = []byte{9, 9}
		Expect(in.Key()).To(Equal(in2.Key()))
		Expect(out.Key()).NotTo(Equal(out2.Key()))
	})
	It("rebuilds both sequences from its edits", func() {
		a := []referee.Request{req(1, 1), req(1, 2), req(2, 1), req(1, 1)}
		b := []referee.Request{req(2, 1), req(1, 1), req(1, 3)}
		var ra, rb []string
		for _, e := range referee.Diff(a, b) {
			if e.Op != '+' {
				ra = append(ra, e.Key)
			}
			if e.Op != '-' {
				rb = append(rb, e.Key)
			}
		}
		keys := func(rs []referee.Request) (k []string) {
			for _, r := range rs {
				k = append(k, r.Key())
			}
			return
		}
		Expect(ra).To(Equal(keys(a)))
		Expect(rb).To(Equal(keys(b)))
	})
})

var _ = Describe("ParseLog", func() {
	It("reads what Request.String writes", func() {
		r := referee.Request{Setup: hw.Setup{RequestType: 0xc0, Request: 0x13, Length: 6}, Data: []byte{0, 0xe, 0xc6, 1, 2, 3}, Stalled: true}
		got, err := referee.ParseLog(strings.NewReader("# comment\n\n" + r.String() + "\n"))
		Expect(err).NotTo(HaveOccurred())
		Expect(got).To(Equal([]referee.Request{r}))
	})
	It("names the bad line", func() {
		_, err := referee.ParseLog(strings.NewReader("c0 13 0000\n"))
		Expect(err).To(MatchError(ContainSubstring("line 1")))
		_, err = referee.ParseLog(strings.NewReader("c0 1g 0000 0000 0006\n"))
		Expect(err).To(MatchError(ContainSubstring("field 2")))
	})
})
