package main

import (
	"fmt"
	"io"
	"sync/atomic"
	"time"

	"dongle/cmd/dongle/internal/progress"
	"dongle/hw/vmlab"
)

// dongle lab ...: the virtual USB lab (hw/vmlab): setup, status, run, exec,
// bench, smoke. `dongle lab setup` must run inside the module (it builds the
// guest helper and the go test -exec adapter into .lab).
func init() {
	register("lab", "the virtual USB lab: setup, status, run, exec, bench, smoke", runLab)
}

// labStep is the step a long lab command is on, and since when.
type labStep struct {
	name string
	at   time.Time
}

// runLab runs the lab's command line; setup and bench get a progress line
// (on a terminal) naming the step they are on and how long it has taken.
// The lab's own output goes through the line's writers, so that it starts
// on a clean line.
func runLab(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || (args[0] != "setup" && args[0] != "bench") {
		return vmlab.MainIO(args, stdout, stderr)
	}
	line := progress.New(stdout)
	var cur atomic.Pointer[labStep]
	cur.Store(&labStep{"starting", time.Now()})
	stop := line.Ticker(func() string {
		s := cur.Load()
		return fmt.Sprintf("lab %s: %s (%v)", args[0], s.name, time.Since(s.at).Round(time.Second))
	})
	code := vmlab.MainSteps(args, line.Writer(stdout), line.Writer(stderr), func(s string) {
		cur.Store(&labStep{s, time.Now()})
	})
	stop()
	line.Clear()
	return code
}
