// Package guest is the inside of the virtual USB lab: helpers for programs
// that run in the lab VM (specs started by `go test -exec labexec`, and the
// labguest tool). It needs Linux and root, which the guest provides.
//
// What a spec finds in the guest (set up by the lab's /init before the test
// binary starts):
//
//	QEMU usb-net      0525:a4a2  CDC-ECM config, full speed, on qemu-xhci; cdc_ether bound.
//	                             Its Ethernet side leaves QEMU (-netdev dgram) to the host
//	                             peer, which echoes or counts frames, or keeps them for a
//	                             spec that injects its own (PeerWire): see Peer, wire.go.
//	ECM gadget        1209:0001  f_ecm on dummy_hcd (high speed); cdc_ether bound. Its
//	                             device-side netdev is gecm0, where labguest echoes
//	                             EtherType 0x88b5 frames back until StopECMEcho (the
//	                             suite then peers on gecm0: DONGLE_PEER=iface:gecm0).
//	NCM gadget        1209:0002  f_ncm, netdev gncm0 (cdc_ncm bound on the host side)
//	RNDIS gadget      1209:0003  f_rndis, netdev grndis0 (rndis_host bound)
//
// Link changes: SetLink("gecm0", false) then true makes f_ecm send
// NETWORK_CONNECTION 0 then 1 on the gadget's interrupt endpoint, which a
// driver sees as carrier off/on. QEMU 7.2's usb-net cannot do this (it
// reports connection 1 on every poll): specs that ask it for a link change
// skip with ErrNoLinkChange's text.
//
// The environment variable DONGLE_LAB=1 is set for every program the lab
// runs; InLab reports it.
package guest

import (
	"errors"
	"os"
)

// Lab device identities.
const (
	USBNetVendor, USBNetProduct = 0x0525, 0xa4a2
	GadgetVendor                = 0x1209
	ECMProduct                  = 0x0001
	NCMProduct                  = 0x0002
	RNDISProduct                = 0x0003

	// Netdevs on the device (gadget) side of dummy_hcd.
	ECMGadgetNetdev   = "gecm0"
	NCMGadgetNetdev   = "gncm0"
	RNDISGadgetNetdev = "grndis0"

	// EchoEtherType is the IEEE 802 local experimental EtherType 1 that the
	// gadget-side echo sends back; other frames are ignored.
	EchoEtherType = 0x88b5
)

// ECMEchoPIDFile holds the process ID of the echo the lab's init starts on
// gecm0, and StopECMEcho is the guest shell command that stops it: a
// wire-side peer on gecm0 must see what the device sent, not have it
// reflected back to the host.
const (
	ECMEchoPIDFile = "/run/labguest-echo.pid"
	StopECMEcho    = "kill $(cat " + ECMEchoPIDFile + ") && rm " + ECMEchoPIDFile
)

// ErrNoLinkChange is the skip reason for specs that want QEMU's usb-net to
// change its link state.
var ErrNoLinkChange = errors.New("QEMU 7.2 usb-net cannot signal link changes (it reports NETWORK_CONNECTION 1 on every interrupt poll); use the ECM gadget (guest.SetLink on gecm0)")

// EnvInLab is set to "1" for programs the lab runs.
const EnvInLab = "DONGLE_LAB"

// InLab reports whether this process runs inside the lab VM.
func InLab() bool { return os.Getenv(EnvInLab) == "1" }

// FloorMark is in the result line of dongleblast rx -floor, the libusb
// floor's receive run: the bench and its replay tell the floor's runs
// from dongle's driver's by it.
const FloorMark = "floor=libusb"
