// Package specs is dongle's conformance suite: one set of Ginkgo specs that
// runs unchanged against every backend a USB Ethernet adapter can be reached
// through.
//
//	backend          what stands behind hw.Device                  far side of the wire
//	sim:MODEL        a device model of usbnet/catalog (sim:ecm,    a sim.Wire the spec drives
//	                 sim:ax88772, ...; `dongle help` lists them)
//	trace:FILE       hw/replay model replay of a usbmon capture    none: the recording
//	usb[:SEL]        hw/gousb, a real (or virtual-lab) adapter     --peer: iface:NAME (AF_PACKET on the
//	                                                               host NIC cabled to it), echo, or none
//	sim:MODEL@IFACE  a model whose wire is host interface IFACE    --peer, as for usb (CI: a veth pair)
//
// A real wire carries other stations' frames too: the specs' own frames are
// tagged (tag.go), and peers and counter checks leave the rest out (peer.go).
//
// The sim backends, and what each must show (driver, VID:PID, MAC, USB
// speed, wMaxPacketSize, link speed, why it has no link control), are the
// catalog's models: a new model is a catalog line, not a change here.
//
// The specs never ask which backend they run on. They ask for capabilities
// (a controllable peer, an echoing peer, fault injection, link control, live
// traffic) through labels; a backend that lacks one makes the spec skip with
// the reason, never pass. Which backends run is a Ginkgo label filter built
// from --backend (or DONGLE_BACKEND): every backend's specs carry the label
// "backend-<name>", so `--backend=sim:ecm` becomes `--label-filter=backend-sim-ecm`
// and any other label expression a user adds is and-ed with it.
//
// A skip is only for what a device physically cannot do. A device that
// breaks its protocol is a finding about the device, not a skip: its
// expectation (Expectations.Filter, for receive filters) says what it
// really does, the spec asserts that, records a "device-finding" report
// entry with the finding, its evidence and the spec's USB trace (kept as
// finding-*.pcap), and fails with ErrFindingGone if the device ever starts
// behaving as its protocol says. The lab's usb-net filters nothing, and the
// kernel's f_ecm passes other stations' unicast; their models do the same.
//
// After every spec the harness tears the device down and checks that nothing
// was lost: no live sk_buff (skbuff.Live), no leaked goroutine (gleak), and
// the hw.Device closes cleanly (it refuses to while a transfer is in flight).
// Every spec's USB traffic is recorded as a usbmon pcap; when a spec fails,
// the trace is kept in the report directory and attached to the report, so a
// hardware failure can be replayed later with `dongle replay`.
//
// The suite is an ordinary package, not a _test package, so that the dongle
// binary carries it: `dongle test` runs exactly what `go test ./specs` runs.
package specs
