package vmlab

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// EnvDir overrides the lab directory (default: <module root>/.lab).
const EnvDir = "DONGLE_LAB_DIR"

// Lab is one lab directory: a cache that Setup fills and Run uses.
//
//	<Dir>/dl/linux-image-*.deb     the kernel package, as apt-get download left it
//	<Dir>/kernel/                  dpkg -x of it, with modules.dep from depmod -b
//	<Dir>/kernel.stamp             name of the package unpacked there
//	<Dir>/bin/labguest             static guest helper (echo, blast, ping, usb listing)
//	<Dir>/labexec                  the go test -exec adapter
//	<Dir>/build/initramfs.cpio.gz  built by Initramfs, with .stamp = hash of its inputs
//	<Dir>/runs/<id>/               one directory per Run (console, QEMU pcap, peer pcap, share)
//
// Everything in it can be deleted; Setup recreates it.
type Lab struct {
	Dir string
	Log io.Writer // progress messages; nil discards them
	// Step, if set, is told each long step (of Setup and the benches) as
	// it starts, for a progress display; it must not block.
	Step func(step string)
}

// step reports the start of a long step to Step.
func (l *Lab) step(format string, args ...any) {
	if l.Step != nil {
		l.Step(fmt.Sprintf(format, args...))
	}
}

// Default returns the lab in $DONGLE_LAB_DIR, or else in .lab under the root
// of the module that contains the working directory (the repository
// .gitignores /.lab/), or else ./.lab.
func Default() *Lab {
	if d := os.Getenv(EnvDir); d != "" {
		abs, err := filepath.Abs(d)
		if err == nil {
			d = abs
		}
		return &Lab{Dir: d}
	}
	wd, err := os.Getwd()
	if err != nil {
		return &Lab{Dir: ".lab"}
	}
	if root, ok := ModuleRoot(wd); ok {
		return &Lab{Dir: filepath.Join(root, ".lab")}
	}
	return &Lab{Dir: filepath.Join(wd, ".lab")}
}

// ModuleRoot walks up from dir to the directory holding go.mod.
func ModuleRoot(dir string) (string, bool) {
	for {
		if st, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil && !st.IsDir() {
			return dir, true
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", false
		}
		dir = parent
	}
}

func (l *Lab) logf(format string, args ...any) {
	if l.Log != nil {
		fmt.Fprintf(l.Log, "lab: "+format+"\n", args...)
	}
}

func (l *Lab) path(elem ...string) string { return filepath.Join(append([]string{l.Dir}, elem...)...) }

// KernelDir is the unpacked kernel package.
func (l *Lab) KernelDir() string { return l.path("kernel") }

// InitramfsPath is the built initramfs.
func (l *Lab) InitramfsPath() string { return l.path("build", "initramfs.cpio.gz") }

// LabexecPath is the go test -exec adapter Setup builds.
func (l *Lab) LabexecPath() string { return l.path("labexec") }

// GuestHelperPath is the static guest helper binary Setup builds.
func (l *Lab) GuestHelperPath() string { return l.path("bin", "labguest") }

// ErrNotSetUp is wrapped when a run needs something Setup has not produced.
var ErrNotSetUp = errors.New("lab not set up")

// KernelVersion is the one version directory under kernel/lib/modules.
func (l *Lab) KernelVersion() (string, error) {
	ents, err := os.ReadDir(l.path("kernel", "lib", "modules"))
	if err != nil {
		return "", fmt.Errorf("%w: no unpacked kernel in %s (run `go run ./hw/vmlab/cmd/lab setup`): %v", ErrNotSetUp, l.KernelDir(), err)
	}
	var vers []string
	for _, e := range ents {
		if e.IsDir() {
			vers = append(vers, e.Name())
		}
	}
	if len(vers) != 1 {
		return "", fmt.Errorf("%w: %s/lib/modules holds %d kernel versions (%s), want exactly one", ErrNotSetUp, l.KernelDir(), len(vers), strings.Join(vers, " "))
	}
	return vers[0], nil
}

// Vmlinuz is the kernel image.
func (l *Lab) Vmlinuz() (string, error) {
	kver, err := l.KernelVersion()
	if err != nil {
		return "", err
	}
	p := l.path("kernel", "boot", "vmlinuz-"+kver)
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("%w: kernel image: %v", ErrNotSetUp, err)
	}
	return p, nil
}

// Ready reports whether the lab can boot (kernel and initramfs present);
// the error says what is missing. Tests skip with this error's text.
func (l *Lab) Ready() error {
	if _, err := l.Vmlinuz(); err != nil {
		return err
	}
	if _, err := os.Stat(l.InitramfsPath()); err != nil {
		return fmt.Errorf("%w: initramfs: %v", ErrNotSetUp, err)
	}
	return nil
}
