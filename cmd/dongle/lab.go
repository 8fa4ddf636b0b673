package main

import (
	"io"

	"dongle/hw/vmlab"
)

// dongle lab ...: the virtual USB lab (hw/vmlab): setup, status, run, exec,
// bench, smoke. `dongle lab setup` must run inside the module (it builds the
// guest helper and the go test -exec adapter into .lab).
func init() {
	register("lab", "the virtual USB lab: setup, status, run, exec, bench, smoke", func(args []string, stdout, stderr io.Writer) int {
		return vmlab.MainIO(args, stdout, stderr)
	})
}
