package specs

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"dongle/hw"
	"dongle/hw/gousb"
)

func TestResolveAndLabelFilter(t *testing.T) {
	bs, err := Resolve([]string{"sim:ecm", "sim:ax88179"})
	if err != nil || len(bs) != 2 {
		t.Fatalf("Resolve: %v, %d backends", err, len(bs))
	}
	f := LabelFilter(bs, "")
	if f != "(backend-sim-ecm || backend-sim-ax88179)" {
		t.Fatalf("filter %q", f)
	}
	if f := LabelFilter(bs, "!needs-faults"); !strings.HasSuffix(f, "&& (!needs-faults)") {
		t.Fatalf("user filter not and-ed: %q", f)
	}
	if _, err := Resolve([]string{"sim:nope"}); err == nil || !strings.Contains(err.Error(), `no backend "sim:nope"`) || !strings.Contains(err.Error(), "sim:ax88772") {
		t.Fatalf("unknown backend error %v", err)
	}
	if _, err := Resolve([]string{"usb:zz"}); err == nil {
		t.Fatal("a bad usb selector was accepted")
	}
	if _, err := Resolve([]string{"trace:/nonexistent.pcap"}); err == nil || !strings.Contains(err.Error(), "nonexistent.pcap") {
		t.Fatalf("missing trace: %v", err)
	}
	all, err := Resolve(nil)
	if err != nil {
		t.Fatal(err)
	}
	traces := 0
	for _, b := range all {
		if strings.HasPrefix(b.Name(), "trace:") {
			traces++
		}
	}
	if len(all) < 6 || traces < 2 {
		t.Fatalf("default backends: %d, of which %d traces", len(all), traces)
	}
}

func TestEdgeSizes(t *testing.T) {
	sizes := edgeSizes(Expectations{Driver: "asix", MaxPacket: 512})
	want := map[int]bool{60: true, 508: true, 1020: true, 1514: true, 509: true, 507: true}
	for _, n := range sizes {
		delete(want, n)
		if n < 60 || n > 1514 {
			t.Fatalf("size %d outside 60..1514", n)
		}
	}
	if len(want) != 0 {
		t.Fatalf("missing edge sizes %v in %v", want, sizes)
	}
	for _, n := range edgeSizes(Expectations{Driver: "cdc_ether", MaxPacket: 64}) {
		if n == 64 || n == 128 {
			return
		}
	}
	t.Fatal("no packet-multiple sizes at full speed")
}

func TestSidecarErrorsNameTheField(t *testing.T) {
	_, err := Sidecar{Vendor: "zz", Product: "1", MAC: "00:00:00:00:00:01", Speed: "full"}.Expectations()
	if err == nil || !strings.Contains(err.Error(), "vendor") {
		t.Fatalf("%v", err)
	}
	_, err = Sidecar{Vendor: "1", Product: "1", MAC: "00:00:00:00:00:01", Speed: "warp"}.Expectations()
	if err == nil || !strings.Contains(err.Error(), "speed") {
		t.Fatalf("%v", err)
	}
}

