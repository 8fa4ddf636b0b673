package gousb

// The transfer callback's way into Go. A file that //exports a function
// may declare but not define C in its preamble, so the C side of the
// transfers lives in xfer.go.

/*
#include <stdint.h>
*/
import "C"

import "runtime/cgo"

// dongleXferDone is called by dongle_xfer_cb (xfer.go) on libusb's event
// thread for transfer index of the libusbXfers whose handle is h.
//
//export dongleXferDone
func dongleXferDone(h C.uintptr_t, index, status, n C.int) {
	cgo.Handle(h).Value().(*libusbXfers).completed(int(index), int(status), int(n))
}
