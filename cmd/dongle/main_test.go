package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"dongle/cmd/dongle/internal/target"
	"dongle/hw"
	usbhw "dongle/hw/gousb"
	"dongle/hw/usbmon"
	"dongle/specs"
	"dongle/usbnet/catalog"
)

const (
	cdcTrace   = "../../fixtures/qemu-usbnet-cdc_ether.pcap"
	echoTruth  = "../../fixtures/hostecho-rx-ethernet.pcap"
	echoTrace  = "../../fixtures/qemu-usbnet-gousb-echo.pcap"
	udevVIDPID = `ATTR{idVendor}=="0b95", ATTR{idProduct}=="1790"`
)

func run(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var o, e bytes.Buffer
	code = Main(args, &o, &e)
	return code, o.String(), e.String()
}

// oneLineError checks the bad-input contract: non-zero exit, exactly one
// line on stderr containing every want.
func oneLineError(t *testing.T, code int, stderr string, want ...string) {
	t.Helper()
	if code == 0 {
		t.Errorf("exit 0, want non-zero")
	}
	if strings.Count(stderr, "\n") != 1 || !strings.HasSuffix(stderr, "\n") {
		t.Errorf("stderr is not one line: %q", stderr)
	}
	for _, w := range want {
		if !strings.Contains(stderr, w) {
			t.Errorf("stderr %q lacks %q", stderr, w)
		}
	}
}

// noUSB makes the listing find nothing (and restores it).
func noUSB(t *testing.T, seen int) {
	old := listUSB
	listUSB = func() ([]usbhw.Candidate, int, error) { return nil, seen, nil }
	t.Cleanup(func() { listUSB = old })
}

func failOpen(t *testing.T, err error) {
	old := openTarget
	openTarget = func(string) (*target.Target, error) { return nil, err }
	t.Cleanup(func() { openTarget = old })
}

func TestBadTraceFiles(t *testing.T) {
	dir := t.TempDir()
	notPcap := filepath.Join(dir, "notes.pcap")
	os.WriteFile(notPcap, []byte("this is a text file, not a capture\n"), 0o644)
	good, err := os.ReadFile(echoTrace)
	if err != nil {
		t.Fatal(err)
	}
	// Cutting 40 bytes truncates the trace's last record (every record is
	// longer than 40 bytes: a 16-byte pcap header and a 64-byte usbmon
	// one), so the error must name that record by its 0-based index.
	recs, _, err := usbmon.ReadFile(echoTrace)
	if err != nil || len(recs) == 0 {
		t.Fatalf("%s: %d records, %v", echoTrace, len(recs), err)
	}
	lastRecord := fmt.Sprintf("record %d", len(recs)-1)
	cut := filepath.Join(dir, "cut.pcap")
	os.WriteFile(cut, good[:len(good)-40], 0o644)
	unreadable := filepath.Join(dir, "secret.pcap")
	os.WriteFile(unreadable, good, 0o000)

	for _, cmd := range []string{"decode", "replay", "diag"} {
		t.Run(cmd, func(t *testing.T) {
			code, _, e := run(t, cmd, filepath.Join(dir, "missing.pcap"))
			oneLineError(t, code, e, "missing.pcap", "no such file")
			code, _, e = run(t, cmd, notPcap)
			oneLineError(t, code, e, "notes.pcap")
			code, _, e = run(t, cmd, echoTruth) // link type 1: an Ethernet pcap, not usbmon
			oneLineError(t, code, e, "hostecho-rx-ethernet.pcap")
			code, out, e := run(t, cmd, cut)
			if cmd == "replay" {
				oneLineError(t, code, e, "cut.pcap", lastRecord, "byte")
			} else if damaged := fmt.Sprintf("record %d at byte ", len(recs)); code != 0 || !strings.Contains(out, damaged) || !strings.Contains(out, "truncated") {
				// decode and diag go on past a damaged record and report it
				// (tshark's numbering: the 0-based index + 1).
				t.Errorf("%s of a cut file: exit %d, output lacks %q:\n%s%s", cmd, code, damaged, out, e)
			}
			if os.Geteuid() != 0 { // root reads anything
				code, _, e = run(t, cmd, unreadable)
				oneLineError(t, code, e, "secret.pcap", "permission denied")
			}
		})
	}
}