func TestUSBBackendExpectSpeed(t *testing.T) {
	// Enumeration is stubbed: nothing here may depend on the host's devices.
	var asked []string
	stubEnumerate(t, func(sel string) (gousb.Candidate, bool) {
		asked = append(asked, sel)
		return gousb.Candidate{}, false
	})
	t.Setenv("DONGLE_EXPECT_SPEED", "super")
	b, err := USBBackend("usb:0b95:1790")
	if err != nil {
		t.Fatal(err)
	}
	if e := b.Expect(); e.USBSpeed != hw.SpeedSuper || e.MaxPacket != 1024 {
		t.Errorf("DONGLE_EXPECT_SPEED=super: speed %v, wMaxPacketSize %d; want super, 1024", e.USBSpeed, e.MaxPacket)
	}
	// The VID:PID names the driver, and so the 8-byte header the size
	// edges allow for: 1016 bytes make a 1024-byte transfer.
	if e := b.Expect(); e.Driver != "ax88179_178a" || !slices.Contains(edgeSizes(e), 1016) {
		t.Errorf("usb:0b95:1790: driver %q, edge sizes %v; want ax88179_178a and 1016", e.Driver, edgeSizes(e))
	}
	if len(asked) != 0 {
		t.Errorf("driver and speed both known, yet enumeration was asked for %q", asked)
	}
	// A VID:PID no minidriver claims by ID leaves the driver to the
	// enumeration, which the test controls: the host's own devices (a
	// 1d6b:0104 gadget plugged in here is cdc_ether) must not decide.
	if b, err := USBBackend("usb:1d6b:0104"); err != nil {
		t.Errorf("a VID:PID no driver claims by ID: %v", err)
	} else if b.Expect().Driver != "" {
		t.Errorf("a VID:PID no driver claims by ID, nothing enumerated: driver %q, want none", b.Expect().Driver)
	}
	if !slices.Equal(asked, []string{"1d6b:0104"}) {
		t.Errorf("enumeration asked for %q, want [1d6b:0104] once", asked)
	}
	// What enumeration finds fills the driver in.
	stubEnumerate(t, func(sel string) (gousb.Candidate, bool) {
		return gousb.Candidate{Info: hw.Info{Vendor: 0x1d6b, Product: 0x0104, Speed: hw.SpeedHigh},
			Interfaces: []gousb.Iface{{Class: 2, SubClass: 6}, {Class: 10}}}, true
	})
	if b, err := USBBackend("usb:1d6b:0104"); err != nil {
		t.Errorf("usb:1d6b:0104 enumerated as CDC Ethernet: %v", err)
	} else if e := b.Expect(); e.Driver != "cdc_ether" || e.USBSpeed != hw.SpeedSuper || e.MaxPacket != 1024 {
		t.Errorf("usb:1d6b:0104 enumerated as CDC Ethernet: driver %q speed %v mps %d; want cdc_ether, and DONGLE_EXPECT_SPEED's super, 1024", e.Driver, e.USBSpeed, e.MaxPacket)
	}
	t.Setenv("DONGLE_EXPECT_SPEED", "super+")
	if b, err := USBBackend("usb:0b95:1790"); err != nil {
		t.Errorf("DONGLE_EXPECT_SPEED=super+: %v", err)
	} else if e := b.Expect(); e.USBSpeed != hw.SpeedSuperPlus || e.MaxPacket != 1024 {
		t.Errorf("DONGLE_EXPECT_SPEED=super+: speed %v, wMaxPacketSize %d; want super+, 1024", e.USBSpeed, e.MaxPacket)
	}
	t.Setenv("DONGLE_EXPECT_SPEED", "warp")
	if _, err := USBBackend("usb:0b95:1790"); err == nil || !strings.Contains(err.Error(), "DONGLE_EXPECT_SPEED") {
		t.Errorf("an unknown speed: %v, want an error naming DONGLE_EXPECT_SPEED", err)
	}
}

// stubEnumerate replaces USBBackend's enumeration for the rest of the test.
func stubEnumerate(t *testing.T, f func(sel string) (gousb.Candidate, bool)) {
	t.Helper()
	old := enumerate
	enumerate = f
	t.Cleanup(func() { enumerate = old })
}

