package diag

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"dongle/cmd/dongle/internal/target"
	usbhw "dongle/hw/gousb"
)

// TestRemoteAdapterIsSaid: an adapter behind vhci_hcd is reported as
// remote, with the host the usbip tools recorded, in the JSON field and
// the printed report; a USB/IP state that did not read is an anomaly; a
// local adapter says nothing of USB/IP.
func TestRemoteAdapterIsSaid(t *testing.T) {
	live := func(u usbhw.USBIP) *Report {
		t.Helper()
		tg, err := target.Open("sim:ecm-gadget")
		if err != nil {
			t.Fatal(err)
		}
		defer tg.Close()
		tg.USBIP = u
		r, err := Live(context.Background(), tg)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	r := live(usbhw.USBIP{Role: usbhw.Imported, VHCIPort: 2, RemoteBus: 3, RemoteDev: 2, Host: "10.0.0.7", TCPPort: "3240", BusID: "1-1.4"})
	want := "remote: usbip://10.0.0.7:3240/1-1.4 on vhci port 2 (remote bus 3 dev 2)"
	if r.USBIP != want {
		t.Errorf("USBIP %q, want %q", r.USBIP, want)
	}
	var b bytes.Buffer
	r.Print(&b)
	if !strings.Contains(b.String(), "\nUSB/IP:   "+want+"\n") {
		t.Errorf("printed report lacks the USB/IP line:\n%s", b.String())
	}
	for _, a := range r.Anomalies {
		if strings.Contains(a, "USB/IP") {
			t.Errorf("anomaly %q with a clean USB/IP state", a)
		}
	}

	bad := fmt.Errorf("usbip attach record /var/run/vhci_hcd/port2: %w: %q", usbhw.ErrUSBIPState, "x")
	r = live(usbhw.USBIP{Role: usbhw.Imported, VHCIPort: 2, Err: bad})
	found := false
	for _, a := range r.Anomalies {
		found = found || strings.Contains(a, "USB/IP state: "+bad.Error())
	}
	if !found || !strings.Contains(r.USBIP, "an unknown host") {
		t.Errorf("a malformed record: USBIP %q, anomalies %q", r.USBIP, r.Anomalies)
	}
	if !errors.Is(bad, usbhw.ErrUSBIPState) {
		t.Fatal("test setup")
	}

	r = live(usbhw.USBIP{})
	b.Reset()
	r.Print(&b)
	if r.USBIP != "" || strings.Contains(b.String(), "USB/IP") {
		t.Errorf("a local adapter: USBIP %q, report:\n%s", r.USBIP, b.String())
	}
}
