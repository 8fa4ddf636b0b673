// Command dongle is a hardware-in-the-loop test harness for USB Ethernet
// adapters: it lists them, diagnoses them, runs the conformance suite
// against them, records and replays their USB traffic, and decodes traces.
//
//	dongle list                      adapters present, with chip and driver
//	dongle diag [DEVICE|TRACE]       descriptors, MAC, link, PHY, registers, EEPROM, statistics
//	dongle test [--backend=...]      the conformance suite against a backend
//	dongle record -o FILE DEVICE     drive an adapter through a scenario, recording usbmon
//	dongle record --usbmon BUS -o FILE   capture the kernel's own USB traffic (usbmon, no Wireshark)
//	dongle replay TRACE              bind the driver to a trace, report divergences
//	dongle decode TRACE -o FILE      Ethernet frames out of a usbmon trace
//	dongle soak --backend=sim:MODEL  traffic both ways under USB faults, every frame accounted for
//	dongle udev [--install]          udev rule for unprivileged access
//	dongle lab ...                   the virtual USB lab (QEMU + Linux gadgets)
//
// Every subcommand prints one clear line and exits non-zero on bad input.
package main

import (
	"fmt"
	"io"
	"os"
	"sort"

	"dongle/usbnet/catalog"
)

// command is one subcommand. run gets the arguments after the subcommand's
// name and returns the process exit code.
type command struct {
	summary string
	run     func(args []string, stdout, stderr io.Writer) int
}

var commands = map[string]command{}

func register(name, summary string, run func(args []string, stdout, stderr io.Writer) int) {
	if _, dup := commands[name]; dup {
		panic("dongle: command registered twice: " + name)
	}
	commands[name] = command{summary, run}
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: dongle COMMAND [ARGS]")
	fmt.Fprintln(w, "\ncommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-8s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(w, "\ndevice models (name one where a device is taken):")
	for _, m := range catalog.Models() {
		fmt.Fprintf(w, "  %-15s %s\n", m.Selector, m.Describe)
	}
	fmt.Fprintf(w, "\ndrivers: %s\n", catalog.Names())
	fmt.Fprintln(w, "\nRun 'dongle COMMAND -h' for a command's flags.")
}

// Main is the whole program, separated from os.Exit for tests.
func Main(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return 2
	}
	switch args[0] {
	case "-h", "--help", "help":
		usage(stdout)
		return 0
	}
	c, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "dongle: unknown command %q (run 'dongle help')\n", args[0])
		return 2
	}
	return c.run(args[1:], stdout, stderr)
}

func main() { os.Exit(Main(os.Args[1:], os.Stdout, os.Stderr)) }
