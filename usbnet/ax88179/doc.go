// Package ax88179 is the usbnet minidriver for the ASIX AX88179 (USB 3.0)
// and AX88178A (USB 2.0) gigabit Ethernet chips and their rebadged
// variants (Linux's ax88179_178a; FreeBSD's if_axge).
//
// # Control path
//
// Every register is reached through a vendor request whose bRequest picks
// the space (MAC 0x01, PHY 0x02, EEPROM 0x04, eFuse 0x05, reload 0x06; see
// regs.go). Bind runs ax88179_reset request for request (PHY power cycle,
// clock select, auto-detach, NODE_ID, aggregation, pause levels, checksum
// offload, RX_CTL, monitor and medium mode, the LED setting from
// EEPROM/eFuse, EEE off, autonegotiation restart). The interrupt endpoint's
// link bit drives the carrier; LinkReset reads PHYSICAL_LINK_STATUS and the
// PHY status register 0x11 and programs BULKIN_QCTRL, RxURBSize and the
// medium mode from the table in ChooseBulkIn.
//
// # Receive: one transfer, many frames
//
// Walk parses an aggregated transfer and rejects every CVE-2022-48805
// shape without reading outside it. RxFixup turns the frames into buffers
// in one of two ways, chosen per frame by CopyBreak:
//
//   - longer frames are skbuff clones of the transfer, Pulled and Trimmed to
//     the frame: no payload copy;
//   - frames up to 256 bytes are copied into their own pooled buffer,
//     because a clone pins (and its Truesize charges a socket for) the whole
//     20-26 KiB transfer.
//
// Measured on the 2-core CI machine (go test -bench . -benchmem), one
// 16 KiB transfer per op, throughput over the transfer's bytes:
//
//	64-byte frames (204 per transfer), copy (default)   0.84 GB/s  0 allocs/op
//	64-byte frames, clone everything (CopyBreak -1)     1.30 GB/s  0 allocs/op
//	1514-byte frames (10 per transfer), clone (default) 17.5 GB/s  0 allocs/op
//	1514-byte frames, copy (CopyBreak 2048)             11.1 GB/s  0 allocs/op
//	BenchmarkCopy16K: one plain copy of the 16 KiB      79.5 GB/s
//
// Small frames cost about 60 ns (clone) to 95 ns (copy) each in buffer
// bookkeeping, so the 35 % the clone saves for 64-byte frames is not worth
// charging a socket 32 KiB per frame; big frames are where cloning pays.
//
// # Transmit
//
// TxFixup pushes the 8-byte header. The padding flag 0x80008000 belongs in
// the second (MSS) word, as Linux's tx_hdr2 and FreeBSD's AXGE_PADDING have
// it, and goes with one trailing pad byte so the transfer ends short.
//
// # Diagnostics
//
// DumpMAC, ReadPHYRegs (with Decode), ReadEEPROM (Valid, MagicOK, IDs),
// WriteEEPROM (magic-guarded), ReadLinkInfo and NodeID work on any Ctrl,
// such as a bound *usbnet.Dev, for `dongle diag`.
package ax88179
