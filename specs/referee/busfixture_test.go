package referee_test

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"os/exec"
	"path/filepath"
	"strconv"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"dongle/usbnet/decode"
)

// tsharkFrame is one Ethernet frame tshark dissects: the capture's record
// number (tshark's frame.number, 1-based) and its bytes from the Ethernet
// header to the end of its payload.
type tsharkFrame struct {
	Num  int
	Data []byte
}

// tsharkEth asks tshark for every Ethernet frame it dissects in the
// records of path that filter (a display filter) selects: several per
// record with NCM.
func tsharkEth(path, filter string) []tsharkFrame {
	GinkgoHelper()
	if _, err := exec.LookPath("tshark"); err != nil {
		Skip("tshark not installed (CI installs it): cannot compare with Wireshark's dissection")
	}
	// IP and ARP undissected: every frame's payload is then one data span.
	out, err := exec.Command("tshark", "-r", path, "--disable-protocol", "ip", "--disable-protocol", "arp", "--disable-protocol", "ipv6",
		"-Y", "eth && ("+filter+")", "-T", "json", "-x", "--no-duplicate-keys").Output()
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
	var frames []tsharkFrame
	for i, p := range pkts {
		var fr struct {
			Number string `json:"frame.number"`
		}
		Expect(json.Unmarshal(p.Source.Layers["frame"], &fr)).To(Succeed(), "packet %d", i)
		num, err := strconv.Atoi(fr.Number)
		Expect(err).NotTo(HaveOccurred(), "packet %d: frame.number %q", i, fr.Number)
		var frameRaw []any
		Expect(json.Unmarshal(p.Source.Layers["frame_raw"], &frameRaw)).To(Succeed(), "packet %d", i)
		all, err := hex.DecodeString(frameRaw[0].(string))
		Expect(err).NotTo(HaveOccurred())
		eth := spans(p.Source.Layers["eth_raw"])
		var data [][2]int
		if raw, ok := p.Source.Layers["data_raw"]; ok {
			data = spans(raw)
		}
		for j := range eth {
			end := eth[j][0] + eth[j][1]
			if j < len(data) {
				end = data[j][0] + data[j][1]
			}
			frames = append(frames, tsharkFrame{num, all[eth[j][0]:end]})
		}
	}
	return frames
}

// deviceFilter is tshark's display filter for the records of device
// BUS.ADDR.
func deviceFilter(dev string) string {
	bus, addr, err := decode.ParseDevice(dev)
	Expect(err).NotTo(HaveOccurred())
	return fmt.Sprintf("usb.bus_id == %d && usb.device_address == %d", bus, addr)
}

// sameFrames checks dongle's frames against tshark's, frame for frame.
func sameFrames(got []decode.Frame, want []tsharkFrame, what string) {
	GinkgoHelper()
	Expect(got).To(HaveLen(len(want)), "%s: frames decoded vs tshark's", what)
	for i := range want {
		Expect(bytes.Equal(got[i].Data, want[i].Data)).To(BeTrue(), "%s: frame %d (record %d, tshark %d):\n got % x\nwant % x",
			what, i, got[i].Record+1, want[i].Num, got[i].Data, want[i].Data)
		Expect(got[i].Record+1).To(Equal(want[i].Num), "%s: frame %d's record", what, i)
	}
}

// The devices of the kept busy-bus fixture (lsusb's BUS.ADDR), in
// busyAdapters' order: the lab test's log names them.
var busyBusDevices = []string{"6.2", "6.3"}