func TestDeviceErrors(t *testing.T) {
	for _, c := range []struct {
		name string
		err  error
		want string
	}{
		{"no adapter", target.ErrNoAdapter, "no USB network adapter found"},
		{"permission", hw.Errorf("bus 1 addr 4 (0b95:1790): open", hw.ErrAccess), "dongle udev --install"},
		{"busy", hw.Errorf("bus 1 addr 4 (0b95:1790): claim interface 0", hw.ErrBusy), "adapter busy"},
	} {
		t.Run(c.name, func(t *testing.T) {
			failOpen(t, c.err)
			out := filepath.Join(t.TempDir(), "r.pcap")
			code, _, e := run(t, "record", "-o", out, "usb")
			oneLineError(t, code, e, c.want)
			code, _, e = run(t, "diag", "usb")
			oneLineError(t, code, e, c.want)
		})
	}
}

func TestListNone(t *testing.T) {
	noUSB(t, 5)
	code, out, _ := run(t, "list")
	if code != 0 || out != "no USB network adapters found (5 USB devices seen)\n" {
		t.Errorf("exit %d, output %q", code, out)
	}
}

func TestListBinding(t *testing.T) {
	old := listUSB
	listUSB = func() ([]usbhw.Candidate, int, error) {
		return []usbhw.Candidate{
			{Info: hw.Info{Bus: 1, Address: 4, Vendor: 0x0b95, Product: 0x1790, Speed: hw.SpeedSuper},
				Interfaces: []usbhw.Iface{{Config: 1, Class: 0xff, SubClass: 0xff, Driver: "ax88179_178a"}}},
			{Info: hw.Info{Bus: 2, Address: 3, Vendor: 0x1209, Product: 0x0002, Speed: hw.SpeedHigh},
				Interfaces: []usbhw.Iface{{Config: 1, Class: 0x02, SubClass: 0x0d}, {Config: 1, Number: 1, Class: 0x0a}}},
		}, 7, nil
	}
	t.Cleanup(func() { listUSB = old })
	code, out, _ := run(t, "list")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 {
		t.Fatalf("output %q", out)
	}
	for _, w := range []string{"0b95:1790", "1.4", "super", "ax88179_178a", "AX88179"} {
		if !strings.Contains(lines[1], w) {
			t.Errorf("line %q lacks %q", lines[1], w)
		}
	}
	if strings.Contains(lines[2], "not supported yet") || !strings.Contains(lines[2], "cdc_ncm") {
		t.Errorf("NCM device line %q", lines[2])
	}
}

// TestListUSBIP: list says where each adapter is: local, a remote host's
// behind vhci_hcd (with the host), or this host's exported to another,
// which dongle does not drive here.
func TestListUSBIP(t *testing.T) {
	old := listUSB
	ecm := func(bus int, u usbhw.USBIP, drv string) usbhw.Candidate {
		return usbhw.Candidate{Info: hw.Info{Bus: bus, Address: 2, Vendor: 0x1209, Product: 0x0001, Speed: hw.SpeedHigh}, USBIP: u,
			Interfaces: []usbhw.Iface{{Config: 1, Class: 0x02, SubClass: 0x06, Driver: drv}, {Config: 1, Number: 1, Class: 0x0a, Driver: drv}}}
	}
	listUSB = func() ([]usbhw.Candidate, int, error) {
		return []usbhw.Candidate{
			ecm(1, usbhw.USBIP{}, "cdc_ether"),
			ecm(3, usbhw.USBIP{Role: usbhw.Exported, InUse: true}, ""),
			ecm(6, usbhw.USBIP{Role: usbhw.Imported, VHCIPort: 0, RemoteBus: 3, RemoteDev: 2, Host: "127.0.0.1", TCPPort: "3240", BusID: "3-1"}, "cdc_ether"),
		}, 9, nil
	}
	t.Cleanup(func() { listUSB = old })
	code, out, _ := run(t, "list")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 4 || !strings.HasSuffix(lines[0], " WHERE") {
		t.Fatalf("output %q", out)
	}
	for i, want := range []string{
		"cdc_ether      cdc_ether     local",
		"none (remote's) usbip-host    exported over USB/IP (usbip-host), attached by a remote host",
		"cdc_ether      cdc_ether     remote: usbip://127.0.0.1:3240/3-1 on vhci port 0 (remote bus 3 dev 2)",
	} {
		if !strings.HasSuffix(lines[i+1], want) {
			t.Errorf("line %q does not end in %q", lines[i+1], want)
		}
	}
}

