package vmlab

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"dongle/hw/vmlab/cpio"
)

//go:embed guestfs/init
var initScript []byte

// GuestModules are the kernel modules the initramfs carries (with their
// dependency closure): the xHCI host for QEMU's usb-net, the host-side class
// drivers a backend must detach (cdc_ether, cdc_ncm, rndis_host, and the
// kernel's own ASIX and Realtek drivers for comparisons: asix,
// ax88179_178a, r8152 with mii), vhci_hcd (USB/IP: hw/usbip presents a
// model with its own endpoint numbers, and the kernel's usbip tools attach
// what usbip_host exports), dummy_hcd with the gadget functions, usbmon,
// virtio 9p for the shares, and tun, veth and virtio_net for `dongle tap`
// (a TAP, a model's cable to a guest interface, usb-net's cable to a
// guest NIC).
var GuestModules = []string{
	"xhci_pci", "cdc_ether", "cdc_ncm", "rndis_host", "cdc_eem", "cdc_subset", "asix", "ax88179_178a", "r8152", "vhci_hcd", "usbip_host",
	"dummy_hcd", "libcomposite", "usb_f_ecm", "usb_f_ncm", "usb_f_rndis", "usb_f_eem", "usb_f_ecm_subset", "usb_f_fs",
	"usbmon", "9p", "9pnet_virtio", "virtio_pci", "af_packet", "configfs", "tun", "veth", "virtio_net",
}

// guestLibs are shared objects a cgo (gousb) test binary needs in the
// guest; they are copied with everything ldd says they need, including the
// ELF interpreter. libusb cannot be linked statically on Debian (there is
// no libudev.a). Libraries a particular test binary needs beyond these are
// shipped with it by Exec.
var guestLibs = []string{"libusb-1.0.so.0", "libc.so.6", "libpthread.so.0", "libm.so.6", "libdl.so.2", "libresolv.so.2"}

// guestTools are host programs the initramfs carries in /bin (so also
// /usr/sbin), with everything ldd says they need: the kernel's USB/IP
// tools (Debian's package usbip), which export a device bound to
// usbip_host (usbip bind, usbipd) and attach it through vhci_hcd (usbip
// attach, which records each port in /var/run/vhci_hcd). hostNeeds
// lists them, so a host without them fails CheckHost with the apt-get line.
var guestTools = []string{"/usr/sbin/usbip", "/usr/sbin/usbipd"}

// entry is one initramfs member; exactly one of src (a host file) and data is set.
type entry struct {
	name   string // archive path, no leading "/"
	mode   uint32 // cpio Type* | perm
	src    string
	data   []byte
	target string // symlinks
}

// manifest collects members, adding parent directories first.
type manifest struct {
	entries []entry
	dirs    map[string]bool
	names   map[string]bool
}

func newManifest() *manifest {
	return &manifest{dirs: map[string]bool{".": true}, names: map[string]bool{}}
}

func (m *manifest) dir(name string) {
	name = strings.Trim(name, "/")
	if name == "" || m.dirs[name] {
		return
	}
	m.dir(path.Dir(name))
	m.dirs[name] = true
	m.names[name] = true
	m.entries = append(m.entries, entry{name: name, mode: 0o040755})
}

func (m *manifest) add(e entry) {
	e.name = strings.Trim(e.name, "/")
	if m.names[e.name] {
		return // first one wins (ldd lists libraries more than once)
	}
	m.dir(path.Dir(e.name))
	m.names[e.name] = true
	m.entries = append(m.entries, e)
}

func (m *manifest) file(name, src string, perm uint32) {
	m.add(entry{name: name, mode: 0o100000 | perm, src: src})
}
func (m *manifest) bytes(name string, data []byte, perm uint32) {
	m.add(entry{name: name, mode: 0o100000 | perm, data: data})
}
func (m *manifest) symlink(name, target string) {
	m.add(entry{name: name, mode: 0o120777, target: target})
}

