package vmlab

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// EnvKernelPkg names a kernel package to use instead of the one
// linux-image-amd64 depends on (e.g. linux-image-6.1.0-56-amd64).
const EnvKernelPkg = "DONGLE_LAB_KERNEL_PKG"

// KernelPackage is the versioned kernel package the linux-image-amd64
// metapackage currently points to, as `apt-cache depends` reports it.
func KernelPackage(ctx context.Context) (string, error) {
	if p := os.Getenv(EnvKernelPkg); p != "" {
		return p, nil
	}
	out, err := exec.CommandContext(ctx, "apt-cache", "depends", "linux-image-amd64").Output()
	if err != nil {
		return "", fmt.Errorf("apt-cache depends linux-image-amd64: %w (run apt-get update?)", err)
	}
	return parseKernelDepends(out)
}

// parseKernelDepends picks "linux-image-<version>" out of apt-cache depends
// output ("  Depends: linux-image-6.1.0-56-amd64").
func parseKernelDepends(out []byte) (string, error) {
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 2 && f[0] == "Depends:" && strings.HasPrefix(f[1], "linux-image-") &&
			len(f[1]) > len("linux-image-") && f[1][len("linux-image-")] >= '0' && f[1][len("linux-image-")] <= '9' {
			return f[1], nil
		}
	}
	return "", fmt.Errorf("apt-cache depends linux-image-amd64: no versioned linux-image dependency in %q", out)
}

// FetchKernel downloads (apt-get download) and unpacks (dpkg -x, not
// installed) the kernel package, and indexes its modules with depmod -b.
// It does nothing when kernel.stamp already names pkg.
func (l *Lab) FetchKernel(ctx context.Context, pkg string) error {
	stamp := l.path("kernel.stamp")
	if b, err := os.ReadFile(stamp); err == nil && strings.TrimSpace(string(b)) == pkg {
		if _, err := l.KernelVersion(); err == nil {
			l.logf("kernel %s: up to date", pkg)
			return nil
		}
	}
	dl := l.path("dl")
	if err := os.MkdirAll(dl, 0o755); err != nil {
		return err
	}
	deb, err := findDeb(dl, pkg)
	if err != nil {
		l.logf("apt-get download %s", pkg)
		cmd := exec.CommandContext(ctx, "apt-get", "download", pkg)
		cmd.Dir = dl
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("apt-get download %s: %w: %s", pkg, err, out)
		}
		if deb, err = findDeb(dl, pkg); err != nil {
			return err
		}
	}
	tmp := l.path("kernel.tmp")
	os.RemoveAll(tmp)
	l.logf("dpkg -x %s", filepath.Base(deb))
	if out, err := exec.CommandContext(ctx, "dpkg", "-x", deb, tmp).CombinedOutput(); err != nil {
		return fmt.Errorf("dpkg -x %s: %w: %s", deb, err, out)
	}
	kver := strings.TrimPrefix(pkg, "linux-image-")
	if _, err := os.Stat(filepath.Join(tmp, "lib", "modules", kver)); err != nil {
		return fmt.Errorf("kernel package %s: no lib/modules/%s inside: %w", pkg, kver, err)
	}
	l.logf("depmod -b %s %s", tmp, kver)
	if out, err := exec.CommandContext(ctx, depmodPath(), "-b", tmp, kver).CombinedOutput(); err != nil {
		return fmt.Errorf("depmod -b %s %s: %w: %s", tmp, kver, err, out)
	}
	os.Remove(stamp)
	if err := os.RemoveAll(l.KernelDir()); err != nil {
		return err
	}
	if err := os.Rename(tmp, l.KernelDir()); err != nil {
		return err
	}
	return os.WriteFile(stamp, []byte(pkg+"\n"), 0o644)
}

func findDeb(dir, pkg string) (string, error) {
	m, _ := filepath.Glob(filepath.Join(dir, pkg+"_*.deb"))
	if len(m) == 0 {
		return "", fmt.Errorf("no %s_*.deb in %s", pkg, dir)
	}
	return m[len(m)-1], nil
}

func depmodPath() string {
	if p, err := exec.LookPath("depmod"); err == nil {
		return p
	}
	return "/usr/sbin/depmod"
}