func TestDecodeFixture(t *testing.T) {
	out := filepath.Join(t.TempDir(), "frames.pcap")
	code, stdout, stderr := run(t, "decode", cdcTrace, "-o", out)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, w := range []string{"driver cdc_ether (from descriptors)", "RX 6", "TX 12", "SET_ETHERNET_PACKET_FILTER(DIRECTED|BROADCAST)",
		"GET_DESCRIPTOR(device)", "SET_CONFIGURATION(1)", "link up", "wrote 18 frames"} {
		if !strings.Contains(stdout, w) {
			t.Errorf("summary lacks %q:\n%s", w, stdout)
		}
	}
	if fi, err := os.Stat(out); err != nil || fi.Size() < 24+18*16 {
		t.Errorf("output pcap: %v %v", fi, err)
	}
	code, _, e := run(t, "decode", "--driver=rtl8152", cdcTrace)
	oneLineError(t, code, e, "rtl8152")
}

func TestDiagDefaultsToFixture(t *testing.T) {
	noUSB(t, 0)
	code, out, e := run(t, "diag")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, e)
	}
	first, _, _ := strings.Cut(out, "\n")
	if !strings.Contains(first, "no USB network adapter found") || !strings.Contains(first, "qemu-usbnet-cdc_ether.pcap") {
		t.Errorf("first line does not say what is diagnosed: %q", first)
	}
	for _, w := range []string{"0525:a4a2", "Driver:   cdc_ether", "MAC:      52:54:00:12:34:56", "bulk IN 0x82", "bulk OUT 0x02",
		"interrupt IN 0x81", "iMACAddress 3 \"525400123456\"", "SET_ETHERNET_PACKET_FILTER", "RX 6", "TX 12", "0 RX / 0 TX framing errors"} {
		if !strings.Contains(out, w) {
			t.Errorf("diagnosis lacks %q", w)
		}
	}
}

func TestDiagModelJSON(t *testing.T) {
	for _, c := range []struct{ sel, driver, medium string }{
		{"sim:ecm", "cdc_ether", ""},
		{"sim:ax88772", "asix", "FD|AC|RFC|TFC|RE|PS"},             // 100/full, pause
		{"sim:ax88178", "asix", "GM|FD|AC|ENCK|RFC|TFC|JFE|RE|PS"}, // 1000/full, as ax88178_link_reset writes it
		{"sim:ax88179", "ax88179_178a", ""},
	} {
		t.Run(c.sel, func(t *testing.T) {
			code, out, e := run(t, "diag", "--json", c.sel)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, e)
			}
			var r struct {
				Driver   string `json:"driver"`
				Bound    bool   `json:"bound"`
				MAC      string `json:"mac"`
				SelfTest struct {
					Sent, Received int
					Passed         bool
				} `json:"self_test"`
				Stats struct {
					TxPackets uint64 `json:"tx_packets"`
				} `json:"statistics"`
				EEPROM *struct {
					MagicOK bool `json:"magic_ok"`
				} `json:"eeprom"`
				MACRegs []struct {
					Name, Note string
				} `json:"mac_registers"`
				RegistersRead string   `json:"registers_read"`
				Anomalies     []string `json:"anomalies"`
			}
			if err := json.Unmarshal([]byte(out), &r); err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			if r.Driver != c.driver || !r.Bound || r.MAC == "" {
				t.Errorf("driver %q bound %v mac %q", r.Driver, r.Bound, r.MAC)
			}
			if !r.SelfTest.Passed || r.SelfTest.Received != r.SelfTest.Sent || r.Stats.TxPackets < uint64(r.SelfTest.Sent) {
				t.Errorf("self-test %+v, tx_packets %d", r.SelfTest, r.Stats.TxPackets)
			}
			if c.driver != "cdc_ether" && (r.EEPROM == nil || len(r.MACRegs) == 0) {
				t.Errorf("vendor chip without EEPROM or MAC registers")
			}
			if len(r.Anomalies) != 0 {
				t.Errorf("anomalies on a healthy model: %q", r.Anomalies)
			}
			if c.driver != "cdc_ether" && r.RegistersRead != "interface up, carrier on, after the self-test" {
				t.Errorf("registers read %q, want them read with the interface up", r.RegistersRead)
			}
			if c.medium != "" {
				got := ""
				for _, g := range r.MACRegs {
					if g.Name == "MEDIUM_STATUS" {
						got = g.Note
					}
				}
				if got != c.medium {
					t.Errorf("MEDIUM_STATUS %q, want the link's medium mode %q", got, c.medium)
				}
			}
		})
	}
}

