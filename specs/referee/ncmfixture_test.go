package referee_test

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"os/exec"
	"path/filepath"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"dongle/hw"
	"dongle/hw/usbmon"
	"dongle/usbnet/decode"
)

// tsharkNCMFrames asks tshark for every Ethernet frame it dissects in
// path: with NCM, several per USB packet (eth_raw and data_raw are then
// lists of spans), each the bytes from its Ethernet header to the end of
// its payload.
func tsharkNCMFrames(path string) [][]byte {
	GinkgoHelper()
	if _, err := exec.LookPath("tshark"); err != nil {
		Skip("tshark not installed (CI installs it): cannot compare with Wireshark's NCM dissection")
	}
	// IP and ARP undissected: every frame's payload is then one data span
	// (the model's fixture carries pings and ARP, not only test frames).
	out, err := exec.Command("tshark", "-r", path, "--disable-protocol", "ip", "--disable-protocol", "arp", "--disable-protocol", "ipv6",
		"-Y", "eth", "-T", "json", "-x", "--no-duplicate-keys").Output()
	Expect(err).NotTo(HaveOccurred(), "tshark -r %s", path)
	var pkts []struct {
		Source struct {
			Layers map[string]json.RawMessage `json:"layers"`
		} `json:"_source"`
	}
	Expect(json.Unmarshal(out, &pkts)).To(Succeed())
	spans := func(raw json.RawMessage) [][2]int {
		var one []any
		if json.Unmarshal(raw, &one) == nil && len(one) >= 3 {
			if _, ok := one[0].(string); ok {
				return [][2]int{{int(one[1].(float64)), int(one[2].(float64))}}
			}
		}
		var many [][]any
		Expect(json.Unmarshal(raw, &many)).To(Succeed(), "tshark span %s", raw)
		var out [][2]int
		for _, x := range many {
			out = append(out, [2]int{int(x[1].(float64)), int(x[2].(float64))})
		}
		return out
	}
	var frames [][]byte
	for i, p := range pkts {
		var frameRaw []any
		Expect(json.Unmarshal(p.Source.Layers["frame_raw"], &frameRaw)).To(Succeed(), "packet %d", i)
		all, err := hex.DecodeString(frameRaw[0].(string))
		Expect(err).NotTo(HaveOccurred())
		eth, data := spans(p.Source.Layers["eth_raw"]), spans(p.Source.Layers["data_raw"])
		Expect(eth).To(HaveLen(len(data)), "packet %d: Ethernet headers and payloads", i)
		for j := range eth {
			frames = append(frames, all[eth[j][0]:data[j][0]+data[j][1]])
		}
	}
	return frames
}

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
			want := tsharkNCMFrames(path)
			Expect(want).To(HaveLen(frames), "frames tshark finds")
			Expect(tr.Frames).To(HaveLen(len(want)), "frames decoded")
			for i := range want {
				Expect(bytes.Equal(tr.Frames[i].Data, want[i])).To(BeTrue(), "frame %d:\n got % x\nwant % x", i, tr.Frames[i].Data, want[i])
			}
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
