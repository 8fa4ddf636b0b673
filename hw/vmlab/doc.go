// Package vmlab is dongle's virtual USB lab: real USB Ethernet devices (QEMU's
// usb-net and the Linux gadget functions on dummy_hcd) inside a small QEMU
// VM, reachable through usbfs exactly like hardware, so that dongle's gousb
// backend, drivers and specs run against device implementations nobody on
// this project wrote.
//
//	host                                        guest (Debian kernel, busybox /init)
//	────                                        ─────────────────────────────────────
//	go test -exec .lab/labexec ──9p "lab"────►  /mnt/lab/test.bin  (root, cwd = same path)
//	  module root ─────────────9p "host"────►  same absolute path (testdata, fixtures)
//	  stdout ◄────────────────── ttyS1 ◄──────  test output
//	  console.log ◄──────────── ttyS0 ◄──────  kernel + /init
//	Peer (echo|count|wire) ◄─dgram─ QEMU usb-net ◄─ qemu-xhci ─ usbfs ─ gousb  (0525:a4a2, cdc_ether bound)
//	  host-rx.pcap              └─ usbnet.pcap (pcap=, USB level)
//	Peer control ◄──────────── ttyS2 ◄──────  guest.DialPeer (inject, frames, unplug, replug)
//	  └─ QMP (-qmp qmp.sock): device_del/device_add usb-net for unplug/replug
//	                                            dummy_hcd: f_ecm 1209:0001 (netdev gecm0: echo of
//	                                            EtherType 0x88b5, or the suite's iface peer),
//	                                            f_ncm 1209:0002, f_rndis 1209:0003
//
// Set-up (Lab.Setup, `go run ./hw/vmlab/cmd/lab setup`) uses Debian packages
// only and is cached in <module root>/.lab (override: DONGLE_LAB_DIR): the
// kernel package linux-image-amd64 depends on is fetched with apt-get download,
// unpacked with dpkg -x (not installed) and indexed with depmod -b; the
// initramfs is written in Go (package cpio + gzip) from busybox-static, the
// module closure of GuestModules (modules.dep parsed here), the static guest
// helper labguest, the shared libraries a cgo gousb binary needs (libusb
// cannot be linked statically on Debian: there is no libudev.a), and the
// kernel's USB/IP tools from Debian's package usbip (usbip, usbipd, with
// their ldd libraries: tools/usbip-guest.sh exports a lab device with
// usbip-host and attaches it back through vhci_hcd). Each step is
// skipped when up to date; a from-scratch set-up takes about 7 s here.
//
// Runs (Lab.Run, Lab.Exec) boot QEMU with TCG (see Accel for why not KVM),
// qboot, -nic none, and usb-net on -netdev dgram to a Peer in this process.
// Every run keeps its console, QEMU's pcap= capture and the peer's Ethernet
// capture in <lab>/runs/<id>/ (the last 30 runs are kept).
//
// Facts the lab shows (and specs should expect): cdc_ether is bound to every
// ECM device, so a backend must detach it, and libusb reattaches it when the
// interfaces are released (Result.DriverChanges checks this). ECM needs a
// zero-length packet after a frame that is a multiple of wMaxPacketSize (64 on
// usb-net, 512 on the gadget); libusb sends none by itself, and the kernel's
// usbnet avoids it for cdc_ether by padding such frames with one 0x00 byte.
// QEMU's pcap= keeps at most 256 bytes of bulk data per record, one record per
// USB packet. QEMU 7.2's usb-net cannot change its link state; the ECM
// gadget can (guest.SetLink on gecm0 gives NETWORK_CONNECTION 0, then 1).
// f_ecm's SPEED_CHANGE notification is exactly 16 bytes = wMaxPacketSize of
// its interrupt endpoint, so an interrupt read with a larger buffer runs two
// notifications together: read wMaxPacketSize at a time.
package vmlab