func TestReplayFixture(t *testing.T) {
	code, out, e := run(t, "replay", cdcTrace)
	if code != 0 || !strings.Contains(out, "no divergence") {
		t.Errorf("exit %d: %s%s", code, out, e)
	}
}

func TestRecordModelThenDecode(t *testing.T) {
	out := filepath.Join(t.TempDir(), "ax88772.pcap")
	code, stdout, e := run(t, "record", "-o", out, "--scenario=traffic", "--frames", "20", "sim:ax88772")
	if code != 0 || !strings.Contains(stdout, "TX 20 sent / 20 on the wire, RX 20 injected / 20 received") {
		t.Fatalf("exit %d: %s%s", code, stdout, e)
	}
	// Neither output is a terminal here: no progress line in either.
	if strings.Contains(e+stdout, "\r") {
		t.Errorf("a progress line off a terminal: stdout %q stderr %q", stdout, e)
	}
	code, stdout, e = run(t, "decode", out)
	if code != 0 || !strings.Contains(stdout, "driver asix") || !strings.Contains(stdout, "RX 20") || !strings.Contains(stdout, "TX 20") {
		t.Errorf("decode of the recording: exit %d: %s%s", code, stdout, e)
	}
	code, _, e = run(t, "record", "-o", out, "--scenario=nap", "sim:ecm")
	if code != 2 || !strings.Contains(e, "nap") {
		t.Errorf("bad scenario: exit %d %q", code, e)
	}
}

func TestUdev(t *testing.T) {
	code, out, _ := run(t, "udev")
	if code != 0 || !strings.Contains(out, udevVIDPID) || !strings.Contains(out, "plugdev") {
		t.Errorf("exit %d: %s", code, out)
	}
	old := udevPath
	udevPath = filepath.Join(t.TempDir(), "no", "such", "dir", "70-dongle.rules")
	t.Cleanup(func() { udevPath = old })
	code, _, e := run(t, "udev", "--install")
	oneLineError(t, code, e, "70-dongle.rules")
}

func TestTestCommand(t *testing.T) {
	var got specs.Options
	old := runSuite
	t.Cleanup(func() { runSuite = old })
	runSuite = func(_ *failRecorder, o specs.Options) bool { got = o; return true }
	code, out, _ := run(t, "test", "--backend=sim:ecm,trace", "--focus=ZLP", "--peer=iface:eth1")
	if code != 0 || !strings.Contains(out, "PASS") {
		t.Errorf("exit %d: %s", code, out)
	}
	if strings.Join(got.Backends, "|") != "sim:ecm|trace" || len(got.Suite.FocusStrings) != 1 || got.Suite.FocusStrings[0] != "ZLP" || got.Peer != "iface:eth1" {
		t.Errorf("options %+v", got)
	}
	runSuite = func(t *failRecorder, _ specs.Options) bool { t.Fail(); return true }
	if code, out, _ := run(t, "test"); code != 1 || !strings.Contains(out, "FAIL") {
		t.Errorf("failing suite: exit %d: %s", code, out)
	}
}

