// Package ax88179 is a device model of the ASIX AX88179 (and AX88178A)
// USB 3.0 gigabit Ethernet controller for the hw/sim engine.
//
// It is written from the chip's side, independently of the driver in
// usbnet/ax88179 (it must not import it): its own register map, its own
// framing code. The model answers the vendor requests a driver makes —
// MAC register file, PHY behind MDIO with autonegotiation, EEPROM (direct
// and through the SROM registers), eFuse, reload, the USB controller's TX
// FIFO status — and stalls everything else, logging it. Every request is
// kept in a log (Requests) so specs can compare what a driver did with
// what Linux's ax88179_178a does.
//
// # Receive framing
//
// Frames from the Ethernet side (Receive, a sim.Port) that pass the RX_CTL
// filter are collected into one bulk IN transfer on 0x82:
//
//	| pad frame 1 |0-7| ... | pad frame N |0-7| h1 d1 ... hN dN | pad2 | trailer |
//	  packets padded to 8 bytes (pad: 2 bytes    le32 headers,     4     le32:
//	  when RX_CTL.IPE)                           d = dummy entry   bytes  cnt=2N | hdr_off<<16
//
// Each header carries the length (pad included) in bits 28:16, the L4 type
// (TCP 0x10, UDP 0x04) and the L3/L4 checksum error bits the checksum
// engine (RXCOE) computes; the dummy after each is length 0 with DROP_ERR,
// as current firmware emits. A transfer is sent when it reaches
// BULKIN_QCTRL's size (KiB), before a frame would push it past size+2 KiB,
// or when the timer (BULKIN_QCTRL timer × Config.TimerUnit) expires after
// its first frame; Flush sends it at once (deterministic specs set
// Config.ManualFlush and call Flush). The trailer and headers can be
// corrupted on purpose with CorruptNext and the CVE-2022-48805 presets.
//
// # Transmit validation
//
// Each bulk OUT transfer on 0x03 must be one or more frames, each behind an
// 8-byte header {le32 length, le32 mss/flags}; when 8+length is a multiple
// of the packet size the padding flag 0x80008000 must be set in the second
// word and the transfer must then end with pad bytes. Violations are
// counted in Stats (TxBadHeader, TxTruncated, TxMissingPadding, ...), and
// good frames go out on the Ethernet side (Connect).
//
// # What is modelled, what is assumed
//
// Register addresses, bits, the BULKIN table semantics, the PHY status
// register and the framing are the chip's as documented by Linux and
// FreeBSD drivers. The EEPROM layout beyond Linux's checksum rule (bytes
// 0..5 the node ID, 6..9 VID/PID, i.e. the le32 0x17900b95, byte 10 the
// checksum), the aggregation timer's unit, and the power-on register values
// are this model's assumptions, chosen to be self-consistent.
package ax88179
