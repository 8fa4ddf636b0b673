package rules_test

import (
	"path/filepath"
	"strings"
	"testing"

	"dongle/usbnet/decode"
)

// healthy are the fixtures that show adapters working as they should:
// every capture of fixtures/ but the failure-* and finding-* ones (made
// to show a failure or a device's misbehaviour), sim-ecm-faults (faults
// injected on purpose) and hostecho-rx-ethernet (an Ethernet capture,
// not USB). Each .md says how it was made; none shows a failure.
var healthy = []string{
	"ffs-ax88179-kernel-ax88179_178a.pcap",         // kernel ax88179_178a on the FunctionFS model, pings
	"ffs-ax88772b-kernel-asix.pcap",                // kernel asix on the FunctionFS model, pings
	"qemu-usbnet-cdc_ether.pcap",                   // kernel cdc_ether on QEMU usb-net, ARP and pings
	"qemu-usbnet-dongle-echo.pcap",                 // dongle's usbnet + cdcecm echoing 11 frames
	"qemu-usbnet-dongle-zlp-filter.pcap",           // the packet filter walk, ZLP frames, ifdown
	"qemu-usbnet-gousb-echo.pcap",                  // a gousb program echoing 70 frames
	"usbip-ncm-kernel-cdc_ncm.pcap",                // kernel cdc_ncm on the USB/IP NCM model
	"usbip-rtl8153-dongle-r8152.pcap",              // dongle's r8152 on the USB/IP RTL8153 model
	"usbip-rtl8153-kernel-r8152.pcap",              // kernel r8152 on the USB/IP RTL8153 model
	"usbmon-dongle-cdc_ncm-f_ncm.pcap",             // dongle's cdc_ncm on f_ncm
	"usbmon-kernel-asix-ax88772b.pcap",             // kernel asix, pings
	"usbmon-kernel-cdc_ncm-f_ncm.pcap",             // kernel cdc_ncm on f_ncm, replugged before traffic
	"usbmon-usbnet-cdc_ether-then-rndis_host.pcap", // cdc_ether then rndis_host on usb-net
	"usbmon-vhci-cdc_ncm-r8152.pcap",               // two adapters on one bus (decoded one at a time)
}

// TestHealthyFixturesAreSilent runs every rule (decode runs them all)
// over every healthy fixture: none may fire.
func TestHealthyFixturesAreSilent(t *testing.T) {
	for _, name := range healthy {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join("..", "..", "fixtures", name)
			devices := []string{""}
			if name == "usbmon-vhci-cdc_ncm-r8152.pcap" {
				devices = []string{"6.2", "6.3"}
			}
			for _, dev := range devices {
				tr, err := decode.ReadFile(path, decode.Options{Device: dev})
				if err != nil {
					t.Fatalf("%s %s: %v", name, dev, err)
				}
				for _, f := range tr.Findings {
					var ev []string
					for _, e := range f.Evidence {
						ev = append(ev, e.What)
					}
					t.Errorf("%s %s: %s fired: %s (%s)", name, dev, f.Rule, f.Summary, strings.Join(ev, "; "))
				}
				if tr.Timeline == nil || len(tr.Timeline.Buckets) == 0 {
					t.Errorf("%s: no timeline", name)
				}
			}
		})
	}
	// Every capture of fixtures/ is either healthy or named as not.
	all, _ := filepath.Glob(filepath.Join("..", "..", "fixtures", "*.pcap"))
	for _, p := range all {
		b := filepath.Base(p)
		if strings.HasPrefix(b, "failure-") || strings.HasPrefix(b, "finding-") || b == "sim-ecm-faults.pcap" || b == "hostecho-rx-ethernet.pcap" {
			continue
		}
		found := false
		for _, h := range healthy {
			found = found || h == b
		}
		if !found {
			t.Errorf("fixture %s is in no list: add it to healthy (after reading its .md) or to the exceptions", b)
		}
	}
}
