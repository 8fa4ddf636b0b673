package catalog_test

import (
	"os/exec"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"

	"dongle/usbnet/catalog"
)

// goList runs `go list -f format pattern` and returns, per package, the
// space-separated field format prints after the import path.
func goList(t *testing.T, format, pattern string) map[string][]string {
	t.Helper()
	out, err := exec.Command(filepath.Join(runtime.GOROOT(), "bin", "go"), "list", "-f", "{{.ImportPath}} "+format, pattern).Output()
	if err != nil {
		t.Fatalf("go list %s: %v", pattern, err)
	}
	m := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		m[f[0]] = f[1:]
	}
	return m
}

func driverPackages() map[string]bool {
	pkgs := map[string]bool{}
	for _, e := range catalog.Entries() {
		t := reflect.TypeOf(e.New())
		if t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		pkgs[t.PkgPath()] = true
	}
	return pkgs
}

// TestLayering: the catalog is the one place that joins drivers and
// models. hw (models included) imports no driver and nothing above it; a
// minidriver imports no backend and no model; and the packages that used
// to switch on driver names (decode, diag, target, the suite) import no
// driver or model package directly: they go through the catalog and the
// optional interfaces of usbnet.
func TestLayering(t *testing.T) {
	above := []string{"dongle/usbnet", "dongle/netdev", "dongle/skbuff", "dongle/specs", "dongle/cmd"}
	for pkg, deps := range goList(t, `{{join .Deps " "}}`, "dongle/hw/...") {
		for _, d := range deps {
			for _, a := range above {
				if d == a || strings.HasPrefix(d, a+"/") {
					t.Errorf("%s depends on %s", pkg, d)
				}
			}
		}
	}
	drivers := driverPackages()
	if len(drivers) != len(catalog.Entries()) {
		t.Fatalf("driver packages %v", drivers)
	}
	backends := []string{"dongle/hw/gousb", "dongle/hw/sim", "dongle/hw/replay", "dongle/hw/record", "dongle/hw/usbmon", "dongle/hw/ffs", "dongle/hw/vmlab", "dongle/usbnet/catalog"}
	for pkg := range drivers {
		for _, d := range goList(t, `{{join .Deps " "}}`, pkg)[pkg] {
			for _, b := range backends {
				if d == b || strings.HasPrefix(d, b+"/") {
					t.Errorf("minidriver %s depends on %s", pkg, d)
				}
			}
		}
	}
	// hw/sim/peer (an echoing far side) and hw/sim/ifwire (a wire bridged
	// to a host interface) are the wire's, not models: the suite may use them.
	wireSide := map[string]bool{"dongle/hw/sim/peer": true, "dongle/hw/sim/ifwire": true}
	for _, pattern := range []string{"dongle/usbnet/decode", "dongle/cmd/dongle/...", "dongle/specs", "dongle/cmd/ffsmodel"} {
		for pkg, imports := range goList(t, `{{join .Imports " "}}`, pattern) {
			for _, imp := range imports {
				if drivers[imp] || strings.HasPrefix(imp, "dongle/hw/sim/") && !wireSide[imp] {
					t.Errorf("%s imports %s directly (the catalog has it)", pkg, imp)
				}
			}
		}
	}
}
