// Package usbip presents any hw.Device (normally a sim.Device holding a
// chip model) to the Linux kernel as a USB device on the virtual host
// controller vhci_hcd, speaking the USB/IP protocol
// (Documentation/usb/usbip_protocol.rst) over a socket pair the kernel is
// given through vhci_hcd's sysfs attach file.
//
//	kernel class driver (r8152, ...)
//	      │ URBs
//	vhci_hcd ── USBIP_CMD_SUBMIT / CMD_UNLINK ──► Server ──► hw.Device.Control / Endpoint.Submit
//	         ◄── USBIP_RET_SUBMIT / RET_UNLINK ──        ◄── completions, in order per endpoint
//
// # Why not FunctionFS
//
// hw/ffs runs a model behind a gadget on dummy_hcd, and the gadget core
// assigns endpoint numbers from the UDC's fixed list: dummy_hcd has no IN
// endpoint 3 (its ep3 and ep4 are the ISO slots it leaves out, "ep3out" is
// OUT only), so an interrupt IN endpoint declared as 0x83 becomes 0x85. A
// driver that checks endpoint numbers (Linux's r8152: rtl_check_vendor_ok
// wants bulk IN 1, bulk OUT 2, interrupt IN 3) refuses such a device. Over
// USB/IP the device's own descriptors, endpoint numbers included, are what
// the host sees.
//
// # What the server does
//
// Standard requests go to the device as they are (the sim engine answers
// descriptors, configuration, interface, halt), except the SuperSpeed
// housekeeping requests SET_SEL and SET_ISOCH_DELAY (acknowledged, as the
// gadget core does) and descriptor types the device does not serve (BOS,
// device qualifier: stalled without bothering the model). SET_ADDRESS and
// port resets never arrive: vhci_hcd answers them itself. Before a
// SET_CONFIGURATION the server gives up its claims and endpoints (the
// kernel has killed its URBs by then); endpoints are opened again, with
// their interface claimed, at the first URB.
//
// Each bulk or interrupt URB becomes one transfer of its length on the
// device's endpoint, completed in submission order: the sim engine's USB
// packet rules decide where an IN transfer ends, as a host controller's
// would. An OUT URB with URB_ZERO_PACKET whose length is a multiple of
// wMaxPacketSize is followed by a zero-length transfer. CMD_UNLINK of a
// URB still in flight is answered at once with -ECONNRESET and the URB's
// completion is dropped; when every URB of an endpoint is unlinked the
// endpoint's transfers are cancelled.
package usbip