func TestFillFromCandidate(t *testing.T) {
	ecm := gousb.Candidate{Info: hw.Info{Vendor: 0x1d6b, Product: 0x0104, Speed: hw.SpeedFull},
		Interfaces: []gousb.Iface{{Class: 2, SubClass: 6}, {Class: 10}}}
	asix := gousb.Candidate{Info: hw.Info{Vendor: 0x0b95, Product: 0x772b, Speed: hw.SpeedHigh},
		Class: 0xff, Interfaces: []gousb.Iface{{Class: 0xff, SubClass: 0xff}}}
	superPlus := gousb.Candidate{Info: hw.Info{Vendor: 0x0b95, Product: 0x1790, Speed: hw.SpeedSuperPlus}}
	low := gousb.Candidate{Info: hw.Info{Vendor: 0x1234, Product: 0x5678, Speed: hw.SpeedLow}}
	other := gousb.Candidate{Info: hw.Info{Vendor: 0x1234, Product: 0x5678}}
	for _, c := range []struct {
		name   string
		cd     gousb.Candidate
		start  Expectations
		driver string
		speed  hw.Speed
		mps    int
	}{
		{"CDC Ethernet by class, full speed", ecm, Expectations{}, "cdc_ether", hw.SpeedFull, 64},
		{"ASIX by ID, high speed", asix, Expectations{}, "asix", hw.SpeedHigh, 512},
		{"the environment wins", asix, Expectations{USBSpeed: hw.SpeedSuper, MaxPacket: 1024}, "asix", hw.SpeedSuper, 1024},
		{"AX88179 by ID, SuperSpeed+", superPlus, Expectations{}, "ax88179_178a", hw.SpeedSuperPlus, 1024},
		{"low speed has no bulk endpoints", low, Expectations{}, "", hw.SpeedUnknown, 0},
		{"nothing known", other, Expectations{}, "", hw.SpeedUnknown, 0},
	} {
		e := c.start
		fillFromCandidate(&e, c.cd)
		if e.Driver != c.driver || e.USBSpeed != c.speed || e.MaxPacket != c.mps {
			t.Errorf("%s: driver %q speed %v mps %d; want %q %v %d", c.name, e.Driver, e.USBSpeed, e.MaxPacket, c.driver, c.speed, c.mps)
		}
	}
}

func TestIsAlreadyClosed(t *testing.T) {
	closed := hw.Errorf("sim device: close", hw.ErrClosed)
	real := hw.Errorf("usb context: reattach cdc_ether", hw.ErrBusy)
	for _, c := range []struct {
		err  error
		want bool
	}{
		{nil, false},
		{closed, true},
		{fmt.Errorf("target: %w", closed), true},
		{errors.Join(closed, hw.Errorf("ctx", hw.ErrClosed)), true},
		{errors.Join(closed, real), false},
		{fmt.Errorf("target: %w", errors.Join(real, closed)), false},
		{real, false},
		{errors.New("device already closed"), false}, // text is not a type
		{errors.Join(), false},
	} {
		if got := isAlreadyClosed(c.err); got != c.want {
			t.Errorf("isAlreadyClosed(%v) = %v, want %v", c.err, got, c.want)
		}
	}
}

func TestReportDirIsOnePlace(t *testing.T) {
	root := t.TempDir()
	os.WriteFile(filepath.Join(root, "go.mod"), []byte("// dongle\nmodule dongle\n\ngo 1.26\n"), 0o644)
	sub := filepath.Join(root, "specs", "referee")
	os.MkdirAll(sub, 0o755)
	other := t.TempDir()
	os.WriteFile(filepath.Join(other, "go.mod"), []byte("module dongleish\n"), 0o644)
	if got := moduleRoot(sub); got != root {
		t.Fatalf("moduleRoot(%s) = %q, want %q", sub, got, root)
	}
	if got := moduleRoot(root); got != root {
		t.Fatalf("moduleRoot at the root = %q", got)
	}
	if got := moduleRoot(other); got != "" {
		t.Fatalf("another module taken for dongle: %q", got)
	}
	for _, wd := range []string{root, sub} {
		t.Chdir(wd)
		t.Setenv("DONGLE_TRACE_DIR", "")
		if got, want := reportDir(), filepath.Join(root, "specs", "reports", "traces"); got != want {
			t.Errorf("from %s: %q, want %q", wd, got, want)
		}
	}
	t.Setenv("DONGLE_TRACE_DIR", "/x/traces")
	if got := reportDir(); got != "/x/traces" {
		t.Errorf("DONGLE_TRACE_DIR ignored: %q", got)
	}
	t.Setenv("DONGLE_TRACE_DIR", "")
	t.Setenv("XDG_CACHE_HOME", "/cache")
	t.Chdir(other)
	if got := reportDir(); got != "/cache/dongle/traces" {
		t.Errorf("outside the tree: %q", got)
	}
}