// fingerprint hashes everything the archive would be made of (host files by
// path, size and mtime), so an unchanged input set skips the rebuild.
func (m *manifest) fingerprint() (string, error) {
	h := sha256.New()
	for _, e := range m.entries {
		fmt.Fprintf(h, "%s %o %s\n", e.name, e.mode, e.target)
		if e.src != "" {
			st, err := os.Stat(e.src)
			if err != nil {
				return "", err
			}
			fmt.Fprintf(h, "src %s %d %d\n", e.src, st.Size(), st.ModTime().UnixNano())
		}
		h.Write(e.data)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// Initramfs builds <Dir>/build/initramfs.cpio.gz from busybox-static (with
// a symlink per applet), the module closure of GuestModules, the guest
// helper, the shared libraries of guestLibs, and the lab's /init. extra
// host binaries are added to /bin with their ldd libraries. It is skipped
// when the inputs are unchanged since the last build.
func (l *Lab) Initramfs(ctx context.Context, extra ...string) error {
	m, err := l.initramfsManifest(ctx, extra)
	if err != nil {
		return err
	}
	fp, err := m.fingerprint()
	if err != nil {
		return fmt.Errorf("initramfs: %w", err)
	}
	out := l.InitramfsPath()
	stamp := out + ".stamp"
	if b, err := os.ReadFile(stamp); err == nil && string(b) == fp {
		if _, err := os.Stat(out); err == nil {
			l.logf("initramfs: up to date")
			return nil
		}
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return err
	}
	tmp := out + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	err = writeArchive(f, m)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("initramfs %s: %w", out, err)
	}
	if err := os.Rename(tmp, out); err != nil {
		return err
	}
	st, _ := os.Stat(out)
	l.logf("initramfs: %s (%d members, %.1f MB)", out, len(m.entries), float64(st.Size())/1e6)
	return os.WriteFile(stamp, []byte(fp), 0o644)
}

func writeArchive(w io.Writer, m *manifest) error {
	// gzip level 1: the kernel unpacks it in ~0.1 s either way, and level 1
	// is several times faster to write than the default.
	gz, err := gzip.NewWriterLevel(w, gzip.BestSpeed)
	if err != nil {
		return err
	}
	cw := cpio.NewWriter(gz)
	for _, e := range m.entries {
		switch {
		case e.mode&0o170000 == 0o040000:
			err = cw.Dir(e.name, e.mode&0o7777)
		case e.target != "":
			err = cw.Symlink(e.name, e.target)
		case e.src != "":
			var data []byte
			data, err = os.ReadFile(e.src)
			if err == nil {
				err = cw.File(e.name, e.mode&0o7777, data)
			}
		default:
			err = cw.File(e.name, e.mode&0o7777, e.data)
		}
		if err != nil {
			return fmt.Errorf("member %s: %w", e.name, err)
		}
	}
	if err := cw.Close(); err != nil {
		return err
	}
	return gz.Close()
}

func (l *Lab) initramfsManifest(ctx context.Context, extra []string) (*manifest, error) {
	kver, err := l.KernelVersion()
	if err != nil {
		return nil, err
	}
	m := newManifest()
	for _, d := range []string{"dev", "proc", "sys", "tmp", "run", "mnt/lab", "etc", "root"} {
		m.dir(d)
	}
	m.bytes("init", initScript, 0o755)
	// A single bin directory: sbin and usr/* point at it, so the kernel's
	// /sbin/modprobe (request_module) and any #! path resolve.
	m.file("bin/busybox", "/bin/busybox", 0o755)
	applets, err := exec.CommandContext(ctx, "/bin/busybox", "--list").Output()
	if err != nil {
		return nil, fmt.Errorf("busybox --list: %w", err)
	}
	for _, a := range strings.Fields(string(applets)) {
		if a != "busybox" {
			m.symlink("bin/"+a, "busybox")
		}
	}
	m.symlink("sbin", "bin")
	m.dir("usr")
	m.symlink("usr/bin", "../bin")
	m.symlink("usr/sbin", "../bin")
	// usbip attach records its ports in /var/run/vhci_hcd.
	m.dir("var")
	m.symlink("var/run", "../run")
	m.bytes("etc/passwd", []byte("root:x:0:0:root:/root:/bin/sh\n"), 0o644)
	m.bytes("etc/group", []byte("root:x:0:\n"), 0o644)

	helper := l.GuestHelperPath()
	if _, err := os.Stat(helper); err != nil {
		return nil, fmt.Errorf("%w: guest helper: %v", ErrNotSetUp, err)
	}
	m.file("bin/labguest", helper, 0o755)
	if err := l.addGuestPrograms(m); err != nil {
		return nil, err
	}

	if err := l.addModules(m, kver); err != nil {
		return nil, err
	}
	libs, err := findLibs(guestLibs)
	if err != nil {
		return nil, err
	}
	for _, x := range append(guestTools[:len(guestTools):len(guestTools)], extra...) {
		if _, err := os.Stat(x); err != nil {
			return nil, fmt.Errorf("%w: guest tool: %v", ErrNotSetUp, err)
		}
		m.file("bin/"+filepath.Base(x), x, 0o755)
		libs = append(libs, x)
	}
	deps, err := LddClosure(ctx, libs...)
	if err != nil {
		return nil, err
	}
	for _, lib := range deps {
		m.file(lib, lib, 0o755)
	}
	return m, nil
}

func (l *Lab) addModules(m *manifest, kver string) error {
	mdir := filepath.Join(l.KernelDir(), "lib", "modules", kver)
	f, err := os.Open(filepath.Join(mdir, "modules.dep"))
	if err != nil {
		return fmt.Errorf("%w: %v (depmod -b did not run?)", ErrNotSetUp, err)
	}
	deps, err := ParseModulesDep(f)
	f.Close()
	if err != nil {
		return err
	}
	bf, err := os.Open(filepath.Join(mdir, "modules.builtin"))
	if err != nil {
		return fmt.Errorf("%w: %v", ErrNotSetUp, err)
	}
	builtin, err := ParseBuiltin(bf)
	bf.Close()
	if err != nil {
		return err
	}
	paths, err := deps.Closure(GuestModules, builtin)
	if err != nil {
		return fmt.Errorf("kernel %s: %w", kver, err)
	}
	rel := "lib/modules/" + kver + "/"
	names := map[string]bool{}
	for _, p := range paths {
		m.file(rel+p, filepath.Join(mdir, p), 0o644)
		names[ModuleName(p)] = true
	}
	var dep bytes.Buffer
	if err := deps.Subset(&dep, paths); err != nil {
		return err
	}
	m.bytes(rel+"modules.dep", dep.Bytes(), 0o644)
	for _, idx := range []string{"modules.alias", "modules.symbols"} {
		src, err := os.Open(filepath.Join(mdir, idx))
		if err != nil {
			return fmt.Errorf("%w: %v", ErrNotSetUp, err)
		}
		var b bytes.Buffer
		err = FilterAliases(&b, src, names)
		src.Close()
		if err != nil {
			return err
		}
		m.bytes(rel+idx, b.Bytes(), 0o644)
	}
	for _, idx := range []string{"modules.builtin", "modules.builtin.modinfo", "modules.order"} {
		m.file(rel+idx, filepath.Join(mdir, idx), 0o644)
	}
	return nil
}

// findLibs locates shared objects by soname in the linker cache (ldconfig -p).
func findLibs(sonames []string) ([]string, error) {
	out, err := exec.Command("/sbin/ldconfig", "-p").Output()
	if err != nil {
		return nil, fmt.Errorf("ldconfig -p: %w", err)
	}
	where := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		// "	libusb-1.0.so.0 (libc6,x86-64) => /lib/x86_64-linux-gnu/libusb-1.0.so.0"
		name, p, ok := strings.Cut(strings.TrimSpace(sc.Text()), " => ")
		if !ok || !strings.Contains(name, "x86-64") {
			continue
		}
		so := strings.Fields(name)[0]
		if _, seen := where[so]; !seen {
			where[so] = p
		}
	}
	var libs []string
	for _, so := range sonames {
		p, ok := where[so]
		if !ok {
			if so == "libusb-1.0.so.0" {
				return nil, fmt.Errorf("shared library %s not found: %s", so, AptCommand([]string{"libusb-1.0-0"}))
			}
			continue // optional compatibility stubs (libpthread, libdl) may be absent
		}
		libs = append(libs, p)
	}
	return libs, nil
}

