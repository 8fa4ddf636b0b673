// Package gcpace sets the garbage collector's pace for the commands that
// carry frames through an adapter as fast as it takes them: dongleblast
// (the lab's bench) and dongle tap. The others keep Go's default: soak's
// live heap holds its trace ring, and at this pace its resident set would
// grow towards five times that for no gain; decode and diag are not bound
// by the collector.
//
// The driver's working set is a few MiB made at the start of a run: the
// frames queued for the device (up to txqueuelen), its URB buffers, its
// aggregation blocks. After that its per-frame paths allocate nothing.
// With Go's default pace (GOGC=100) the first collection comes when the
// heap reaches 4 MiB, that is while the working set is being made, and its
// mark phase takes a processor and slows the rest with write barriers and
// assists while frames flow. Pacing at 400 puts the first collection at a
// 16 MiB heap, past the working set, and makes the later ones rarer (each
// comes when the heap has grown to five times what the previous one left
// live); libusb's and gousb's own allocations still bring some.
//
// A GOGC in the environment wins: the user's choice is kept. The far side's
// model (cmd/ffsmodel) is not paced: it serves the kernel's driver and
// dongle's alike, so a bench compares the drivers, not the models.
package gcpace

import (
	"os"
	"runtime/debug"
)

// Percent is the pace Set applies (GOGC=Percent).
const Percent = 400

// Set applies Percent unless GOGC is set in the environment (an empty GOGC
// is the runtime's default, so not a choice), and reports whether it did.
func Set() bool {
	if os.Getenv("GOGC") != "" {
		return false
	}
	debug.SetGCPercent(Percent)
	return true
}
