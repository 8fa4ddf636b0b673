package gousb

// The transfer callback's way into Go, once per batch. A file that //exports a function
// may declare but not define C in its preamble, so the C side of the
// transfers lives in xfer.go.

/*
#include <stdint.h>
*/
import "C"

import "runtime/cgo"

// dongleXfersWake is called by dongle_xfer_cb (xfer.go) on libusb's event
// thread when a completion finds the ring of the libusbXfers whose handle
// is h armed.
//
//export dongleXfersWake
func dongleXfersWake(h C.uintptr_t) {
	cgo.Handle(h).Value().(*libusbXfers).wake()
}