var _ = Describe("the lab's busy-bus and configuration-change captures kept in fixtures/", func() {
	fixture := func(name string) string { return filepath.Join("..", "..", "fixtures", name) }

	It("busy bus: decode lists the root hub and both adapters, refuses to guess, and decodes each as tshark (NCM) or as the test sent (r8152)", func() {
		path := fixture(busyBusFixture)
		busyBusChecks(path, busyBusDevices)

		By("the NCM model's frames, frame for frame as tshark dissects that device's records")
		tr, err := decode.ReadFile(path, decode.Options{Device: busyBusDevices[0]})
		Expect(err).NotTo(HaveOccurred())
		want := tsharkEth(path, deviceFilter(busyBusDevices[0]))
		Expect(len(want)).To(BeNumerically(">=", 2*len(busyAdapters[0].Sizes)+4), "tshark's NCM frames: the test frames and the pings, both ways")
		sameFrames(tr.Frames, want, "cdc_ncm")

		By("the RTL8153B model: tshark has no r8152 dissector and reads each transfer as one Ethernet frame from its first byte: the 8-byte tx_desc or 24-byte rx_desc, then dongle's frame")
		tr, err = decode.ReadFile(path, decode.Options{Device: busyBusDevices[1]})
		Expect(err).NotTo(HaveOccurred())
		want = tsharkEth(path, deviceFilter(busyBusDevices[1]))
		Expect(len(tr.Frames)).To(BeNumerically(">=", 2*len(busyAdapters[1].Sizes)+4), "r8152: the test frames and the pings, both ways")
		// One frame per transfer in this capture (no aggregation at two
		// pings' pace), so tshark's "frames" pair with dongle's.
		Expect(want).To(HaveLen(len(tr.Frames)), "tshark's misread frames, one per transfer")
		for i, w := range want {
			f := tr.Frames[i]
			Expect(w.Num).To(Equal(f.Record+1), "frame %d's record", i)
			desc := 8 // struct tx_desc
			if f.Dir == decode.RX {
				desc = 24 // struct rx_desc
			}
			Expect(len(w.Data)).To(BeNumerically(">=", desc+len(f.Data)), "tshark frame %d", w.Num)
			Expect(bytes.Equal(w.Data[desc:desc+len(f.Data)], f.Data)).To(BeTrue(), "tshark frame %d after the %d-byte descriptor vs dongle's %v frame %d:\n% x\n% x",
				w.Num, desc, f.Dir, i, w.Data[desc:], f.Data)
			Expect(bytes.Equal(w.Data[:len(f.Data)], f.Data)).To(BeFalse(), "tshark frame %d is not the frame itself", w.Num)
		}
	})

	It("configuration change: ECM then RNDIS, decoded per configuration; tshark right on the ECM part, reading RNDIS headers as Ethernet after", func() {
		path := fixture(rndisConfigFixture)
		tr := rndisConfigChecks(path, usbNetMACs)
		dev := fmt.Sprintf("%d.%d", tr.Bus, tr.Address)
		change := rndisSwitch(tr)
		var ecm, rndis []decode.Frame
		for _, f := range tr.Frames {
			if f.Record < change {
				ecm = append(ecm, f)
			} else {
				rndis = append(rndis, f)
			}
		}
		ts := tsharkEth(path, deviceFilter(dev))
		var tsECM, tsRNDIS []tsharkFrame
		for _, f := range ts {
			if f.Num-1 < change {
				tsECM = append(tsECM, f)
			} else {
				tsRNDIS = append(tsRNDIS, f)
			}
		}
		By("configuration 1 (ECM): frame for frame as tshark")
		sameFrames(ecm, tsECM, "cdc_ether")

		By("configuration 2 (RNDIS): tshark's \"Ethernet\" frames are the 44-byte REMOTE_NDIS_PACKET_MSG header followed by dongle's frame")
		Expect(tsRNDIS).To(HaveLen(len(rndis)), "tshark dissects each RNDIS transfer as one Ethernet frame")
		for i, f := range tsRNDIS {
			Expect(len(f.Data)).To(BeNumerically(">", 44))
			// MessageType 1 (REMOTE_NDIS_PACKET_MSG), little-endian: the
			// "destination MAC" tshark shows is 01:00:00:00:...
			Expect(f.Data[:4]).To(Equal([]byte{1, 0, 0, 0}), "tshark frame %d", f.Num)
			Expect(bytes.Equal(f.Data[44:], rndis[i].Data)).To(BeTrue(), "tshark frame %d after the RNDIS header vs dongle's frame %d:\n% x\n% x", f.Num, i, f.Data[44:], rndis[i].Data)
		}
	})
})

// usbNetMACs are the guest netdev's MAC under cdc_ether and under
// rndis_host in the kept fixture (the lab test's log names them).
var usbNetMACs = []net.HardwareAddr{
	{0x52, 0x54, 0x00, 0x12, 0x34, 0x56},
	{0x52, 0x54, 0x00, 0x12, 0x34, 0x56},
}

// rndisSwitch is the record of the SET_CONFIGURATION that selected usb-net's
// RNDIS configuration in tr.
func rndisSwitch(tr *decode.Trace) int {
	GinkgoHelper()
	for _, s := range tr.Selections {
		if s.Config == 2 {
			return s.Record
		}
	}
	Fail(fmt.Sprintf("no selection of configuration 2: %+v", tr.Selections))
	return 0
}

// rndisConfigChecks is what the lab test and the fixture's test check of
// the usb-net capture: one adapter, chosen without --device; the host's
// selections configuration 1 (cdc_ether) then 2 (RNDIS); each phase's
// test frames, with the MAC macs[phase], decoded both ways on its side of
// the change; no framing error.
func rndisConfigChecks(path string, macs []net.HardwareAddr) *decode.Trace {
	GinkgoHelper()
	tr, err := decode.ReadFile(path, decode.Options{})
	Expect(err).NotTo(HaveOccurred())
	Expect(tr.Errors).To(BeEmpty(), "framing errors")
	var sel []string
	for _, s := range tr.Selections {
		// SET_INTERFACE within a configuration is a selection too: one
		// entry per configuration change here.
		v := fmt.Sprintf("%d:%s", s.Config, s.Function)
		if s.Config > 0 && (len(sel) == 0 || sel[len(sel)-1] != v) {
			sel = append(sel, v)
		}
	}
	Expect(sel).To(Equal([]string{"1:cdc_ether", "2:RNDIS"}), "configurations the host selected: %+v", tr.Selections)
	change := rndisSwitch(tr)
	for i, ph := range usbNetPhases {
		for _, f := range ph.testFrames(macs[i]) {
			for _, dir := range []decode.Dir{decode.TX, decode.RX} {
				at := -1
				for _, g := range tr.Frames {
					if g.Dir == dir && bytes.Equal(g.Data, f) {
						at = g.Record
					}
				}
				Expect(at).NotTo(Equal(-1), "%s %v test frame %x...", ph.Driver, dir, f[:18])
				Expect(at < change).To(Equal(ph.Config == 1), "%s %v test frame at record %d, the RNDIS configuration from %d", ph.Driver, dir, at, change)
			}
		}
	}
	return tr
}
