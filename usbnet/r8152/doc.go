// Package r8152 is the usbnet minidriver for the Realtek RTL8152 (Fast
// Ethernet) and RTL8153 / RTL8153B (gigabit) USB Ethernet chips and the
// OEM adapters built on them (Linux's r8152; FreeBSD's if_ure).
//
// # Configuration
//
// Many RTL8153 units carry two configurations: a vendor-specific one
// (this driver's) and a CDC ECM one (cdc_ether's). The ID table matches
// the vendor interface only, and every entry has usbnet.ID.SelectsConfig,
// Linux's rtl8152_cfgselector: usbnet.Match takes the vendor
// configuration whatever configuration the host left active, so Probe
// switches the device to it. To drive the ECM configuration with
// cdc_ether instead, probe with cdc_ether alone (`--driver=cdc_ether`,
// DONGLE_DRIVER=cdc_ether): nothing else then matches the vendor
// configuration, and Match moves on to the ECM one.
//
// # Control path
//
// Every register is reached with one vendor request (bRequest 0x05, read
// 0xC0, write 0x40): wValue is a 4-byte-aligned address, wIndex the block
// (PLA 0x0100, the MAC; USB 0x0000) with byte enables (regio.go, Linux's
// generic_ocp_read/write and ocp_read/write_byte/word/dword). The PHY is
// reached through OCP: the page in PLA_OCP_GPHY_BASE and a window at
// 0xb000 (PHY); MII register r is OCP 0xa400+2r.
//
// Bind reads the version bits of PLA_TCR1 (the high half of a 4-byte read
// at PLA_TCR0, rtl_get_version) and refuses an unknown revision with
// ErrUnknownVersion, and the RTL8153C/RTL8156 families with
// ErrUnsupportedVersion. It then runs the init steps of r8153b_init
// (shared by the RTL8153 and, for RX aggregation and the tally, the
// RTL8152): U1/U2 off, AUTOLOAD_DONE, the PHY out of power-down and on the
// LAN, U2P3 off, the MSC timer, power cut off, MCU speed-down off, RX
// aggregation on, tally reset. The MAC comes from PLA_BACKUP (PLA_IDR on
// RTL_VER_01), a random local one if that is not a valid unicast address,
// and is written to PLA_IDR with PLA_CRWECR in config mode.
//
// Reset (open) runs r8153_first_init (r8152b_exit_oob on the RTL8152):
// RXDY gating on, teredo off, RCR cleared, NIC and BMU reset, out of OOB,
// the link list re-initialised, RX VLAN untagging off, RMS/MTPS for the
// MTU, TCR0 auto-FIFO, the FIFO thresholds; then (RTL8153B) USB_RX_BUF_TH,
// then autonegotiation with everything advertised (rtl8152_set_speed).
// Polls for self-clearing bits are bounded as in Linux and, as there, not
// fatal.
//
// LinkReset (the interrupt endpoint's INTR_LINK came on) is set_carrier's
// rtl_ops.enable: RX early timeout and size for the MTU and USB speed,
// packet-filter reset, CR_RE|CR_TE, the RTL8153B's RX-DMA ownership
// update, RXDY gating off, the receive filter; the speed comes from
// PLA_PHYSTATUS.
//
// # Left out, and why
//
//   - Firmware patches (rtl_fw: the PLA/USB MCU patches and PHY SRAM
//     patches request_firmware loads for RTL_VER_04+): they fix chip
//     errata in power saving and PHY tuning; traffic passes without them,
//     and dongle ships no Realtek firmware blobs.
//   - r8153b_hw_phy_cfg / r8153_hw_phy_cfg PHY tuning (SRAM values, green
//     Ethernet, EEE advertisement, ALDPS): analog tuning and power saving.
//   - Power management: U1/U2 and U2P3 stay off after init (Linux turns
//     them back on at SuperSpeed), LPM, UPS, runtime suspend, power cut,
//     ALDPS, EEE and EEE+: they save power, and a wrong step can make a
//     chip drop off the bus mid-test.
//   - Wake-on-LAN, MAC passthrough (ACPI on Lenovo/Dell docks), the LED
//     setup, the RTL8153B VER_09 32QFN test-IO switch and FC_PATCH_TASK
//     (a firmware-patch hook).
//   - rtl_ops.disable on link down (RCR cleared, FIFOs drained, NIC
//     reset): it needs control transfers, which Status may not make; the
//     enable at the next link up resets the same state.
//   - Checksum, TSO and VLAN offload on TX (opts2 stays 0) and VLAN
//     untagging on RX: the stack does them.
//   - The RTL8153C and the RTL8156/8156B (2.5G PHY, their own init and,
//     on later revisions, another descriptor format).
//
// # Receive
//
// Walk de-aggregates a transfer: a 24-byte rx_desc (opts1 length
// including the 4-byte FCS, RX_LEN_MASK; opts2/opts3 checksum bits) before
// each frame, the next descriptor 8-aligned. Every length is checked
// against the transfer; a runt length or a frame past the end stops the
// walk (ErrRxRunt, ErrRxPastEnd: rx_length_errors), as rx_bottom stops.
// RD_CRC (opts1 bit 15, which the Realtek vendor driver reads as a CRC
// error) drops the frame into rx_crc_errors. Bytes after the last frame
// too few for another are ignored as Linux ignores them: zeros are the
// chip's terminator (RX_ZERO_EN clear), anything else decode reports
// (ErrRxTrailing). RxFixup clones frames above 256 bytes and copies
// shorter ones into pooled buffers, as usbnet/ax88179 does. Measured (go
// test -bench . -benchmem, three runs on a 2-core machine shared with
// other builds, so the spread is the load's):
//
//	RX, 16 KiB transfer of 64-byte frames (170)    21.6-35.1 µs  0 allocs/op
//	RX, 16 KiB transfer of 1514-byte frames (10)   1.17-2.87 µs  0 allocs/op
//	TX, ten 1514-byte frames into one block (AggAdd) 1.18-1.49 µs 0 allocs/op
//	TX, one 1514-byte frame framed alone (TxFixup)  158-227 ns   0 allocs/op
//
// # Transmit
//
// The driver is a usbnet.TxAggregator (txagg.go): frames are gathered into
// 16 KiB blocks as Linux's tx_agg_fill builds them, each frame behind an
// 8-byte tx_desc (TX_FS|TX_LS|length, opts2 0: no checksum, TSO or VLAN
// offload), each descriptor 4-aligned, nothing after the last frame. A
// block goes when the next frame does not fit, when less than a minimum
// frame and its descriptor is left, or on usbnet's 400 µs timer (Linux
// sends whatever its queue holds when its tasklet runs). A block that
// fills whole packets is followed by a ZLP (FlagSendZLP): the chip reads
// lengths from the descriptors, so a pad byte would read as the start of
// another. TxFixup is the one-frame framing, kept for tools and tests;
// usbnet does not call it for an aggregator. UnframeTx reads blocks back
// for decode, flagging a descriptor that is not a whole frame, a zero
// length, a frame past the end and stray bytes after the last frame.
//
// # Diagnostics
//
// Diagnose reports the version, the registers of Registers, the PHY
// through OCP, PLA_PHYSTATUS and the tally counters (PLA_TALLYCNT, 64
// bytes, reset at bind through PLA_RSTTALLY).
package r8152
