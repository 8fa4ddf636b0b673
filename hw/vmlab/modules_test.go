package vmlab

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// A tiny fake module tree: cdc_ether -> usbnet -> (mii, usbcore -> usb-common),
// xhci-pci -> xhci-hcd -> usbcore; af_packet is built in.
const fakeDep = `kernel/drivers/usb/common/usb-common.ko:
kernel/drivers/usb/core/usbcore.ko: kernel/drivers/usb/common/usb-common.ko
kernel/drivers/net/mii.ko:
kernel/drivers/net/usb/usbnet.ko: kernel/drivers/net/mii.ko kernel/drivers/usb/core/usbcore.ko kernel/drivers/usb/common/usb-common.ko
kernel/drivers/net/usb/cdc_ether.ko: kernel/drivers/net/usb/usbnet.ko kernel/drivers/net/mii.ko kernel/drivers/usb/core/usbcore.ko kernel/drivers/usb/common/usb-common.ko
kernel/drivers/usb/host/xhci-hcd.ko: kernel/drivers/usb/core/usbcore.ko kernel/drivers/usb/common/usb-common.ko
kernel/drivers/usb/host/xhci-pci.ko: kernel/drivers/usb/host/xhci-hcd.ko kernel/drivers/usb/core/usbcore.ko kernel/drivers/usb/common/usb-common.ko
kernel/drivers/unrelated.ko:
`

func TestModuleClosure(t *testing.T) {
	// The fake tree lives on disk like a real one, and is read from there.
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "modules.dep"), []byte(fakeDep), 0o644); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "modules.builtin"), []byte("kernel/net/packet/af_packet.ko\n"), 0o644)
	f, _ := os.Open(filepath.Join(dir, "modules.dep"))
	deps, err := ParseModulesDep(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	bf, _ := os.Open(filepath.Join(dir, "modules.builtin"))
	builtin, err := ParseBuiltin(bf)
	bf.Close()
	if err != nil {
		t.Fatal(err)
	}

	got, err := deps.Closure([]string{"cdc_ether", "xhci-pci", "af_packet"}, builtin)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"kernel/drivers/net/mii.ko",
		"kernel/drivers/usb/common/usb-common.ko",
		"kernel/drivers/usb/core/usbcore.ko",
		"kernel/drivers/net/usb/usbnet.ko",
		"kernel/drivers/net/usb/cdc_ether.ko",
		"kernel/drivers/usb/host/xhci-hcd.ko",
		"kernel/drivers/usb/host/xhci-pci.ko",
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("closure:\n got %v\nwant %v", got, want)
	}
	// Every module comes after all of its dependencies.
	pos := map[string]int{}
	for i, p := range got {
		pos[ModuleName(p)] = i
	}
	for _, p := range got {
		for _, d := range deps.Deps[ModuleName(p)] {
			if pos[d] > pos[ModuleName(p)] {
				t.Errorf("%s comes before its dependency %s", p, d)
			}
		}
	}

	var sub bytes.Buffer
	if err := deps.Subset(&sub, got); err != nil {
		t.Fatal(err)
	}
	again, err := ParseModulesDep(&sub)
	if err != nil {
		t.Fatalf("subset does not parse: %v\n%s", err, sub.String())
	}
	if len(again.Path) != len(want) || again.Path["unrelated"] != "" {
		t.Errorf("subset holds %v, want exactly the closure", again.Path)
	}
	if !reflect.DeepEqual(again.Deps["cdc_ether"], deps.Deps["cdc_ether"]) {
		t.Errorf("subset lost cdc_ether's deps: %v", again.Deps["cdc_ether"])
	}
	if err := deps.Subset(&sub, []string{"kernel/drivers/net/usb/cdc_ether.ko"}); err == nil {
		t.Error("Subset of a set missing dependencies: no error")
	}
}

func TestModuleClosureErrors(t *testing.T) {
	deps, err := ParseModulesDep(strings.NewReader("a.ko: b.ko\nb.ko: a.ko\nc.ko: missing.ko\n"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := deps.Closure([]string{"a"}, nil); err == nil || !strings.Contains(err.Error(), "cycle") {
		t.Errorf("cycle: %v", err)
	}
	// missing.ko has no line of its own but its path is known: a leaf.
	if got, err := deps.Closure([]string{"c"}, nil); err != nil || len(got) != 2 {
		t.Errorf("leaf dependency without a line: %v %v", got, err)
	}
	if _, err := deps.Closure([]string{"nosuch"}, nil); err == nil || !strings.Contains(err.Error(), "nosuch") {
		t.Errorf("unknown module: %v", err)
	}
	for _, bad := range []string{"no colon here\n", "a.ko: x.ko\na.ko:\n", ": x.ko\n"} {
		if _, err := ParseModulesDep(strings.NewReader(bad)); err == nil {
			t.Errorf("ParseModulesDep(%q): no error", bad)
		}
	}
}

func TestModuleName(t *testing.T) {
	for in, want := range map[string]string{
		"kernel/drivers/usb/host/xhci-pci.ko":    "xhci_pci",
		"kernel/drivers/net/usb/cdc_ether.ko.xz": "cdc_ether",
		"9pnet_virtio":                           "9pnet_virtio",
		"ax88179-178a.ko.zst":                    "ax88179_178a",
	} {
		if got := ModuleName(in); got != want {
			t.Errorf("ModuleName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestFilterAliases(t *testing.T) {
	in := "# Aliases extracted from modules themselves.\nalias usb:v0525pA4A2* cdc_ether\nalias net-pf-17 af_packet\nalias pci:v* other_driver\n"
	var out bytes.Buffer
	if err := FilterAliases(&out, strings.NewReader(in), map[string]bool{"cdc_ether": true, "af_packet": true}); err != nil {
		t.Fatal(err)
	}
	if want := "alias usb:v0525pA4A2* cdc_ether\nalias net-pf-17 af_packet\n"; out.String() != want {
		t.Errorf("got %q, want %q", out.String(), want)
	}
}
