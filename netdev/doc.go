// Package netdev is dongle's network-device core (struct net_device and the
// bits of net/core/dev.c a driver meets): registration and naming, the
// interface flags with the semantics of Alan Cox's "Network Buffers and
// Memory Management", the transmit queues and their run loop, the receive
// top and bottom halves, taps, protocol handlers, and two built-in drivers,
// Loopback and Dummy.
//
// # Ownership of buffers
//
// Every skbuff.Buff handed to this package changes owner, and is freed
// exactly once by whoever owns it last:
//
//   - Xmit always takes the buffer. It is queued, or dropped and freed
//     (tx_dropped) with an error saying why.
//   - HardStartXmit answering XmitOK means the driver owns the buffer and
//     must Free(skbuff.FreeWrite) it once; answering XmitBusy means it did
//     not take it, and the core requeues it at the head of its band.
//   - Rx always takes the buffer: queued on the backlog, or dropped and
//     freed (rx_dropped). RxList takes every buffer of its queue alike and
//     leaves the queue empty.
//   - The bottom half gives each handler its own reference, which the
//     handler owns; a frame nobody handles is freed (rx_nohandler). Taps
//     only look.
//
// # Traffic and state
//
//	                  Xmit                 Rx
//	not UP            drop, ErrDown        drop (never receives)
//	UP, no carrier    drop, ErrNoCarrier   delivered
//	UP, carrier       queued, sent         delivered
package netdev
