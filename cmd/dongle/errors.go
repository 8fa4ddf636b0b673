package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"dongle/cmd/dongle/internal/target"
	"dongle/hw"
	usbhw "dongle/hw/gousb"
)

// Seams for tests: how devices are opened and listed.
var (
	openTarget = target.Open
	listUSB    = listAdapters
)

// fail prints err as one line on stderr, with a hint for the failures a
// user can fix, and returns the exit code.
func fail(stderr io.Writer, cmd string, err error) int {
	msg := strings.ReplaceAll(err.Error(), "\n", "; ")
	switch {
	case errors.Is(err, hw.ErrAccess):
		msg += " (permission denied on the USB device node: run 'sudo dongle udev --install' and replug, or run as root)"
	case errors.Is(err, hw.ErrBusy):
		msg += " (adapter busy: another program has it claimed)"
	case errors.Is(err, target.ErrNoAdapter):
		msg += " (plug one in, or name a trace file or sim:ecm)"
	case errors.Is(err, os.ErrPermission):
		msg += " (needs CAP_NET_ADMIN for a TAP or a network namespace: run as root)"
	}
	fmt.Fprintf(stderr, "dongle %s: %s\n", cmd, msg)
	return 1
}

// newFlags makes a command's flag set, printing errors to stderr.
func newFlags(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("dongle "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

// parse parses args allowing flags after positional arguments
// ("dongle decode TRACE -o FILE").
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// listAdapters enumerates USB network adapters: what dongle would drive
// (and the RNDIS ones it refuses), and how many devices were seen.
func listAdapters() ([]usbhw.Candidate, int, error) {
	ctx, err := usbhw.Open()
	if err != nil {
		return nil, 0, err
	}
	defer ctx.Close()
	all, err := ctx.List(nil)
	if err != nil {
		return nil, 0, err
	}
	var out []usbhw.Candidate
	for _, c := range all {
		if target.IsAdapter(c) {
			out = append(out, c)
		}
	}
	return out, len(all), nil
}
