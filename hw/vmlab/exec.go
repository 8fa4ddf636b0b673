package vmlab

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// EnvPass lists extra environment variables (comma-separated names) that
// Exec hands to the guest, besides every DONGLE_* variable and GOTRACEBACK,
// GODEBUG, GOMAXPROCS.
const EnvPass = "DONGLE_LAB_ENV"

// EnvTimeout overrides Exec's run timeout (a Go duration).
const EnvTimeout = "DONGLE_LAB_TIMEOUT"

// ExecConfig is one program run in the guest, go test -exec style.
type ExecConfig struct {
	Bin    string   // host path of the binary (a test binary built by go test)
	Args   []string // its arguments (-test.v, -test.run=..., ...)
	Env    []string // host environment to pick the passed variables from; nil: os.Environ()
	Dir    string   // host working directory, also in the guest; default os.Getwd()
	Stdout io.Writer
}

// Exec runs a binary in the lab guest as root, with the fixture ready:
// the binary and the shared libraries ldd finds for it go in through the 9p
// share (LD_LIBRARY_PATH points at them; the ELF interpreter and libusb's
// closure are in the initramfs already), the module root is mounted at the
// same path as on the host so relative paths like testdata/ work, and the
// working directory is the same. The binary's exit status is the Result's.
//
// The run's timeout is the binary's -test.timeout plus two minutes (boot and
// fixture), else 10 minutes, or $DONGLE_LAB_TIMEOUT.
func (l *Lab) Exec(ctx context.Context, c ExecConfig) (*Result, error) {
	cfg, err := execConfig(ctx, c)
	if err != nil {
		return nil, err
	}
	return l.Run(ctx, cfg)
}

// execConfig is the run Exec makes: the binary as /mnt/lab/test.bin with its
// libraries, the module root shared, the environment passed; Script runs
// the binary once with c.Args (callers may replace it, see Suite).
func execConfig(ctx context.Context, c ExecConfig) (RunConfig, error) {
	env := c.Env
	if env == nil {
		env = os.Environ()
	}
	dir := c.Dir
	if dir == "" {
		var err error
		if dir, err = os.Getwd(); err != nil {
			return RunConfig{}, err
		}
	}
	bin, err := filepath.Abs(c.Bin)
	if err != nil {
		return RunConfig{}, err
	}
	files := map[string]string{"test.bin": bin}
	libs, err := LddClosure(ctx, bin)
	if err != nil {
		return RunConfig{}, err
	}
	for _, lib := range libs {
		if !strings.Contains(filepath.Base(lib), "ld-linux") {
			files["lib/"+filepath.Base(lib)] = lib
		}
	}
	var script strings.Builder
	if len(libs) > 0 {
		script.WriteString("export LD_LIBRARY_PATH=/mnt/lab/lib\n")
	}
	script.WriteString(guestSetup(env))
	script.WriteString("/mnt/lab/test.bin")
	for _, a := range c.Args {
		script.WriteString(" " + Quote(a))
	}
	cfg := RunConfig{
		Script: script.String(),
		Files:  files,
		Env:    passEnv(env),
		Dir:    dir,
		Stdout: c.Stdout,
	}
	if root, ok := ModuleRoot(dir); ok {
		cfg.HostRoot = root
	} else {
		cfg.HostRoot = dir
	}
	cfg.Timeout = execTimeout(env, c.Args)
	for _, kv := range env {
		if v, ok := cutEnv(kv, EnvUSBNetPeer); ok {
			switch v {
			case "", "host":
			case "guest":
				cfg.USBNetToGuest = true
			default:
				return RunConfig{}, fmt.Errorf("%s=%q: want host or guest", EnvUSBNetPeer, v)
			}
		}
	}
	return cfg, nil
}

// EnvUSBNetPeer says what stands at the far end of usb-net's cable:
// "host" (the default: the host peer, frames counted and echoed there) or
// "guest" (a virtio-net NIC in the guest: RunConfig.USBNetToGuest).
const EnvUSBNetPeer = "DONGLE_LAB_USBNET_PEER"

func passEnv(env []string) []string {
	pass := map[string]bool{"GOTRACEBACK": true, "GODEBUG": true, "GOMAXPROCS": true}
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, EnvPass+"="); ok {
			for _, n := range strings.Split(v, ",") {
				pass[strings.TrimSpace(n)] = true
			}
		}
	}
	var out []string
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		if k == EnvDir || k == EnvPass || k == EnvTimeout || k == EnvUSBNetPeer {
			continue // host-side lab settings
		}
		if strings.HasPrefix(k, "DONGLE_") || pass[k] {
			out = append(out, kv)
		}
	}
	return out
}

func execTimeout(env, args []string) time.Duration {
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, EnvTimeout+"="); ok {
			if d, err := time.ParseDuration(v); err == nil {
				return d
			}
		}
	}
	for _, a := range args {
		if v, ok := strings.CutPrefix(a, "-test.timeout="); ok {
			if d, err := time.ParseDuration(v); err == nil && d > 0 {
				return d + 2*time.Minute
			}
		}
	}
	return 10 * time.Minute
}

// DriverChanges is the reattach check: the interfaces whose kernel driver
// differs between before and after the program ran (empty: every driver a
// backend detached was reattached, as libusb does on release). An
// interface is compared only while the same device (port and VID:PID)
// holds it: a guest setup that replaced a fixture gadget with another
// device on the same port (ffsmodel taking the RNDIS gadget's UDC) is no
// driver left detached.
func (r *Result) DriverChanges() []string {
	before := map[string]string{}
	for _, line := range strings.Split(r.USBBefore, "\n") {
		for _, b := range ifaceDrivers(line) {
			before[deviceID(line)+" "+b[0]] = b[1]
		}
	}
	var ch []string
	for _, line := range strings.Split(r.USBAfter, "\n") {
		for _, a := range ifaceDrivers(line) {
			if was, ok := before[deviceID(line)+" "+a[0]]; ok && was != a[1] {
				ch = append(ch, fmt.Sprintf("%s: %s before, %s after", a[0], was, a[1]))
			}
		}
	}
	return ch
}

// deviceID is the "port VID:PID" that starts a guest.USBDevice.String line.
func deviceID(line string) string {
	f := strings.Fields(line)
	if len(f) < 2 {
		return ""
	}
	return f[0] + " " + f[1]
}

// ifaceDrivers parses guest.USBDevice.String's interface list into
// (interface, driver) pairs.
func ifaceDrivers(line string) [][2]string {
	i := strings.Index(line, " cfg ")
	if i < 0 {
		return nil
	}
	j := strings.IndexByte(line[i:], ':')
	if j < 0 {
		return nil
	}
	list := line[i+j+1:]
	var out [][2]string
	for _, part := range strings.Split(list, ",") {
		f := strings.Fields(part)
		if len(f) >= 3 {
			out = append(out, [2]string{f[0], f[2]})
		}
	}
	return out
}
