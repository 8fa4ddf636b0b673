// Package record wraps any hw.Device so that everything a driver does on
// the bus is written to a usbmon capture (pcap, link type 220), the way the
// Linux kernel's usbmon would log the same driver: tshark and Wireshark
// open it, and hw/replay plays it back.
//
//	driver ──► record.Device ──► hw.Device (gousb, sim, vmlab, ...)
//	                │
//	                └──► usbmon.Writer ──► trace.pcap
//
// # What is logged
//
//   - Control: an 'S' record with the setup packet (and OUT data), then a
//     'C' with the status and IN data, endpoint 0x80 or 0x00 by direction.
//   - Bulk and interrupt: 'S' at Submit (with OUT data), 'C' when Wait
//     hands the transfer back (with IN data). A Submit the backend refuses
//     is an 'S' followed by an 'E', as usb_hcd_submit_urb logs it.
//   - SetConfiguration, SetAlt and ClearHalt as the control URBs the kernel
//     would send for them (SET_CONFIGURATION, SET_INTERFACE and
//     CLEAR_FEATURE(ENDPOINT_HALT)), so a replay sees them.
//   - Statuses as negated Linux errnos (usbmon.StatusOf): -EPIPE for a
//     stall, -ENOENT for a cancel, -ETIMEDOUT, -ENODEV, -EOVERFLOW, ...
//
// Claim, Release, OpenEndpoint and Reset put nothing on the bus and are
// not logged.
//
// # The dongle mark
//
// pcap has no room for comments, so a trace says it was written by dongle
// through its URB ids: every id is IDTag|n with n counting up from 1 per
// trace ("dong" in the high 32 bits). Kernel ids are kernel addresses
// (0xffff...) and QEMU's are 0 or guest addresses, so the mark cannot
// occur by accident, and it survives pcap→pcapng conversion and editcap
// (which a header field or a file name would not). Recorded reports it.
package record
