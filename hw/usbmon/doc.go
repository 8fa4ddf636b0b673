// Package usbmon reads and writes Linux usbmon captures: the binary records
// the kernel's usbmon (drivers/usb/mon/mon_bin.c) hands to libpcap, as stored
// in pcap and pcapng files with link type 220 (LINKTYPE_USB_LINUX_MMAPPED,
// 64-byte header) or 189 (LINKTYPE_USB_LINUX, 48-byte header).
//
// The file containers (pcap, pcapng, gzip'd pcap) are read here as streams
// (see Reader: memory is one record, whatever the file's size; damaged
// records are skipped and reported in tolerant mode), and so is the record
// format, by hand, because gopacket's layers.USB trusts len_cap (and panics
// when it lies) and drops the last 24 header bytes. Writing uses pcapgo.
//
// Windows captures made with USBPcap (link type 249) are read too: their
// records are turned into the usbmon records the same transfers would have
// given (see LinkTypeUSBPcap and usbpcapPacket), so that everything above
// this package reads one format.
//
// # Record layout
//
// One record per URB event ('S' submit, 'C' complete, 'E' submit error), in
// host byte order (little-endian on every capture dongle knows of):
//
//	0       8    9     10   11   12    14         15        16       24      28      32      36       40      48       52          56         60      64
//	├ id ───┼type┼xfer ┼ep ─┼dev ┼bus ─┼flag_setup ┼flag_data ┼ts_sec ─┼ts_usec┼status ┼length ┼len_cap ┼setup ─┼interval┼start_frame┼xfer_flags┼ndesc ─┤
//	└──────────────────────── 48-byte header (link type 189) ───────────────────────────────────────────────┘
//	└──────────────────────── 64-byte header (link type 220) ─────────────────────────────────────────────────────────────────────────────────────────┘
//
// followed (220, isochronous only) by ndesc 16-byte iso descriptors, then by
// the captured data.
//
// # Captures that are not the kernel's
//
// QEMU's "-device usb-...,pcap=FILE" writer (hw/usb/pcap.c) produces link
// type 220 with quirks the reader accepts as normal:
//
//   - len_cap counts the 64-byte header: 82 for 18 data bytes, 64 for a
//     record without data; the kernel counts only the data. Decode accepts
//     both conventions and nothing else (see Decode).
//   - the URB length of a submission is 0 even for an IN request (the
//     requested size is only in the setup packet's wLength).
//   - bulk data is cut at 256 bytes and control data at 4096: length keeps
//     the real size, so Record.Truncated reports it.
//   - control URB ids are 0 (bulk and interrupt ids are addresses), so S/C
//     pairing falls back to endpoint order (see Pair).
//   - bus is 0, the data flag is '=' where data is present, and every
//     USBPacket is its own record, so a ZLP is a zero-length completion.
//   - every failure (stall included) is status -121 (-EREMOTEIO).
//
// Records cut by the container's snaplen (pcap caplen < original length)
// are decoded with the bytes that are there and marked truncated.
package usbmon
