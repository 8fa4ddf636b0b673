package vmlab

import (
	"debug/elf"
	"fmt"
	"os"
	"os/exec"
	"sort"
	"strings"
)

// Host programs and files the lab needs, and the Debian package providing each.
var hostNeeds = []struct {
	pkg   string
	file  string // absolute path, or a program name looked up in PATH
	why   string
	check func(path string) error
}{
	{"qemu-system-x86", "qemu-system-x86_64", "runs the guest", nil},
	{"qemu-system-x86", "/usr/share/qemu/qboot.rom", "fast firmware (no SeaBIOS USB enumeration in captures)", nil},
	{"busybox-static", "/bin/busybox", "the guest's shell and tools", checkStatic},
	{"kmod", "depmod", "indexes the unpacked kernel's modules", nil},
	{"libusb-1.0-0-dev", "/usr/lib/x86_64-linux-gnu/libusb-1.0.so", "gousb (cgo) test binaries", nil},
	{"libusb-1.0-0", "/lib/x86_64-linux-gnu/libusb-1.0.so.0", "shared library copied into the guest", nil},
	{"usbip", "/usr/sbin/usbip", "USB/IP attach/detach in the guest (copied in)", nil},
	{"usbip", "/usr/sbin/usbipd", "USB/IP export daemon in the guest (copied in)", nil},
	{"apt", "apt-get", "downloads the kernel package", nil},
	{"dpkg", "dpkg", "unpacks the kernel package (dpkg -x)", nil},
}

// AptCommand is what a machine without the lab's packages should run.
func AptCommand(pkgs []string) string {
	return "apt-get update && apt-get install -y " + strings.Join(pkgs, " ")
}

// CheckHost verifies the host programs and files the lab uses. The error
// lists every missing one and ends with the exact apt-get command.
func CheckHost() error {
	var missing []string
	pkgs := map[string]bool{}
	for _, n := range hostNeeds {
		p := n.file
		var err error
		if !strings.HasPrefix(p, "/") {
			p, err = exec.LookPath(p)
			if err != nil {
				// sbin is not always in PATH for non-root users.
				for _, d := range []string{"/usr/sbin/", "/sbin/"} {
					if _, e := os.Stat(d + n.file); e == nil {
						p, err = d+n.file, nil
						break
					}
				}
			}
		} else {
			_, err = os.Stat(p)
		}
		if err == nil && n.check != nil {
			err = n.check(p)
		}
		if err != nil {
			missing = append(missing, fmt.Sprintf("%s (%s, package %s): %v", n.file, n.why, n.pkg, err))
			pkgs[n.pkg] = true
		}
	}
	if len(missing) == 0 {
		return nil
	}
	var list []string
	for p := range pkgs {
		list = append(list, p)
	}
	sort.Strings(list)
	return fmt.Errorf("lab host check: missing:\n  %s\ninstall with:\n  %s", strings.Join(missing, "\n  "), AptCommand(list))
}

// checkStatic fails for a dynamically linked ELF (one with an interpreter):
// busybox runs as PID 1 before any library could be found.
func checkStatic(path string) error {
	f, err := elf.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return fmt.Errorf("%s is dynamically linked; the static one is in busybox-static", path)
		}
	}
	return nil
}