func TestUnknownCommand(t *testing.T) {
	code, _, e := run(t, "frobnicate")
	oneLineError(t, code, e, "frobnicate")
}

// TestHelpListsTheCatalog: the help text names every device model with its
// description, and every driver, from the catalog; every model opens.
func TestHelpListsTheCatalog(t *testing.T) {
	code, out, _ := run(t, "help")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	for _, m := range catalog.Models() {
		if !strings.Contains(out, m.Selector) || !strings.Contains(out, m.Describe) {
			t.Errorf("help lacks %s (%s)", m.Selector, m.Describe)
		}
		tg, err := target.Open(m.Selector)
		if err != nil {
			t.Errorf("open %s: %v", m.Selector, err)
			continue
		}
		if err := tg.Close(); err != nil {
			t.Errorf("close %s: %v", m.Selector, err)
		}
	}
	if !strings.Contains(out, catalog.Names()) {
		t.Errorf("help lacks the drivers %q", catalog.Names())
	}
	code, _, e := run(t, "diag", "sim:nope")
	oneLineError(t, code, e, "sim:nope", "sim:ax88179-ss")
}

// twoAdapters writes the QEMU usb-net capture twice into one file, the
// second time as device 5 on the same bus: a busy bus with two adapters.
func twoAdapters(t *testing.T) string {
	t.Helper()
	recs, _, err := usbmon.ReadFile(cdcTrace)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "two.pcap")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w, err := usbmon.NewWriter(f)
	if err != nil {
		t.Fatal(err)
	}
	for _, dev := range []uint8{0, 5} {
		for i := range recs {
			r := recs[i]
			if dev != 0 && r.Device != 0 {
				r.Device = dev
			}
			if err := w.Write(&r); err != nil {
				t.Fatal(err)
			}
		}
	}
	return path
}

func TestDecodeSeveralAdapters(t *testing.T) {
	two := twoAdapters(t)
	for _, cmd := range []string{"decode", "diag"} {
		code, _, e := run(t, cmd, two)
		oneLineError(t, code, e, "two.pcap", "several network adapters", "--device", "0.1 0525:a4a2 cdc_ether", "0.5 0525:a4a2 cdc_ether")
	}
	out := filepath.Join(t.TempDir(), "frames.pcap")
	code, stdout, e := run(t, "decode", "--device", "0.5", "-o", out, two)
	if code != 0 || !strings.Contains(stdout, "URBs of device 0.5") || !strings.Contains(stdout, " * 0.5 0525:a4a2 cdc_ether") || !strings.Contains(stdout, "   0.1 0525:a4a2 cdc_ether") {
		t.Fatalf("decode --device 0.5: exit %d\n%s%s", code, stdout, e)
	}
	single := filepath.Join(t.TempDir(), "single.pcap")
	if code, _, e := run(t, "decode", "-o", single, cdcTrace); code != 0 {
		t.Fatal(e)
	}
	a, _ := os.ReadFile(out)
	b, _ := os.ReadFile(single)
	if len(a) < 100 || !bytes.Equal(a, b) {
		t.Errorf("device 0.5's frames (%d bytes of pcap) differ from the single capture's (%d)", len(a), len(b))
	}
	code, stdout, e = run(t, "diag", "--device", "0.1", two)
	if code != 0 || !strings.Contains(stdout, "Devices in the trace") || !strings.Contains(stdout, "of device 0.1") {
		t.Errorf("diag --device 0.1: exit %d\n%s%s", code, stdout, e)
	}
	code, _, e = run(t, "decode", "--device", "0.9", two)
	oneLineError(t, code, e, "0.9", "no such device")
	if code, _, _ := run(t, "decode", "--progress", "sometimes", cdcTrace); code != 2 {
		t.Errorf("--progress sometimes: exit %d", code)
	}
}