// LddClosure returns the given shared objects or executables plus every
// library ldd resolves for them (with the ELF interpreter), as absolute
// paths, sorted. Statically linked files contribute only themselves.
func LddClosure(ctx context.Context, files ...string) ([]string, error) {
	set := map[string]bool{}
	for _, f := range files {
		if strings.HasSuffix(f, ".so") || strings.Contains(f, ".so.") {
			set[f] = true
		}
		out, err := exec.CommandContext(ctx, "ldd", f).CombinedOutput()
		if err != nil {
			if bytes.Contains(out, []byte("not a dynamic executable")) || bytes.Contains(out, []byte("statically linked")) {
				continue
			}
			return nil, fmt.Errorf("ldd %s: %w: %s", f, err, out)
		}
		libs, err := parseLdd(out)
		if err != nil {
			return nil, fmt.Errorf("ldd %s: %w", f, err)
		}
		for _, l := range libs {
			set[l] = true
		}
	}
	var list []string
	for l := range set {
		list = append(list, l)
	}
	sort.Strings(list)
	return list, nil
}

// parseLdd extracts absolute library paths from ldd output:
//
//	libudev.so.1 => /lib/x86_64-linux-gnu/libudev.so.1 (0x...)
//	/lib64/ld-linux-x86-64.so.2 (0x...)
//	linux-vdso.so.1 (0x...)                 (virtual, skipped)
//	libfoo.so.1 => not found               (an error)
func parseLdd(out []byte) ([]string, error) {
	var libs []string
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if name, rest, ok := strings.Cut(line, " => "); ok {
			if strings.HasPrefix(rest, "not found") {
				return nil, fmt.Errorf("library %s not found", name)
			}
			if p := strings.Fields(rest); len(p) > 0 && strings.HasPrefix(p[0], "/") {
				libs = append(libs, p[0])
			}
			continue
		}
		if f := strings.Fields(line); len(f) > 0 && strings.HasPrefix(f[0], "/") {
			libs = append(libs, f[0])
		}
	}
	return libs, nil
}
