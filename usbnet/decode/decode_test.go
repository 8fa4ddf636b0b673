package decode_test

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"

	"dongle/hw"
	"dongle/hw/usbmon"
	"dongle/skbuff"
	"dongle/usbnet"
	"dongle/usbnet/catalog"
	"dongle/usbnet/cdcecm"
	"dongle/usbnet/decode"
)

const (
	cdcTrace  = "../../fixtures/qemu-usbnet-cdc_ether.pcap"
	echoTrace = "../../fixtures/qemu-usbnet-gousb-echo.pcap"
	echoTruth = "../../fixtures/hostecho-rx-ethernet.pcap"
)

// readEthernet reads every frame of an Ethernet pcap, checking the link type.
func readEthernet(t *testing.T, r io.Reader) [][]byte {
	t.Helper()
	pr, err := pcapgo.NewReader(r)
	if err != nil {
		t.Fatal(err)
	}
	if pr.LinkType() != layers.LinkTypeEthernet {
		t.Fatalf("link type %v, want Ethernet", pr.LinkType())
	}
	var out [][]byte
	for {
		data, ci, err := pr.ReadPacketData()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		if ci.CaptureLength != ci.Length {
			t.Errorf("frame %d: captured %d of %d bytes", len(out)+1, ci.CaptureLength, ci.Length)
		}
		out = append(out, append([]byte(nil), data...))
	}
}

