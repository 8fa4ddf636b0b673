// Command labexec is the go test -exec adapter of dongle's virtual USB lab:
//
//	go test -exec "$PWD/.lab/labexec" ./specs/...
//
// go test calls it as `labexec /tmp/go-build.../x.test -test.v=true ...` in
// the package directory. It boots the lab VM, runs the test binary there as
// root with the USB fixture ready (see dongle/hw/vmlab/guest), streams its
// output, and exits with its exit status. DONGLE_* variables pass through
// (e.g. DONGLE_BACKEND=usb), as do those named in DONGLE_LAB_ENV.
//
// The lab directory is DONGLE_LAB_DIR, else the directory labexec lives in
// when that is a lab (setup builds it into the lab), else <module root>/.lab.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"dongle/hw/vmlab"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: labexec TESTBINARY [ARGS...]  (go test -exec)")
		os.Exit(2)
	}
	l := vmlab.Default()
	if os.Getenv(vmlab.EnvDir) == "" {
		if exe, err := os.Executable(); err == nil {
			if _, err := os.Stat(filepath.Join(filepath.Dir(exe), "kernel.stamp")); err == nil {
				l.Dir = filepath.Dir(exe)
			}
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	res, err := l.Exec(ctx, vmlab.ExecConfig{Bin: os.Args[1], Args: os.Args[2:], Stdout: os.Stdout})
	if res != nil {
		if ch := res.DriverChanges(); len(ch) > 0 {
			// A device left without its kernel driver is a failure of the
			// program under test (a backend that did not release), even
			// when every test passed.
			fmt.Fprintf(os.Stderr, "labexec: FAIL: kernel drivers NOT reattached: %s (%s)\n", strings.Join(ch, "; "), res.Dir)
			if err == nil && res.ExitCode == 0 {
				os.Exit(1)
			}
		} else if verbose(os.Args[2:]) {
			fmt.Fprintf(os.Stderr, "labexec: %s; kernel drivers reattached\n", res.Summary())
		}
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "labexec: %v\n", err)
		if res == nil || res.ExitCode < 0 {
			os.Exit(1)
		}
	}
	os.Exit(res.ExitCode)
}

func verbose(args []string) bool {
	for _, a := range args {
		if a == "-test.v=true" || a == "-test.v" || strings.HasPrefix(a, "-test.v=test2json") {
			return true
		}
	}
	return false
}
