// Package rtl8153 is a device model of the Realtek RTL8153B USB 3.0
// gigabit Ethernet controller (0bda:8153, RTL_VER_09 in Linux's r8152)
// for the hw/sim engine.
//
// It is written from the chip's side, independently of any driver (it must
// not import usbnet/...): its own register map and framing code, every
// behaviour checked against what Linux's r8152.c (6.1) asks of the chip.
//
// # Descriptors
//
// Configuration 1 is vendor-specific (ff/ff/00) with bulk IN 0x81, bulk
// OUT 0x02 and interrupt IN 0x83 (2 bytes) — the endpoint numbers 1, 2, 3
// r8152's rtl_check_vendor_ok insists on. Configuration 2 is CDC ECM, as
// on most units (Config.NoECM leaves it out). A new device is left in
// configuration 1: Linux's generic driver would choose the ECM one, and
// r8152's cfgselector (rtl8152_cfgselector_probe in 6.1) then reads the
// version and sets configuration 1. The model moves no data in
// configuration 2. Bulk packets are 512 bytes at high speed, 1024 at
// SuperSpeed.
//
// # Registers
//
// The chip answers GET_REGS/SET_REGS (bRequest 0x05, types 0xc0/0x40),
// wValue the dword-aligned address, wIndex the block (PLA 0x0100, USB
// 0x0000) | byte enables; reads of up to 64 bytes, writes of up to 512,
// whole dwords. Anything else stalls and is counted (Stats.Malformed).
// Both 64 KiB blocks are storage that reads back what was written; the
// registers below are modelled on top of it. The OCP PHY is reached
// through the PLA window 0xb000..0xbfff with the page in
// PLA_OCP_GPHY_BASE (0xe86c); its MII registers sit at 0xa400 + 2*reg.
//
// What r8152's init and open wait for, and why the model satisfies it:
//
//   - PLA_TCR1 version bits 0x6010 (RTL_VER_09): the silicon's, kept
//     across writes (rtl_set_ifg rewrites TCR1).
//   - PLA_BOOT_CTRL AUTOLOAD_DONE: the EEPROM/efuse autoload finished at
//     power-on (it loaded PLA_BACKUP and PLA_IDR with the station address).
//   - OCP_PHY_STATUS: the PHY powers up in BMCR_PDOWN (PHY_STAT_PWRDN);
//     r8153b_init clears BMCR_PDOWN and waits for PHY_STAT_LAN_ON, which
//     the PHY reports once powered.
//   - PLA 0xe000 bit 8 (r8153_aldps_en(false) polls it): set while EN_ALDPS
//     in OCP_POWER_CFG is off, i.e. the PHY has left ALDPS power saving.
//   - OCP_PHY_PATCH_STAT PATCH_READY: granted while OCP_PHY_PATCH_CMD has
//     PATCH_REQUEST (rtl_phy_patch_request in r8153b_hw_phy_cfg).
//   - PLA_CR CR_RST (rtl8152_nic_reset), PLA_SFF_STS_7 RE_INIT_LL, BMCR
//     reset/restart, PLA_RSTTALLY, PLA_POL_GPIO_CTRL POL_GPHY_PATCH:
//     the operation completes at once, the bit reads back clear.
//   - PLA_OOB_CTRL: LINK_LIST_READY always (the link list is rebuilt at
//     once), TXFIFO_EMPTY always (Out sends a transfer's frames before it
//     returns), RXFIFO_EMPTY while no RX frames are being collected;
//     PLA_TCR0 TCR0_TX_EMPTY likewise (rtl_disable polls both).
//   - PLA_EFUSE_CMD/DATA: a blank efuse, all 17 bits ones, so the ADC bias
//     calibration of r8153b_hw_phy_cfg (which skips 0xffff) does nothing.
//   - USB_MISC_0 PCUT_STATUS clear (the chip was never power-cut) and the
//     -AD/-BND/-BD variant bits clear, so no MAC pass-through is tried and
//     the MAC comes from PLA_BACKUP.
//   - PLA_IDR takes writes only while PLA_CRWECR is CRWECR_CONFIG
//     (Stats.IDRLocked counts the others), as __rtl8152_set_mac_address
//     brackets them.
//   - PLA_PHYSTATUS: link, speed, duplex and flow control from the PHY's
//     autonegotiation with the link partner (Config).
//   - PLA_TALLYCNT: struct tally_counter (64 bytes), zeroed by TALLY_RESET.
//
// Every other register access is kept in a per-register list
// (Unmodelled): what a driver asked that the model stores but gives no
// meaning to. The kernel's r8152 (Linux 6.1, lab, HS and SS) touches 37
// such registers, all power management (U1/U2, U2P3, UPS, power cut, MAC
// clock speed-down, ALDPS/EEE tuning in the PHY), wake-on-LAN and Teredo,
// FIFO thresholds, the MCU filter reset, the watchdog and DMA test mode:
// none changes a frame, the link or a register the kernel reads back for
// a decision. specs/referee's rtlUnmodelled lists each with its reason and
// replays the kernel's recorded requests to keep the list exact. Not
// exercised: the firmware patch path (rtl_nic/rtl8153b-2.fw, not in the
// lab), whose requests (breakpoints, PHY SRAM patch) would only be stored.
//
// In the lab the model reaches the kernel over USB/IP (hw/usbip, ffsmodel
// -usbip), not FunctionFS: dummy_hcd has no IN endpoint 3 for the
// interrupt endpoint r8152 insists on. There the host sees both
// configurations, and the guest's Linux did what it does with a real unit:
// its generic driver chose configuration 2 (ECM), r8152's cfgselector read
// the version and set configuration 1.
//
// A USB port reset keeps the chip's state: r8152 resets the port in every
// probe (usb_reset_device) and expects the chip as it left it.
//
// # Receive
//
// Frames from the Ethernet side (Receive, a sim.Port) need the link, CR_RE,
// RXDY_GATED_EN clear and the PLA_RCR filter (AAP, APM against PLA_IDR,
// AB, AM with the PLA_MAR hash, laid out as r8152's _rtl8152_set_rx_mode
// writes it); frames longer than PLA_RMS are dropped. Accepted frames are
// aggregated into one bulk IN transfer, each behind a 24-byte rx_desc
// 8-byte aligned: opts1 the length including the 4-byte FCS the model
// appends, opts2 the checksum engine's protocol bits (RD_IPV4_CS,
// RD_IPV6_CS, RD_TCP_CS, RD_UDP_CS) and, with CPCR_RX_VLAN, the stripped
// VLAN tag, opts3 the failures (IPF, TCPF, UDPF). A transfer is sent when
// the next frame would take it past USB_RX_EARLY_SIZE (×8 bytes, 16 KiB if
// unset), at once with RX_AGG_DISABLE, or when USB_RX_EXTRA_AGGR_TMR (×8
// ns) expires after its first frame (Config.ManualFlush: only Flush).
// A transfer of a whole number of packets ends with a ZLP under RX_ZERO_EN
// and with 8 zero bytes otherwise (see flushLocked). CorruptNext injects
// bad descriptors (Corruptions).
//
// # Transmit
//
// Bulk OUT carries frames behind 8-byte tx_descs, 4-byte aligned: opts1
// TX_FS|TX_LS|length, opts2 checksum offload (TCP_CS/UDP_CS at the
// transport offset, which the model fills in) and VLAN. The descriptors are
// read as a stream (sim.OutStreamer): r8152 sends no ZLP after an
// aggregate of a whole number of packets, and the chip sends each frame as
// soon as its bytes are in, so the model is given every host transfer (over
// hw/ffs, every packet) at once and leaves the engine only a frame cut by
// its end. A lone 504- or 1016-byte frame (a ping of 462 or 974 bytes)
// goes out at once. Violations are counted by name in Stats
// (TxShortDesc, TxBadLength, TxTruncated, TxNotWhole, TxRunts, TxTSO,
// TxCsumBad); good frames go out on the Ethernet side with CR_TE and the
// link.
//
// # Link interrupt
//
// The interrupt endpoint carries le16 INTR_LINK while the link is up: at
// once on a change, and every bInterval (16 ms) while the host polls
// (intr.go says why r8152 needs the periodic report).
//
// # What is assumed
//
// The PHY's power-on state (BMCR_PDOWN set), its ID, instant
// autonegotiation, the 8 zero bytes ending a transfer of whole packets
// without RX_ZERO_EN, the 16 KiB default early size, and the periodic
// interrupt report are this model's choices, made to satisfy r8152's
// reading of the chip; everything else follows r8152.c's register
// definitions.
package rtl8153