func decodeToPcap(t *testing.T, path string) (*decode.Trace, [][]byte) {
	t.Helper()
	tr, err := decode.ReadFile(path, decode.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := tr.WritePcap(&buf); err != nil {
		t.Fatal(err)
	}
	return tr, readEthernet(t, &buf)
}

// tsharkFrames asks tshark for the Ethernet layer of every record it
// dissects as Ethernet: the frame's bytes from eth_raw's offset to the end.
func tsharkFrames(t *testing.T, path string) [][]byte {
	t.Helper()
	return tsharkFramesAt(t, path, usbmon.HeaderLenMmapped)
}

// tsharkFramesAt is tsharkFrames for a capture whose Ethernet frames start
// hdr bytes into the packet (the link type's header).
func tsharkFramesAt(t *testing.T, path string, hdr int) [][]byte {
	t.Helper()
	if _, err := exec.LookPath("tshark"); err != nil {
		t.Skip("tshark not installed (CI installs it): cannot compare with Wireshark's dissection")
	}
	out, err := exec.Command("tshark", "-r", path, "-Y", "eth", "-T", "json", "-x").Output()
	if err != nil {
		t.Fatalf("tshark: %v", err)
	}
	var pkts []struct {
		Source struct {
			Layers map[string]json.RawMessage `json:"layers"`
		} `json:"_source"`
	}
	if err := json.Unmarshal(out, &pkts); err != nil {
		t.Fatalf("tshark json: %v", err)
	}
	var frames [][]byte
	for i, p := range pkts {
		var frameRaw, ethRaw []any
		if err := json.Unmarshal(p.Source.Layers["frame_raw"], &frameRaw); err != nil {
			t.Fatalf("packet %d frame_raw: %v", i, err)
		}
		if err := json.Unmarshal(p.Source.Layers["eth_raw"], &ethRaw); err != nil {
			t.Fatalf("packet %d eth_raw: %v", i, err)
		}
		all, err := hex.DecodeString(frameRaw[0].(string))
		if err != nil {
			t.Fatal(err)
		}
		off := int(ethRaw[1].(float64))
		if off != hdr {
			t.Fatalf("packet %d: Ethernet at offset %d, expected after the %d-byte header", i, off, hdr)
		}
		frames = append(frames, all[off:])
	}
	return frames
}

func TestCDCEtherMatchesTshark(t *testing.T) {
	want := tsharkFrames(t, cdcTrace)
	tr, got := decodeToPcap(t, cdcTrace)
	if len(want) == 0 {
		t.Fatal("tshark found no Ethernet frames in the fixture")
	}
	if len(got) != len(want) {
		t.Fatalf("decoded %d frames, tshark finds %d", len(got), len(want))
	}
	for i := range want {
		if !bytes.Equal(got[i], want[i]) {
			t.Errorf("frame %d differs:\n got % x\nwant % x", i+1, got[i], want[i])
		}
	}
	if tr.Driver != "cdc_ether" || tr.DriverFrom != "descriptors" {
		t.Errorf("driver %q from %q, want cdc_ether from descriptors", tr.Driver, tr.DriverFrom)
	}
	if tr.MAC.String() != "52:54:00:12:34:56" {
		t.Errorf("MAC %v", tr.MAC)
	}
	if tr.In.Address != 0x82 || tr.Out.Address != 0x02 || tr.Status.Address != 0x81 || tr.In.MaxPacketSize != 64 {
		t.Errorf("endpoints in %v out %v status %v", tr.In, tr.Out, tr.Status)
	}
	if tr.Stats.RxErrors+tr.Stats.TxErrors != 0 {
		t.Errorf("framing errors in a clean trace: %v", tr.Errors)
	}
	if len(tr.Links) == 0 || !tr.Links[0].Up {
		t.Errorf("link events %+v: want NETWORK_CONNECTION up", tr.Links)
	}
	names := map[string]bool{}
	for _, c := range tr.Controls {
		names[c.Name] = true
	}
	for _, n := range []string{"GET_DESCRIPTOR(device)", "SET_CONFIGURATION(1)", "SET_ETHERNET_PACKET_FILTER(DIRECTED|BROADCAST)"} {
		if !names[n] {
			t.Errorf("no control request named %s in %v", n, names)
		}
	}
}

func TestEchoMatchesHostPeer(t *testing.T) {
	f, err := os.Open(echoTruth)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	want := readEthernet(t, f)
	if len(want) != 70 {
		t.Fatalf("ground truth has %d frames, the fixture says 70", len(want))
	}
	tr, _ := decodeToPcap(t, echoTrace)
	var rx, tx [][]byte
	for _, fr := range tr.Frames {
		if fr.Dir == decode.RX {
			rx = append(rx, fr.Data)
		} else {
			tx = append(tx, fr.Data)
		}
	}
	for _, c := range []struct {
		name string
		got  [][]byte
	}{{"RX", rx}, {"TX", tx}} {
		if len(c.got) != len(want) {
			t.Errorf("%s: %d frames, want %d", c.name, len(c.got), len(want))
			continue
		}
		for i := range want {
			if !bytes.Equal(c.got[i], want[i]) {
				t.Errorf("%s frame %d differs", c.name, i+1)
			}
		}
	}
	// 64 and 128 bytes: a ZLP after each, in both directions.
	if tr.Stats.ZLPs != 4 {
		t.Errorf("ZLPs %d, want 4", tr.Stats.ZLPs)
	}
}

// TestTruncatedFrame cuts a bulk IN record as QEMU does (length kept,
// data cut): the frame is reported truncated, not as a framing error, and
// written with CaptureLength < Length.
func TestTruncatedFrame(t *testing.T) {
	recs, lt, err := usbmon.ReadFile(echoTrace)
	if err != nil {
		t.Fatal(err)
	}
	cut := -1
	for i := range recs {
		r := &recs[i]
		if r.XferType == usbmon.XferBulk && r.In() && r.Type == usbmon.Complete && len(r.Data) == 100 {
			r.Data = r.Data[:40]
			cut = i
			break
		}
	}
	if cut < 0 {
		t.Fatal("no 100-byte bulk IN completion in the echo fixture")
	}
	tr, err := decode.Decode(recs, lt, decode.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if tr.Stats.RxTruncated != 1 || tr.Stats.RxErrors != 0 {
		t.Fatalf("truncated %d errors %d, want 1 and 0", tr.Stats.RxTruncated, tr.Stats.RxErrors)
	}
	var buf bytes.Buffer
	if err := tr.WritePcap(&buf); err != nil {
		t.Fatal(err)
	}
	pr, err := pcapgo.NewReader(&buf)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for {
		data, ci, err := pr.ReadPacketData()
		if err != nil {
			break
		}
		if ci.CaptureLength < ci.Length {
			found = ci.CaptureLength == 40 && ci.Length == 100 && len(data) == 40
		}
	}
	if !found {
		t.Error("no frame written with 40 of 100 bytes")
	}
}

func TestForcedDriver(t *testing.T) {
	tr, err := decode.ReadFile(cdcTrace, decode.Options{Driver: "ecm"})
	if err != nil {
		t.Fatal(err)
	}
	if tr.Driver != "cdc_ether" || tr.DriverFrom != "option" {
		t.Errorf("driver %q from %q", tr.Driver, tr.DriverFrom)
	}
	if _, err := decode.ReadFile(cdcTrace, decode.Options{Driver: "rtl8152"}); err == nil {
		t.Error("unknown driver accepted")
	}
}

func TestBadFiles(t *testing.T) {
	dir := t.TempDir()
	notPcap := filepath.Join(dir, "notes.txt")
	os.WriteFile(notPcap, []byte("hello, this is not a capture at all\n"), 0o644)
	good, _ := os.ReadFile(echoTrace)
	short := filepath.Join(dir, "short.pcap")
	os.WriteFile(short, good[:len(good)-30], 0o644)
	for _, c := range []struct {
		path string
		is   func(error) bool
	}{
		{filepath.Join(dir, "missing.pcap"), func(e error) bool { return errors.Is(e, os.ErrNotExist) }},
		{notPcap, func(e error) bool { return e != nil }},
		{echoTruth, func(e error) bool { return e != nil }}, // link type 1
		{notPcap, func(e error) bool { return errors.Is(e, usbmon.ErrNotCapture) && strings.Contains(e.Error(), notPcap) }},
		{echoTruth, func(e error) bool { return errors.Is(e, usbmon.ErrLinkType) }},
	} {
		_, err := decode.ReadFile(c.path, decode.Options{})
		if !c.is(err) {
			t.Errorf("%s: error %v", filepath.Base(c.path), err)
		}
	}
}

// TestCutFileDecodes: a file cut inside its last record decodes up to it,
// and the cut record is reported with its number, offset and cause.
func TestCutFileDecodes(t *testing.T) {
	good, err := os.ReadFile(echoTrace)
	if err != nil {
		t.Fatal(err)
	}
	short := filepath.Join(t.TempDir(), "short.pcap")
	os.WriteFile(short, good[:len(good)-30], 0o644)
	whole, err := decode.ReadFile(echoTrace, decode.Options{})
	if err != nil {
		t.Fatal(err)
	}
	tr, err := decode.ReadFile(short, decode.Options{})
	if err != nil {
		t.Fatal(err)
	}
	recs, _, _ := usbmon.ReadFile(echoTrace)
	if tr.Stats.Damaged != 1 || len(tr.Damage) != 1 || !strings.Contains(tr.Damage[0], fmt.Sprintf("record %d at byte ", len(recs))) || !strings.Contains(tr.Damage[0], "truncated") {
		t.Fatalf("damage %d %q", tr.Stats.Damaged, tr.Damage)
	}
	if tr.Stats.Records+tr.Stats.Ignored != len(recs)-1 || tr.Stats.RxFrames+tr.Stats.TxFrames < whole.Stats.RxFrames+whole.Stats.TxFrames-1 {
		t.Fatalf("cut file: %+v, whole %+v", tr.Stats, whole.Stats)
	}
}

func TestMatchRefusesRNDISOnly(t *testing.T) {
	tr, err := decode.ReadFile(cdcTrace, decode.Options{})
	if err != nil {
		t.Fatal(err)
	}
	// Keep only the RNDIS configuration (value 2) of QEMU's usb-net.
	var rndis []*hw.Config
	for _, c := range tr.Configs {
		if c.Value == 2 {
			rndis = append(rndis, c)
		}
	}
	if len(rndis) != 1 {
		t.Fatalf("RNDIS configuration not found in %d configurations", len(tr.Configs))
	}
	_, err = usbnet.Match("qemu", tr.Device, rndis, 2, catalog.All())
	var ue *usbnet.UnsupportedError
	if !errors.As(err, &ue) || ue.Function != "RNDIS" {
		t.Fatalf("error %v, want RNDIS not supported", err)
	}
}

// bare is a minidriver that claims CDC Ethernet and implements none of
// the optional interfaces decode asks for.
type bare struct{}

func (bare) Name() string { return "bare" }
func (bare) IDs() []usbnet.ID {
	return []usbnet.ID{{Class: cdcecm.ClassComm, SubClass: cdcecm.SubClassEthernet, Protocol: -1}}
}
func (bare) Flags() usbnet.Flags                                    { return 0 }
func (bare) Bind(*usbnet.Dev) error                                 { return nil }
func (bare) Unbind(*usbnet.Dev)                                     {}
func (bare) Reset(*usbnet.Dev) error                                { return nil }
func (bare) LinkReset(*usbnet.Dev) error                            { return nil }
func (bare) SetRxMode(*usbnet.Dev) error                            { return nil }
func (bare) Status(*usbnet.Dev, []byte) error                       { return nil }
func (bare) RxFixup(*usbnet.Dev, *skbuff.Buff, *skbuff.Queue) error { return nil }
func (bare) TxFixup(*usbnet.Dev, *skbuff.Buff) error                { return nil }

// TestDriverWithoutOfflineSupport: a driver that offers no unframing,
// status decoding, request names or MAC locator still decodes the trace
// (descriptors, standard requests, endpoints), and says what it could not
// do instead of finding nothing in silence.
func TestDriverWithoutOfflineSupport(t *testing.T) {
	tr, err := decode.ReadFile(cdcTrace, decode.Options{Drivers: []usbnet.Minidriver{bare{}}})
	if err != nil {
		t.Fatal(err)
	}
	if tr.Driver != "bare" || tr.DriverFrom != "descriptors" {
		t.Fatalf("driver %q from %q", tr.Driver, tr.DriverFrom)
	}
	if len(tr.Frames) != 0 || tr.MAC != nil || len(tr.Links) != 0 {
		t.Errorf("frames %d, MAC %v, links %v: decoded without the driver's help", len(tr.Frames), tr.MAC, tr.Links)
	}
	if tr.Stats.RxTransfers == 0 || tr.Stats.TxTransfers == 0 || tr.Stats.Notifications == 0 {
		t.Fatalf("the fixture's transfers were not found: %+v", tr.Stats)
	}
	if tr.In.Address != 0x82 || tr.Out.Address != 0x02 || tr.Status.Address != 0x81 {
		t.Errorf("endpoints from the configuration: in %v out %v status %v", tr.In, tr.Out, tr.Status)
	}
	want := []string{
		"driver bare offers no MAC locator",
		fmt.Sprintf("driver bare offers no unframing: %d bulk IN transfers", tr.Stats.RxTransfers),
		fmt.Sprintf("driver bare offers no unframing: %d bulk OUT transfers", tr.Stats.TxTransfers),
		fmt.Sprintf("driver bare offers no status decoding: %d interrupt transfers", tr.Stats.Notifications),
	}
	for _, w := range want {
		found := false
		for _, a := range tr.Anomalies {
			found = found || strings.HasPrefix(a, w)
		}
		if !found {
			t.Errorf("no anomaly %q in %q", w, tr.Anomalies)
		}
	}
	names := map[string]bool{}
	for _, c := range tr.Controls {
		names[c.Name] = true
	}
	if !names["SET_CONFIGURATION(1)"] {
		t.Errorf("standard requests not named: %v", names)
	}
	for n := range names {
		if strings.HasPrefix(n, "SET_ETHERNET_PACKET_FILTER") {
			t.Errorf("class request %q named without the driver's RequestNamer", n)
		}
	}
}

func TestUnknownDriverOption(t *testing.T) {
	_, err := decode.ReadFile(cdcTrace, decode.Options{Driver: "rtl8152"})
	if !errors.Is(err, decode.ErrUnknownDriver) {
		t.Fatalf("error %v, want ErrUnknownDriver", err)
	}
}
