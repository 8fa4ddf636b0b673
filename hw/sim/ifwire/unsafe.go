package ifwire

import "unsafe"

// unsafePointer views the start of a netlink message's payload as a
// kernel struct (an ifinfomsg): the length is checked by the caller.
func unsafePointer(b []byte) unsafe.Pointer { return unsafe.Pointer(&b[0]) }
