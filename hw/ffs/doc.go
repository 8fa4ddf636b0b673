// Package ffs runs a device model (any hw.Device, normally a sim.Device
// holding a sim.Model) as a real USB function through Linux FunctionFS, so
// that a real USB host — the kernel's own class drivers, or libusb through
// usbfs — talks to the model over the kernel's USB stack (dummy_hcd in the
// virtual lab).
//
//	kernel host driver (asix, ax88179_178a) / gousb
//	      │ real URBs (dummy_hcd)
//	gadget core (configfs: VID:PID, device descriptor, SET_CONFIGURATION)
//	      │ f_fs: /dev/ffs-NAME/ep0, ep1..epN
//	┌─────▼───────────────────────────────┐
//	│ Bridge                              │ ep0 SETUP ─► hw.Device.Control ─► Model.Control
//	│  one goroutine per endpoint file    │ epK (OUT) ─► sim OUT transfer  ─► Model.Out
//	│  Capture: usbmon records (LT 220)   │ epK (IN)  ◄─ sim IN transfer   ◄─ Host.SendIn
//	└─────────────────────────────────────┘
//
// # Why a bridge "hosts" the sim engine
//
// A model talks back only through *sim.Host, which belongs to the sim
// engine. Rather than re-implement the engine's packet rules, the bridge is
// the engine's host: it claims the interfaces, opens the endpoints, and
// moves data one USB packet at a time (an IN read of wMaxPacketSize bytes
// takes exactly one packet), writing each packet to the FunctionFS IN file
// as its own request. The real host therefore sees the same packet sequence
// the model produced — short packets end its URBs, full packets without a ZLP
// run on into the next write — which is what makes a kernel driver's framing
// checks meaningful. OUT data is read one packet per FunctionFS request
// and handed to the engine a transfer at a time (up to its short packet):
// f_fs discards what a read request holds when a signal interrupts the
// read, and a request longer than a packet can hold the first packets of
// a transfer dummy_hcd moves over several frames.
//
// # Control requests
//
// With FUNCTIONFS_ALL_CTRL_RECIP, device-recipient vendor and class requests
// reach ep0 as SETUP events; standard requests (descriptors, configuration)
// are the gadget core's and never arrive. FunctionFS stalls a request when
// the function transfers in the wrong direction: a read for an IN request, a
// write for an OUT one. An OUT request with a data stage cannot be stalled
// after its data was read (the status stage is already acknowledged), so such
// a request the model refuses is logged and counted as LateStall. A request
// the host abandons (its timeout, or a new SETUP first) is reported once by
// FunctionFS as EIDRM on the next ep0 call; the bridge counts it (Cancelled)
// and goes on: ending the ep0 loop there would leave every later request
// unanswered.
//
// # Descriptors
//
// FunctionFS takes the interface and endpoint descriptors per speed
// (FUNCTIONFS_DESCRIPTORS_MAGIC_V2): the model's configuration descriptor
// minus its 9-byte header is the high-speed set; the full-speed set is
// derived (bulk 64 bytes, interrupt intervals in frames) and a SuperSpeed set
// (companions added) is optional. String indices are cleared: the gadget's
// strings are configfs's.
package ffs
