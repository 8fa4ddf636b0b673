package referee_test

import (
	"path/filepath"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"dongle/hw"
	"dongle/hw/usbmon"
	"dongle/usbnet/decode"
)

// ncmModelFixture is the kernel cdc_ncm's bring-up of the NCM model over
// USB/IP, as ncm_model_test.go writes it (ncm-model.pcap).
const ncmModelFixture = "usbip-ncm-kernel-cdc_ncm.pcap"

var _ = Describe("the CDC-NCM captures kept in fixtures/ (Linux f_ncm and the NCM model in the lab)", func() {
	DescribeTable("decode frame for frame as Wireshark dissects them",
		func(name string, frames int) {
			path := filepath.Join("..", "..", "fixtures", name)
			tr, err := decode.ReadFile(path, decode.Options{})
			Expect(err).NotTo(HaveOccurred())
			Expect(tr.Driver).To(Equal("cdc_ncm"))
			Expect(tr.Errors).To(BeEmpty(), "framing errors")
			// With NCM, tshark dissects several frames per USB packet.
			want := tsharkEth(path, "frame")
			Expect(want).To(HaveLen(frames), "frames tshark finds")
			sameFrames(tr.Frames, want, name)
			// Aggregation: the bursts travelled several frames per NTB.
			Expect(tr.Stats.TxTransfers).To(BeNumerically("<", frames/2), "TX NTBs")
		},
		Entry("the kernel's cdc_ncm", ncmFixture, 32),
		Entry("dongle's cdc_ncm", ncmDongleFixture, 32),
		Entry("the kernel's cdc_ncm on the NCM model over USB/IP", ncmModelFixture, 72),
	)

	It("holds, on the NCM model, the requests kept in testdata/kernel-ncm-model.txt, and the data interface's alt 1, 0, 1", func() {
		recs, _, err := usbmon.ReadFile(filepath.Join("..", "..", "fixtures", ncmModelFixture))
		Expect(err).NotTo(HaveOccurred())
		var got []string
		for _, q := range classRequests(recs) {
			got = append(got, q.String())
		}
		var want []string
		for _, q := range kernelLog("ncm-model") {
			want = append(want, q.String())
		}
		Expect(got).To(Equal(want))
		// cdc_ncm_bind_common: alt 1 (probing the data interface), alt 0
		// before the NCM requests, alt 1 once they are done.
		var alts []uint8
		for _, r := range recs {
			if r.XferType == usbmon.XferControl && r.Type == usbmon.Submit && r.FlagSetup == 0 && r.Setup[0] == 0x01 && r.Setup[1] == hw.ReqSetInterface {
				Expect(r.Setup[4]).To(BeEquivalentTo(1), "SET_INTERFACE to the data interface")
				alts = append(alts, r.Setup[2])
			}
		}
		Expect(alts).To(Equal([]uint8{1, 0, 1}))
	})

	It("holds the requests kept in testdata/kernel-ncm.txt", func() {
		recs, _, err := usbmon.ReadFile(filepath.Join("..", "..", "fixtures", ncmFixture))
		Expect(err).NotTo(HaveOccurred())
		ncmCaptureShape(recs)
		var got []string
		for _, q := range classRequests(recs) {
			got = append(got, q.String())
		}
		var want []string
		for _, q := range kernelLog("ncm") {
			want = append(want, q.String())
		}
		Expect(got).To(Equal(want))
	})
})
