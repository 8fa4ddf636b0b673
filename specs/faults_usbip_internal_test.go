package specs

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"

	"dongle/hw/gousb"
)

// fakeUSBIP stands in for the usbip tool and the vhci state it changes:
// detach frees the port, attach takes the next one (as vhci gives the
// first free port, and the old one may still be in the kernel's hands).
type fakeUSBIP struct {
	imports []gousb.USBIP
	ran     [][]string
	fail    error
}

func (f *fakeUSBIP) install(t *testing.T) {
	oldI, oldR := usbipImports, usbipRun
	t.Cleanup(func() { usbipImports, usbipRun = oldI, oldR })
	usbipImports = func() ([]gousb.USBIP, error) { return f.imports, nil }
	usbipRun = func(args ...string) error {
		f.ran = append(f.ran, args)
		if f.fail != nil {
			return f.fail
		}
		switch {
		case args[0] == "detach":
			f.imports = nil
		case slicesIndex(args, "attach") >= 0:
			f.imports = []gousb.USBIP{{Role: gousb.Imported, VHCIPort: 1, Host: "10.0.0.7", TCPPort: "3240", BusID: "1-2"}}
		}
		return nil
	}
}

func slicesIndex(s []string, v string) int {
	for i, x := range s {
		if x == v {
			return i
		}
	}
	return -1
}

func openUSBIP(t *testing.T, arg string) (FaultConn, error) {
	t.Helper()
	s := faultSchemes["usbip"]
	if s.Open == nil {
		t.Fatal("the usbip fault scheme is not registered")
	}
	return s.Open(context.Background(), arg, nil)
}

// TestUSBIPFaultsDetachAndAttach: the unplug detaches the port the device
// is on now, the restore attaches it from its host again, and the next
// unplug finds it on its new port.
func TestUSBIPFaultsDetachAndAttach(t *testing.T) {
	f := &fakeUSBIP{imports: []gousb.USBIP{
		{Role: gousb.Imported, VHCIPort: 0, Host: "10.0.0.8", TCPPort: "3240", BusID: "1-2"}, // another host's 1-2
		{Role: gousb.Imported, VHCIPort: 30, Host: "10.0.0.7", TCPPort: "3240", BusID: "1-2"},
	}}
	f.install(t)
	fc, err := openUSBIP(t, "10.0.0.7/1-2")
	if err != nil {
		t.Fatal(err)
	}
	if err := fc.Restore(); err != nil || len(f.ran) != 0 {
		t.Fatalf("Restore before any unplug: %v, ran %v; want nothing run", err, f.ran)
	}
	if err := fc.Unplug(); err != nil {
		t.Fatal(err)
	}
	if err := fc.Restore(); err != nil {
		t.Fatal(err)
	}
	if err := fc.Restore(); err != nil {
		t.Fatal(err)
	}
	if err := fc.Unplug(); err != nil {
		t.Fatal(err)
	}
	want := [][]string{{"detach", "-p", "30"}, {"attach", "-r", "10.0.0.7", "-b", "1-2"}, {"detach", "-p", "1"}}
	if !reflect.DeepEqual(f.ran, want) {
		t.Errorf("ran %q, want %q (the second Restore does nothing)", f.ran, want)
	}
	if err := fc.Stall(0x81); !errors.Is(err, ErrNoFault) {
		t.Errorf("Stall: %v, want ErrNoFault", err)
	}
	if err := fc.TimeoutNext(0x81, 1); !errors.Is(err, ErrNoFault) {
		t.Errorf("TimeoutNext: %v, want ErrNoFault", err)
	}
}

// TestUSBIPFaultsTCPPort: a TCP port in the argument picks the record with
// that port and is handed to usbip attach.
func TestUSBIPFaultsTCPPort(t *testing.T) {
	f := &fakeUSBIP{imports: []gousb.USBIP{
		{Role: gousb.Imported, VHCIPort: 2, Host: "fe80::1", TCPPort: "3240", BusID: "1-2"},
		{Role: gousb.Imported, VHCIPort: 3, Host: "fe80::1", TCPPort: "3241", BusID: "1-2"},
	}}
	f.install(t)
	fc, err := openUSBIP(t, "[fe80::1]:3241/1-2")
	if err != nil {
		t.Fatal(err)
	}
	if err := fc.Unplug(); err != nil {
		t.Fatal(err)
	}
	if err := fc.Restore(); err != nil {
		t.Fatal(err)
	}
	want := [][]string{{"detach", "-p", "3"}, {"--tcp-port", "3241", "attach", "-r", "fe80::1", "-b", "1-2"}}
	if !reflect.DeepEqual(f.ran, want) {
		t.Errorf("ran %q, want %q", f.ran, want)
	}
}

// TestUSBIPFaultsRefuse: bad arguments, a device not attached, and a
// failing tool are errors wrapping ErrFaults that say what is wrong; a
// failed unplug leaves nothing to restore.
func TestUSBIPFaultsRefuse(t *testing.T) {
	f := &fakeUSBIP{imports: []gousb.USBIP{{Role: gousb.Imported, VHCIPort: 0, Host: "10.0.0.7", TCPPort: "3240", BusID: "1-2"}}}
	f.install(t)
	for _, c := range []struct{ arg, says string }{
		{"", "no HOST/BUSID"},
		{"10.0.0.7", "no HOST/BUSID"},
		{"/1-2", "no HOST/BUSID"},
		{"10.0.0.7/", "no HOST/BUSID"},
		{"10.0.0.7/1-2/3", "no HOST/BUSID"},
		{"10.0.0.7:0/1-2", `TCP port "0"`},
		{"10.0.0.7:http/1-2", `TCP port "http"`},
		{":3240/1-2", "TCP port"},
		{"[fe80::1]/1-2", "bracketed host without a port"},
		{"10.0.0.8/1-2", "not attached"},
		{"10.0.0.7/1-3", "usbip attach -r 10.0.0.7 -b 1-3"},
		{"10.0.0.7:3241/1-2", "not attached"},
	} {
		_, err := openUSBIP(t, c.arg)
		if !errors.Is(err, ErrFaults) || !strings.Contains(err.Error(), c.says) {
			t.Errorf("usbip:%s: %v; want ErrFaults saying %q", c.arg, err, c.says)
		}
	}
	fc, err := openUSBIP(t, "10.0.0.7:3240/1-2")
	if err != nil {
		t.Fatal(err)
	}
	f.fail = errors.New("exit status 1: usbip: error: port 0 is not in use")
	if err := fc.Unplug(); err == nil || !strings.Contains(err.Error(), "usbip:10.0.0.7:3240/1-2: unplug: exit status 1") {
		t.Errorf("Unplug with a failing tool: %v", err)
	}
	f.fail = nil
	if err := fc.Restore(); err != nil || len(f.ran) != 1 {
		t.Errorf("Restore after a failed unplug: %v, ran %q; want nothing more run", err, f.ran)
	}
}
