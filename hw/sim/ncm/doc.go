// Package ncm is a CDC-NCM 1.0 (Network Control Model) USB device for the
// sim engine: descriptors, the NCM class requests, notifications, and both
// directions of NTB (NCM Transfer Block) framing, written from the
// device's side and independently of dongle's driver (usbnet/cdcncm must
// not be imported here).
//
// # Descriptors
//
//	config ─ IAD(0,2: 02/0d/00)
//	       ─ iface 0 (02/0d/00) ─ header(1.10) ─ union(0→1) ─ ethernet(iMACAddress, wMaxSegmentSize, wNumberMCFilters)
//	                            ─ NCM(1.00, bmNetworkCapabilities) ─ ep 0x81 interrupt IN, 16 bytes
//	       ─ iface 1 alt 0 (0a/00/01, no endpoints)
//	       ─ iface 1 alt 1 (0a/00/01) ─ ep 0x82 bulk IN ─ ep 0x02 bulk OUT
//
// at high speed (512-byte bulk) or, with Options.Speed SpeedSuper, at
// SuperSpeed (1024-byte bulk with companions). VID:PID 1209:0004 (pid.codes
// test range; the lab's f_ncm gadget is 1209:0002).
//
// # Requests
//
// GET_NTB_PARAMETERS, GET/SET_NTB_FORMAT (NTB16 and NTB32, unless
// Options.NoNTB32), GET/SET_NTB_INPUT_SIZE (4 bytes, or 8 with
// Options.InputSize8), GET/SET_MAX_DATAGRAM_SIZE,
// SET_ETHERNET_PACKET_FILTER and SET_ETHERNET_MULTICAST_FILTERS. Every
// other class request stalls (bmNetworkCapabilities says which exist). A
// value out of range stalls too: an NTB input size below 2048 or above
// dwNtbInMaxSize, a datagram size below 1514 or above wMaxSegmentSize,
// NTB32 on a device without it, more multicast addresses than
// wNumberMCFilters. Selecting data alt 0 returns the NTB format, input
// size and datagram size to their defaults (NCM 1.0 §7.2), as does a new
// configuration. Every request is logged (Requests).
//
// # Receive: the NTB writer
//
// Frames from the wire (Receive, a sim.Port) that pass the filter are
// aggregated into one NTB in the negotiated format:
//
//	NTH16 | datagram 1 | pad | datagram 2 | ... | pad | NDP16 (entries, 0/0)
//
// Each datagram's payload (what follows its 14-byte Ethernet header)
// starts at an offset ≡ wNdpInPayloadRemainder (mod wNdpInDivisor), as
// Linux's cdc_ncm reads the remainder; the NDP follows the last datagram
// at wNdpInAlignment. An
// NTB is sent when the next frame would not fit in the host's NTB input
// size, when it holds wNtbInMaxDatagrams (when the host set one) or
// MaxInDatagrams frames, or FlushDelay after its first frame (Flush sends
// at once; Options.ManualFlush turns the timer off for deterministic
// tests). An NTB shorter than the input size that ends on a packet
// boundary is followed by a ZLP; one of exactly the input size is not (the
// host's transfer is full). CorruptNext damages the next NTB with one of
// the faults Linux's cdc_ncm history fixed (bad signature, NDP beyond the
// block, datagram inside the header, zero-length entry, overlapping
// datagrams, misaligned wNdpIndex, a looping NDP chain); ChainNext splits
// the next one into two chained NDPs, which is legal.
//
// # Transmit: the NTB reader
//
// Every bulk OUT transfer must be one NTB of the negotiated format, no
// longer than dwNtbOutMaxSize (the model ends a transfer at that length:
// a full-size NTB needs no ZLP, sim.OutLimiter; a host transfer of full
// NTBs back to back is read as one transfer each). The reader checks the NTH
// (signature, header length, block length against the transfer), every NDP
// (index inside the block and aligned to 4, signature, length, the chain
// without loops) and every datagram entry (inside the block, not in the
// NTH or an NDP, not overlapping another datagram, its payload aligned to
// wNdpOutDivisor/PayloadRemainder, at least an Ethernet header and at most
// the datagram size, at most wNtbOutMaxDatagrams) and counts each
// violation by name (Violations). An NTB with any violation is dropped
// whole, as f_ncm's ncm_unwrap_ntb drops it; the frames of a good one go
// to the wire.
//
// # Notifications
//
// CONNECTION_SPEED_CHANGE then NETWORK_CONNECTION, as Linux f_ncm sends
// them, when data alt 1 is selected and on every link change while it is
// selected; one at a time, the next queued only when the host has taken
// the last (the model answers the host's poll), so that a host that polls
// late reads the current state, not a backlog.
//
// # Filter
//
// The model filters as CDC says and most NCM chips do: unicast to its own
// address (the iMACAddress it announces) with PACKET_TYPE_DIRECTED,
// broadcast with PACKET_TYPE_BROADCAST, multicast with
// PACKET_TYPE_ALL_MULTICAST or, with PACKET_TYPE_MULTICAST, a group in the
// list; PACKET_TYPE_PROMISCUOUS passes everything.
//
// # In the lab
//
// FunctionFS cannot serve this model on the lab's Linux 6.1: f_fs refuses
// the CDC functional descriptors (class-specific descriptors are taken for
// HID and CCID interfaces only). USB/IP can: `ffsmodel -model ncm -usbip`
// attaches it to the guest kernel's vhci_hcd with these descriptors as they
// are, and the kernel's own cdc_ncm binds it, reads its MAC, sees carrier
// and pings through it (specs/referee, "the NCM model as a real USB
// device"); tools/lab.sh runs the conformance suite through gousb against
// it (usb:1209:0004, DONGLE_PEER=usbipmodel:SOCK).
package ncm
