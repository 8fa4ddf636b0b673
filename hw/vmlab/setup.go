package vmlab

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"time"
)

// SetupTimes records how long each Setup step took (skipped steps are fast).
type SetupTimes struct {
	Kernel, Tools, Initramfs, Total time.Duration
	KernelPackage                   string
}

// Setup makes the lab ready to run, doing only what is out of date:
//  1. checks the host packages (the error carries the apt-get command),
//  2. downloads and unpacks the kernel linux-image-amd64 points to, depmod -b,
//  3. builds the guest helper (static) and the go test -exec adapter from the
//     module at moduleRoot (go build; its cache makes a rebuild ~1 s),
//  4. builds the initramfs (skipped when its inputs are unchanged).
func (l *Lab) Setup(ctx context.Context, moduleRoot string) (SetupTimes, error) {
	var st SetupTimes
	t0 := time.Now()
	l.step("checking host packages")
	if err := CheckHost(); err != nil {
		return st, err
	}
	l.step("finding the kernel package")
	pkg, err := KernelPackage(ctx)
	if err != nil {
		return st, err
	}
	st.KernelPackage = pkg
	l.step("kernel %s: fetching and unpacking", pkg)
	if err := l.FetchKernel(ctx, pkg); err != nil {
		return st, err
	}
	st.Kernel = time.Since(t0)

	t1 := time.Now()
	l.step("building labguest and labexec")
	if err := l.BuildTools(ctx, moduleRoot); err != nil {
		return st, err
	}
	st.Tools = time.Since(t1)

	t2 := time.Now()
	l.step("initramfs")
	if err := l.Initramfs(ctx); err != nil {
		return st, err
	}
	st.Initramfs = time.Since(t2)
	st.Total = time.Since(t0)
	return st, nil
}

// BuildTools builds labguest (CGO_ENABLED=0: static, so it runs as the
// guest's helper without libraries) and labexec into the lab directory.
func (l *Lab) BuildTools(ctx context.Context, moduleRoot string) error {
	for _, b := range []struct {
		out, pkg string
		env      []string
	}{
		{l.GuestHelperPath(), "dongle/hw/vmlab/cmd/labguest", []string{"CGO_ENABLED=0"}},
		{l.LabexecPath(), "dongle/hw/vmlab/cmd/labexec", nil},
	} {
		cmd := exec.CommandContext(ctx, "go", "build", "-o", b.out, b.pkg)
		cmd.Dir = moduleRoot
		cmd.Env = append(os.Environ(), b.env...)
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("go build %s: %w: %s", b.pkg, err, out)
		}
	}
	if err := l.buildGuestPrograms(ctx, moduleRoot); err != nil {
		return err
	}
	l.logf("tools: %s, %s", l.GuestHelperPath(), l.LabexecPath())
	return nil
}
