// Package usbnet is dongle's USB network framework: Linux's usbnet.c in
// userspace. A Dev binds an hw.Device (any backend: libusb, a trace replay,
// a device model) to a netdev.Device and implements netdev.Ops for it; a
// Minidriver (cdc_ether, asix, ax88179_178a) adds what its protocol needs.
//
// # Lifecycle
//
//	Probe ── read descriptors, match IDs (VID:PID, then class), select the
//	  │      configuration, claim, Minidriver.Bind, check endpoints,
//	  │      netdev.Register
//	  ▼
//	Open (ndo_open) ── Reset (data alt 0), SetAlt(data), open endpoints, SetRxMode,
//	  │                start goroutines, submit RX and status transfers
//	  ▼
//	Stop (ndo_stop) ── cancel, reap, free; close endpoints, data alt 0
//	  ▼
//	Disconnect ── netdev.Unregister (Stop if up), Unbind, release
//
// Probe refuses RNDIS functions with an *UnsupportedError
// naming the device and the function. The hw.Device stays the caller's.
//
// Its matching is Match (match.go), the only matching code dongle has:
// trace decoding and enumeration call it too, so all three agree on which
// driver takes a device (one configuration at a time, the active one
// first; VID:PID entries before class entries within it).
//
// # What a minidriver declares besides Minidriver
//
// Optional interfaces, declared here at the seam and asserted at compile
// time in each driver package that implements them, so that nothing
// outside a driver's package switches on its name:
//
//	MACSetter, MTUChanger      ndo_set_mac_address, ndo_change_mtu
//	Unframer, TxFraming        its framing, undone offline (decode) and its TX header size (the suite's size edges)
//	StatusDescriber            its interrupt packets, decoded offline
//	RequestNamer               its class/vendor requests, by name
//	MACLocator, EndpointLocator where a trace shows its MAC and endpoints
//	ClassDescriber             its class's descriptors (CDC functional), as lsusb -v reads them
//	Diagnoser                  ethtool_ops: registers, PHY, EEPROM, counters
//	TxAggregator               many frames per bulk OUT transfer (txagg.go)
//
// The drivers, their names and their device models are listed once, in
// usbnet/catalog.
//
// # Goroutines and queues (top half / bottom half)
//
// While the device is open it runs, and Stop waits for, exactly these:
//
//	bulk IN  completion ─┐  Notify fn               ┌─► RxFixup ─► EthTypeTrans ─► netdev.RxList (once a batch)
//	bulk OUT completion ─┼─► d.done.kick ─► bottom half ─► free TX buffer, count, WakeQueue
//	intr IN  completion ─┘  (capacity 1:  polls      └─► Minidriver.Status ─► SetLink
//	                         never blocks) every pipe         │
//	kevent worker ◄── defer_(bits) ◄──────────────────────────┘ (halts, link reset, throttle)
//	aggregation flusher (TxAggregator drivers only): sends a block on its timer
//
// The top half is the endpoints' own: a completion, on libusb's event
// thread, only kicks the bottom half (hw.Endpoint.Notify, Linux's URB
// completion handler scheduling usbnet's tasklet), which then polls every
// pipe with WaitBatch. The bottom half is the one goroutine that runs
// fixups, delivers, frees, counts and resubmits. Whatever needs a control transfer (clearing
// a halt, LinkReset) is deferred to the kevent worker, as Linux's
// usbnet_deferred_kevent; SetRxMode runs on the caller's control path
// (netdev calls SetMulticastList with no data-path lock held), serialised
// with the kevent worker. The data path never waits for the control path.
//
// Transfers are objects allocated at Open and reused for every packet: RX
// slots own an sk_buff from skbuff.Alloc that the transfer reads into and
// that goes up the stack without a copy (the slot takes a fresh pooled
// buffer); TX slots carry the frame's own buffer. No closure, channel or
// timer is made per packet: both paths allocate nothing in steady state
// (TestZeroAllocs).
//
// # Transmit: busy/retry and the ZLP rule
//
// HardStartXmit takes a frame when a TX slot is free and stops the netdev
// queue (tbusy) in the same critical section in which it takes the last
// one; the bottom half wakes it when a slot comes back. XmitBusy is
// answered only when no slot is free. Every frame taken is counted once:
// tx_packets/tx_bytes, tx_errors, or tx_dropped.
//
// A transfer whose length is a multiple of the bulk OUT wMaxPacketSize
// (MaxPacket) would leave the device waiting for more, so:
//
//	FlagSendZLP       an explicit zero-length transfer follows it
//	FlagTxPadsItself  nothing (the minidriver's framing took care of it)
//	otherwise         one 0x00 byte is appended (Linux's default)
//
// Without carrier, frames are dropped and counted (tx_dropped), never sent.
//
// A TxAggregator driver (NCM, RTL8153) gets frames gathered into blocks
// the framework owns: one TX slot per block, the ZLP rule applied to the
// whole block, every frame of it counted on the block's completion (see
// txagg.go for its states and flushes).
//
// # Errors
//
//	stall (bulk IN/OUT, interrupt)  halt cleared by the kevent worker once
//	                                every transfer on the endpoint is back;
//	                                traffic resumes; Counters.*HaltsCleared
//	timeout                         counted (Counters.Timeouts) and retried
//	                                (a TX frame up to 3 times, then tx_errors)
//	babble                          rx_over_errors + rx_errors
//	other I/O errors                rx_errors; resubmission throttled 125 ms
//	unplug (hw.ErrNoDevice)         carrier off, everything cancelled and
//	                                freed, Gone closed; the owner calls
//	                                Disconnect, as a hub driver would
package usbnet
