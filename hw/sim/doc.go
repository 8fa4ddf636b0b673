// Package sim is dongle's device-model engine: a hw.Device whose USB
// behaviour (descriptors, standard requests, ownership, packet semantics,
// faults) is implemented once here, and whose personality (class and vendor
// requests, what goes out on the Ethernet side) is a Model plugged into it.
//
// # Layering
//
//	 driver (usbnet)                                     Ethernet peer
//	      │ hw.Device / hw.Endpoint                         ▲  Port
//	┌─────▼──────────────────────────────┐            ┌─────┴─────┐
//	│ sim.Device (engine)                │  Out(ep)   │           │
//	│  standard requests, claims, alts,  ├───────────►│   Model   │──► Wire
//	│  packetisation, faults, stats      │◄───────────┤ (ecm, …)  │◄── Wire
//	└────────────────────────────────────┘ Host.SendIn└───────────┘
//
// The engine owns everything a real USB device controller and the host
// controller do between them: splitting a device write into wMaxPacketSize
// packets, ending host IN transfers on a short packet or a full buffer,
// reporting babble, holding OUT packets at the device until a short packet
// or zero-length packet (ZLP) terminates the device-side transfer. A model
// only ever sees whole device-side transfers, as a device's firmware would.
//
// # Packet semantics (USB 2.0 §5.8.3)
//
// A device write of L bytes with wMaxPacketSize M is sent as ⌊L/M⌋ full
// packets and then a short packet of L mod M bytes; when L mod M is 0 no
// short packet exists and a ZLP is sent only if the model asked for one
// (SendInZLP) or L is 0. A host IN transfer with a buffer of B bytes takes
// packets until one is short or the buffer is full:
//
//	device writes:  [64][64][10]        [64][64]          [30]
//	                └ one write ┘       └ write, no ZLP ┘ └ next write ┘
//	host B=512:     ├──── 138 ──┤       ├──────────── 158 ────────────┤  (merged: no terminator)
//	host B=64:      ├64┤├64┤├10┤        ├64┤├64┤ ├30┤
//	host B=100:     ├64┤… a 64-byte packet into the remaining 36 → ErrOverflow (babble)
//
// On OUT, a host transfer completes as soon as its packets are accepted, but
// the model's Out is called only when a short packet or ZLP ends the
// device-side transfer. A host write whose length is a multiple of M and is
// not followed by a ZLP therefore stays at the device and is glued to the
// next write, which is exactly the bug the CDC ZLP rule prevents.
//
// A chip that parses its OUT byte stream as packets arrive (RTL8153: a
// descriptor, then the frame, again and again) is an OutStreamer: it is
// given every host transfer at once with what it left of the last, sends
// each frame whose bytes are all in, and leaves the engine only the cut one,
// so an aggregate of whole packets with no ZLP is not held.
//
// # Queues and allocation
//
// Every endpoint keeps a ring of host transfers (grown by doubling, never
// shrunk) and, for IN, a ring of InQueueDepth device writes whose buffers are
// reused. Completion is signalled on one channel per endpoint made at New.
// In steady state Submit, Wait and SendIn allocate nothing and no goroutine
// is started per transfer.
//
// # Locking
//
// One mutex per Device guards all state. Model.Control, Model.Out, and the
// optional hooks are called with it released, so a model may call back into
// Host from them. Out calls for one endpoint are serialised, in order, by a
// per-endpoint mutex held across the call.
package sim
