// Package ecm is a CDC-ECM (Ethernet Control Model) USB device for the sim
// engine: descriptors, the CDC class requests, notifications, and the
// Ethernet side (a sim.Port on a sim.Wire).
//
// Two flavors, both measured in dongle's virtual lab:
//
//   - QEMU: QEMU 7.2's usb-net in its CDC configuration. Descriptors and
//     strings are byte for byte what the capture
//     fixtures/qemu-usbnet-cdc_ether.pcap shows (0525:a4a2, full speed,
//     configuration index 0 is RNDIS value 2, index 1 is CDC value 1), and
//     every interrupt IN poll is answered, one bInterval (32 ms) apart, with
//     NETWORK_CONNECTION wValue 1, whatever the link does.
//   - Gadget: Linux f_ecm through configfs on dummy_hcd (1209:0001, high
//     speed, 512-byte bulk). It notifies only on change: NETWORK_CONNECTION
//     then CONNECTION_SPEED_CHANGE when the host selects data alt 1 and on
//     every link change.
//
// Each flavor filters frames from the wire as its device does, measured in
// the lab with a wire-side peer: QEMU passes every frame whatever
// SET_ETHERNET_PACKET_FILTER said; Gadget applies the broadcast and
// multicast bits and passes unicast to any station. Options.PerCDC makes
// either honour SET_ETHERNET_PACKET_FILTER and, with Options.MCFilters > 0,
// SET_ETHERNET_MULTICAST_FILTERS as CDC ECM says, so that a driver's
// rx-mode code is observable on a conforming device.
//
// Data path:
//
//	host bulk OUT 0x02 ─(engine: packets until short/ZLP)─► Out ─► link up? ─► Wire
//	host bulk IN 0x82 ◄─(engine: packets + ZLP)─ SendInZLP ◄─ filter ◄─ link up, alt 1? ◄─ Wire
//
// The model never inspects frames beyond the destination address: what the
// host wrote as one device-side transfer is one frame on the wire, exactly,
// so a missing ZLP shows up as two frames glued together (counted as
// Counters.NoZLP).
package ecm
