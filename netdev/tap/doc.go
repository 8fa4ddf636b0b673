// Package tap puts a netdev.Device on the host's network: it joins the
// device to a Linux TAP interface, so that the host's own stack (ping, a
// TCP connection, a DHCP client) talks through dongle's driver to the
// adapter and the wire behind it.
//
//	host stack ─► TAP ─► /dev/net/tun read ─► Xmit ─► driver ─► USB ─► adapter ─► wire
//	host stack ◄─ TAP ◄─ /dev/net/tun write ◄─ rx handler ◄─ bottom half ◄─ driver ◄─ wire
//	TAP carrier ◄─ carrier watcher ◄─ the driver's link
//
// The TAP takes the device's MAC address and MTU when it is made. Frames
// travel whole (IFF_TAP|IFF_NO_PI: no packet-information header), one per
// read or write.
//
// # Invariants
//
//   - Every frame is counted once, where it ends: read from the TAP and
//     queued (FromTAP), refused by the device (FromTAPDropped: down, no
//     carrier, or the device's queue full when Close came), or malformed
//     (FromTAPBad); received by the device and written to the TAP (ToTAP)
//     or refused by it (ToTAPErrors). The device's own counters say what
//     the driver then did with each.
//   - No frame is dropped for lack of room in the device's transmit
//     queue: while it is full the reader stops reading and the TAP's own
//     ring (its txqueuelen, 500 frames) absorbs the host's frames. tun
//     does not stop the host's queue when that ring is full: beyond it
//     the kernel drops and counts the frame as the TAP's tx_dropped,
//     which is where a test looks for such a loss.
//   - The device's RX filter passes all multicast while the bridge
//     stands (SetAllMulti): the groups the host joins on the TAP are not
//     the device's to know.
//   - A frame the bridge is writing to the TAP when Close comes may be
//     counted in ToTAPErrors after Close returns.
//   - Every buffer read from the TAP is handed to Xmit or freed; every
//     buffer the rx handler takes is freed after its write.
//   - One goroutine, the reader, started by Open and ended (and waited
//     for) by Close. Close removes the rx handler and the carrier watcher
//     before the TAP goes, and the TAP interface vanishes with its file.
//
// Why a TAP and not a packet socket on some existing interface: the TAP
// is an interface of its own, with the adapter's MAC, its MTU and its
// carrier, so whatever the host runs on it is traffic through the driver
// under test and nothing else.
package tap
