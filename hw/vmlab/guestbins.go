package vmlab

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// GuestProgram is a static guest program Setup builds (CGO_ENABLED=0) into
// <Dir>/bin and the initramfs carries in /bin, besides labguest.
type GuestProgram struct {
	Name string // file name in /bin
	Pkg  string // Go package path
}

// GuestPrograms are the extra guest programs. The list is the one place to
// add a program to the guest: BuildTools builds each, Initramfs includes each
// (a program not built yet is an ErrNotSetUp).
//
//	ffsmodel  an ASIX device model as a real USB device (FunctionFS on dummy_hcd)
var GuestPrograms = []GuestProgram{
	{Name: "ffsmodel", Pkg: "dongle/cmd/ffsmodel"},
}

// GuestProgramPath is where Setup puts a guest program.
func (l *Lab) GuestProgramPath(name string) string { return l.path("bin", name) }

// buildGuestPrograms builds GuestPrograms statically.
func (l *Lab) buildGuestPrograms(ctx context.Context, moduleRoot string) error {
	for _, p := range GuestPrograms {
		cmd := exec.CommandContext(ctx, "go", "build", "-o", l.GuestProgramPath(p.Name), p.Pkg)
		cmd.Dir = moduleRoot
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("go build %s: %w: %s", p.Pkg, err, out)
		}
	}
	return nil
}

// addGuestPrograms puts every built guest program in /bin of m.
func (l *Lab) addGuestPrograms(m *manifest) error {
	for _, p := range GuestPrograms {
		src := l.GuestProgramPath(p.Name)
		if _, err := os.Stat(src); err != nil {
			return fmt.Errorf("%w: guest program %s: %v", ErrNotSetUp, p.Name, err)
		}
		m.file(filepath.Join("bin", p.Name), src, 0o755)
	}
	return nil
}

// EnvGuestSetup is sh(1) code Exec runs in the guest after the fixture and
// before the binary, e.g. to start an emulated device for the specs:
//
//	DONGLE_LAB_SETUP='ffsmodel -daemon -model ax88179' go test -exec .lab/labexec ./specs -args --backend=usb:0b95:1790
//
// A failing setup fails the run (exit status 95) without running the binary.
const EnvGuestSetup = "DONGLE_LAB_SETUP"

// guestSetup is the script line for EnvGuestSetup in env ("" if unset).
func guestSetup(env []string) string {
	for i := len(env) - 1; i >= 0; i-- {
		if v, ok := cutEnv(env[i], EnvGuestSetup); ok && v != "" {
			return "{ " + v + "\n} || exit 95\n"
		}
	}
	return ""
}

func cutEnv(kv, name string) (string, bool) {
	if len(kv) > len(name) && kv[:len(name)] == name && kv[len(name)] == '=' {
		return kv[len(name)+1:], true
	}
	return "", false
}
