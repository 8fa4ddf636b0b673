package ffs_test

import (
	"context"
	"encoding/binary"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gleak"

	"dongle/hw"
	"dongle/hw/ffs"
	"dongle/hw/sim/ncm"
)

// A CDC function: the data interface's bulk endpoints exist only in alt 1.
var _ = Describe("Bridge on a function with alternate settings (CDC NCM)", func() {
	var (
		fn *fakeFunction
		br *ffs.Bridge
		m  *ncm.Model
	)
	BeforeEach(func() {
		good := gleak.Goroutines()
		DeferCleanup(func() { Eventually(gleak.Goroutines).ShouldNot(gleak.HaveLeaked(good)) })
		var dev hw.Device
		dev, m = ncm.NewDevice(ncm.Options{})
		DeferCleanup(dev.Close)
		fn = newFunction()
		var err error
		br, err = ffs.New(context.Background(), dev, fn, ffs.Options{})
		Expect(err).NotTo(HaveOccurred())
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- br.Serve(ctx) }()
		DeferCleanup(func() {
			cancel()
			fn.closeAll()
			Eventually(done).Should(Receive(BeNil()))
		})
	})

	It("declares both settings of the data interface and serves alt 1's endpoints", func() {
		Expect(br.Endpoints()).To(Equal([]ffs.Endpoint{{0x81, 3, 16}, {0x82, 2, 512}, {0x02, 2, 512}}))
		fn.ep0.mu.Lock()
		blob := fn.ep0.ops[0].data
		fn.ep0.mu.Unlock()
		hsCount := int(binary.LittleEndian.Uint32(blob[16:]))
		var alts []int
		parts, err := hw.Descriptors(blob[20:])
		Expect(err).NotTo(HaveOccurred())
		for _, d := range parts[len(parts)-hsCount:] { // the high-speed set
			if d[1] == hw.DescInterface && d[2] == ncm.DataIface {
				alts = append(alts, int(d[3]))
			}
		}
		Expect(alts).To(Equal([]int{0, 1}))
	})

	It("takes every ENABLE as the host selecting alt 1 again, so the model notifies the link each time", func() {
		notes := func(n int) []byte {
			var codes []byte
			for _, p := range packets(fn.eps[1].host, n) {
				codes = append(codes, p[1])
			}
			return codes
		}
		// The bridge selected alt 1 at New: speed, then connection.
		Expect(notes(2)).To(Equal([]byte{ncm.NotifySpeedChange, ncm.NotifyNetworkConnection}))
		Consistently(fn.eps[1].host, "50ms").ShouldNot(Receive())
		fn.ep0.event(ffs.EventEnable)
		Expect(notes(2)).To(Equal([]byte{ncm.NotifySpeedChange, ncm.NotifyNetworkConnection}))
		Expect(m.Stats().Notifications).To(BeEquivalentTo(4))
	})
})

var _ = Describe("ClassDescriptorHint", func() {
	It("names the CDC functional descriptors FunctionFS refuses, and nothing for a vendor function", func() {
		d, _ := ncm.NewDevice(ncm.Options{})
		cfg, err := hw.ReadConfig(context.Background(), d, 0)
		Expect(err).NotTo(HaveOccurred())
		Expect(ffs.ClassDescriptorHint(cfg.Raw)).To(ContainSubstring("4 class-specific interface descriptors"))
		m, _ := vendorModel()
		Expect(ffs.ClassDescriptorHint(m.Configs[0])).To(BeEmpty())
	})
})
