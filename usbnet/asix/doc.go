// Package asix is the usbnet minidriver for the ASIX AX88772, AX88772A,
// AX88772B and AX88178 USB 2.0 Ethernet controllers (Linux's asix
// driver, drivers/net/usb/asix_devices.c and asix_common.c).
//
// # Files
//
//	regs.go    vendor requests and register bits (asix.h)
//	ids.go     the match table and chip variants
//	mii.go     PHY access through the SW/HW MII arbiter, link resolution
//	driver.go  Bind, Reset, LinkReset, Status, SetRxMode (the control path)
//	ax88178.go the AX88178's board setup: EEPROM word 0x17, GPIO power-up,
//	           Marvell/Realtek PHY init, gigabit advertisement
//	rx.go      RX deframing (asix_rx_fixup_internal): the Deframer
//	tx.go      TX framing (asix_tx_fixup): Frame
//	filter.go  receive filter and multicast hash (asix_set_multicast)
//	diag.go    structured register, PHY and EEPROM dumps for dongle diag
//
// # Adding a device
//
// An adapter built on one of these chips but sold under another VID:PID
// needs one line in the table in ids.go:
//
//	{Vendor: 0x1234, Product: 0x5678, Class: -1, SubClass: -1, Protocol: -1,
//		Name: "Acme USB 2.0 LAN", Info: AX88772B},
//
// Info is the chip variant: it picks the MAC source (AX88772B reads the
// EEPROM, the others NODE_ID) and the reset sequence. If unsure, read the
// chip code with `dongle diag` (Registers.ChipCode): 0x00 AX88772, 0x10
// AX88772A, 0x20 AX88772B; the reset sequence follows the chip code
// anyway, so AX88772 is a safe guess for any 10/100 part. A gigabit part
// is AX88178: its board (PHY type, power pin, LEDs) is read from EEPROM
// word 0x17 at bind, so one entry serves every AX88178 board.
//
// # Control path
//
// Every register read goes through usbnet.Dev.VendorIn, which fails on a
// short answer: a device that returns fewer bytes than asked never leaves
// uninitialised data behind (CVE-2021-47101, CVE-2022-49226). The PHY
// address the chip reports is checked before use (CVE-2025-71094).
//
// # Data path
//
// RxFixup and TxFixup allocate nothing but the pooled skbuff for each
// received frame; TxFixup frames in place (BenchmarkTxFixup,
// TestTxFixupAllocs).
package asix
