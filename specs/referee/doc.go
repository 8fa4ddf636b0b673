// Package referee checks dongle's device models against the Linux
// kernel's own drivers, in the virtual lab: each model runs as a real USB
// device (cmd/ffsmodel: FunctionFS on dummy_hcd, or with -usbip on
// vhci_hcd over USB/IP: the RTL8153B model, whose interrupt endpoint 3
// dummy_hcd lacks, and the NCM model, whose CDC functional descriptors
// FunctionFS refuses), the kernel's driver for
// the chip (asix, ax88179_178a, ...) binds to it, and the lab test checks what a user
// would (driver bound, MAC, carrier, ping through it to the model's wire
// side, no rx errors) and keeps the control requests the kernel made.
//
//	go test -exec .lab/labexec ./specs/referee          # in the lab (needs `lab setup`)
//	go test ./specs/referee                              # anywhere: the request comparison
//
// The request logs the kernel drivers produced in the lab are kept in
// testdata/kernel-<model>.txt (one request a line, as ffsmodel -requests
// writes them). Outside the lab the tests replay them against fresh models
// (the model must answer every request the kernel makes, without a stall)
// and compare them with the sequence dongle's own drivers send to the same
// model (Diff). DONGLE_REFEREE_OUT=DIR makes the lab test write each run's
// request log and capture there (to refresh testdata and fixtures/).
//
// A second lab test records the same bring-up the way a user would record a
// real adapter on a laptop: with the kernel's own usbmon (hw/usbmon.Live on
// /dev/usbmon0, started before the model enumerates, plus a filtered
// capture of the device's bus and address alongside), then checks that the
// capture re-reads, is the device's enumeration, bind and pings, and that
// hw/replay's model replay of it binds dongle's asix minidriver and reads
// the model's MAC. That capture is fixtures/usbmon-kernel-asix-ax88772b.pcap
// (DONGLE_REFEREE_OUT writes a fresh one); outside the lab the same checks
// run on the kept copy.
//
// A third lab test runs the AX88179 model at SuperSpeed: it reloads dummy_hcd
// with is_super_speed=1 (its speed parameters are read-only in sysfs),
// starts ffsmodel -model ax88179 -super and checks that ax88179_178a binds a
// 5000 Mb/s device with 1024-byte bulk endpoints, the MAC, carrier, ping and
// no rx errors, and that the RX_BULKIN_QCTRL value the kernel wrote after
// reading USB_SS in PHYSICAL_LINK_STATUS is the row dongle's own driver
// picks from its AX88179_BULKIN_SIZE table for the same link status
// (LinkResets, ExpectedBulkIn: usbnet/ax88179's DecodePHYSR and
// ChooseBulkIn), the SuperSpeed gigabit one. Then
// it loads dummy_hcd at high speed again. Pings of 600, 1400 and 1472
// bytes check full-size frames: before hw/ffs's bridge wrote the model's
// own 1024-byte packets, it wrote 512-byte (high-speed) pieces, which a
// SuperSpeed endpoint ends as short packets (measured: ping -s 600 and
// -s 1400 got no reply and the kernel counted rx_errors).
//
// CDC-NCM has two referees. The kernel's cdc_ncm on Linux's own f_ncm
// gadget (ncm_test.go; its class requests are testdata/kernel-ncm.txt,
// compared with dongle's on the model but not replayed: a different
// device). And the kernel's cdc_ncm on the NCM model over USB/IP
// (ncm_model_test.go): bound at high speed, the model's MAC, carrier, pings
// up to the full-size frame and echoed bursts that travel several datagrams
// per NTB both ways, no rx errors, no request stalled, no NTB violation in
// the model's counters; its request log testdata/kernel-ncm-model.txt is
// replayed against a fresh model like the others.
package referee
