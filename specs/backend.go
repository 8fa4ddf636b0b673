package specs

import (
	"context"
	"fmt"
	"net"
	"strings"

	"dongle/hw"
)

// Cap is something a spec needs from a backend, spelled as the Ginkgo label
// that marks such specs.
type Cap string

const (
	// CapLive: the device moves frames (a live device or a model, not a
	// recording).
	CapLive Cap = "needs-live"
	// CapPeer: the spec controls the far side of the wire: it can inject
	// frames towards the device and see what the device put on the wire.
	CapPeer Cap = "needs-peer"
	// CapEcho: the far side sends every frame straight back.
	CapEcho Cap = "needs-echo"
	// CapFaults: some fault can be injected for real (the family label of
	// the error-recovery specs). Each spec also names the fault it needs:
	// a device that can be unplugged but not stalled runs the unplug spec
	// and skips the stall specs with the reason.
	CapFaults Cap = "needs-faults"
	// CapStallIn, CapStallOut: the bulk IN (OUT) endpoint can be halted on
	// command until the host clears it.
	CapStallIn  Cap = "needs-stall-in"
	CapStallOut Cap = "needs-stall-out"
	// CapTimeout: the next bulk OUT transfer can be made to time out.
	CapTimeout Cap = "needs-timeout"
	// CapUnplug: the device can be unplugged (and is back for the next spec).
	CapUnplug Cap = "needs-unplug"
	// CapLinkControl: the spec can take the link down and up, and the
	// device reports it.
	CapLinkControl Cap = "needs-link-control"
	// CapTraceFrames: the backend is a recording whose bulk IN transfers
	// carry frames the sidecar counts.
	CapTraceFrames Cap = "needs-trace-frames"
)

// Expectations is what a backend says the spec must find.
type Expectations struct {
	Driver    string           // minidriver name: cdc_ether, asix, ax88179_178a
	Vendor    uint16           // VID
	Product   uint16           // PID
	MAC       net.HardwareAddr // the adapter's address
	USBSpeed  hw.Speed         // the speed it enumerates at
	MaxPacket int              // bulk OUT wMaxPacketSize
	LinkMbps  int              // link speed once up (0: not reported)
	RxFrames  int              // traces: frames the recording delivers (-1: unknown)
	RxHalts   int              // traces: bulk IN stalls the recording holds, each cleared by the driver
	// NoLinkControl says why link control is impossible, when it is.
	NoLinkControl string
	// Filter is what the device's receive filter really drops (zero: all
	// the driver asks it to). A device that filters less than its protocol
	// says is a finding about it: the filter specs check the device as it
	// is, report the finding, and fail if the device starts filtering.
	Filter FilterFinding
}

// Peer is the far side of the wire, where the backend has one.
type Peer interface {
	// Inject sends frame from the far side towards the device.
	Inject(frame []byte) error
	// Received waits until at least n frames left the device onto the wire
	// (counted since the last Reset) and returns them.
	Received(ctx context.Context, n int) ([][]byte, error)
	// Reset forgets what was received.
	Reset()
}

// FaultCaps are the faults a backend can have, each its own Cap.
var FaultCaps = []Cap{CapStallIn, CapStallOut, CapTimeout, CapUnplug}

// Faults injects failures on the USB side. A method for a fault the
// backend lacks the Cap for returns an error wrapping ErrNoFault.
type Faults interface {
	// Stall halts ep until the host clears it.
	Stall(ep uint8) error
	// Unplug takes the device off the bus.
	Unplug() error
	// TimeoutNext makes the next n transfers on ep time out.
	TimeoutNext(ep uint8, n int) error
}

// Target is an opened backend: the device and whatever the backend can do
// around it. Close releases everything Open made.
type Target struct {
	HW     hw.Device
	Peer   Peer                  // nil without CapPeer
	Faults Faults                // nil without CapFaults; see FaultCaps for which
	Link   func(up bool) error   // nil without CapLinkControl
	Stats  func() map[string]int // device-side counters, where the backend keeps them
	Close  func() error
}

// Backend is one way of reaching an adapter.
type Backend interface {
	// Name is the selector that picks it: "sim:ecm", "trace:qemu-usbnet-cdc_ether.pcap", "usb:0b95:1790".
	Name() string
	// Caps lists what it can do; specs labelled with a missing Cap skip.
	Caps() []Cap
	// Why explains a missing Cap ("a recording cannot be sent frames").
	Why(c Cap) string
	// Expect is what the specs must find.
	Expect() Expectations
	// Open makes a fresh target (one per spec).
	Open(ctx context.Context) (*Target, error)
}

// BackendLabel is the Ginkgo label of a backend's specs: "backend-" and the name
// with every character Ginkgo reserves replaced.
func BackendLabel(name string) string {
	r := strings.NewReplacer(":", "-", "/", "-", "&", "-", "|", "-", "!", "-", ",", "-", "(", "-", ")", "-", " ", "-", "=", "-")
	return "backend-" + r.Replace(name)
}

func has(b Backend, c Cap) bool {
	for _, x := range b.Caps() {
		if x == c {
			return true
		}
	}
	return false
}

// errNoBackend names a selector nothing answers to.
func errNoBackend(sel string, known []string) error {
	return fmt.Errorf("specs: no backend %q (known: %s; also trace:FILE, usb, usb:VID:PID, usb:BUS.ADDR)", sel, strings.Join(known, ", "))
}
