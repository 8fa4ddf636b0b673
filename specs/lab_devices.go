package specs

import (
	"net"
	"os"
	"path/filepath"
	"strings"

	"dongle/hw"
	"dongle/hw/vmlab/guest"
	"dongle/usbnet/catalog"
)

// CapLab: the device is one of the virtual USB lab's (hw/vmlab), and the
// suite runs inside the lab VM, where the real kernel stack, sysfs, the
// gadget's device side and the host peer can all be looked at. Specs with
// this label pass only through the real stack; only the usb backend has it.
const CapLab Cap = "needs-lab"

// The lab's devices the conformance suite runs against.
const (
	usbNetSel    = "0525:a4a2" // QEMU usb-net, CDC-ECM configuration, full speed
	gadgetSel    = "1209:0001" // Linux f_ecm on dummy_hcd, high speed
	ncmGadgetSel = "1209:0002" // Linux f_ncm on dummy_hcd, high speed
)

// labDev is what the lab knows about one of its devices, independently of
// dongle's driver.
type labDev struct {
	sel             string
	vendor, product uint16
	speed           hw.Speed
	maxPacket       int
	sysfsSpeed      string // what sysfs reports: "12", "480"
	// driver is the Linux class driver bound before the suite starts,
	// and the name of dongle's minidriver for the device.
	driver string
	// gadgetFunc is the configfs function directory of a gadget
	// ("" for usb-net): its host_addr is the MAC the device announces.
	gadgetFunc string
	// gadgetNetdev is the device-side netdev of a gadget ("" for usb-net,
	// whose far side is the host peer).
	gadgetNetdev string
	// ntbTx: the gadget wraps each frame it sends the host in an NTB
	// before its netdev counts tx_bytes (f_ncm: u_ether counts what
	// ncm_wrap_ntb made), so the far side's byte count for one frame of
	// n bytes is ntbTx(n); nil: n.
	ntbTx func(n int) int
	// filter: Expectations.Filter, the device's real receive filter (the
	// same findings as its model's in the catalog).
	filter FilterFinding
}

var labDevs = []labDev{
	{sel: usbNetSel, vendor: guest.USBNetVendor, product: guest.USBNetProduct, speed: hw.SpeedFull, maxPacket: 64, sysfsSpeed: "12",
		driver: "cdc_ether",
		// Seen on the wire with the usbnet-host peer: every frame passes.
		filter: catalog.USBNetFilter},
	{sel: gadgetSel, vendor: guest.GadgetVendor, product: guest.ECMProduct, speed: hw.SpeedHigh, maxPacket: 512, sysfsSpeed: "480",
		driver:     "cdc_ether",
		gadgetFunc: "/sys/kernel/config/usb_gadget/ecm/functions/ecm.0", gadgetNetdev: guest.ECMGadgetNetdev,
		// Seen on the wire with --peer=iface:gecm0, and so in the source.
		filter: catalog.GadgetFilter},
	{sel: ncmGadgetSel, vendor: guest.GadgetVendor, product: guest.NCMProduct, speed: hw.SpeedHigh, maxPacket: 512, sysfsSpeed: "480",
		driver:     "cdc_ncm",
		gadgetFunc: "/sys/kernel/config/usb_gadget/ncm/functions/ncm.0", gadgetNetdev: guest.NCMGadgetNetdev,
		// One frame, one NTB16: 12-byte NTH, the datagram at 4-byte
		// alignment, a 16-byte NDP (two entries). Measured in the lab on
		// gncm0's tx_bytes: 60 → 88, 512 → 540, 1514 → 1544.
		ntbTx: func(n int) int { return (12+n+3)&^3 + 16 },
		// f_ncm stores SET_ETHERNET_PACKET_FILTER in the same u_ether port
		// as f_ecm (ncm_setup: port.cdc_filter), so it filters the same.
		filter: NCMGadgetFilter},
}

// NCMGadgetFilter is Linux f_ncm's receive filter: u_ether's, as f_ecm's.
var NCMGadgetFilter = FilterFinding{
	Filters:  catalog.FiltersGroups,
	Finding:  "Linux f_ncm passes other stations' unicast whatever SET_ETHERNET_PACKET_FILTER says: ncm_setup stores the filter in u_ether's port.cdc_filter, and u_ether's eth_start_xmit applies the broadcast and multicast bits and ignores USB_CDC_PACKET_TYPE_DIRECTED",
	Evidence: "the lab with --peer=iface:gncm0 (the spec's USB trace, kept as specs/reports/traces/finding-*.pcap); drivers/usb/gadget/function/f_ncm.c ncm_setup, u_ether.c eth_start_xmit",
}

// labDevice returns the lab device a usb backend selector names, or nil.
func labDevice(sel string) *labDev {
	for i := range labDevs {
		if strings.EqualFold(labDevs[i].sel, sel) {
			return &labDevs[i]
		}
	}
	return nil
}

// expect fills in what the lab knows: identity, speed, packet size, driver
// and the MAC as the kernel's class driver (cdc_ether, cdc_ncm) read it
// from iMACAddress (the suite starts with it bound; DONGLE_EXPECT_MAC
// still wins).
func (d *labDev) expect(e Expectations) Expectations {
	e.Driver = d.driver
	e.Vendor, e.Product = d.vendor, d.product
	e.USBSpeed, e.MaxPacket = d.speed, d.maxPacket
	e.Filter = d.filter
	if e.MAC == nil {
		if mac, err := d.kernelMAC(); err == nil {
			e.MAC = mac
		}
	}
	return e
}

// kernelMAC is the address of the netdev the kernel's class driver made
// for the device: its own reading of the iMACAddress string.
func (d *labDev) kernelMAC() (net.HardwareAddr, error) {
	u, err := guest.FindUSB(d.vendor, d.product)
	if err != nil {
		return nil, err
	}
	ifname, err := u.Netdev()
	if err != nil {
		return nil, err
	}
	return readMAC(filepath.Join("/sys/class/net", ifname, "address"))
}

func readMAC(p string) (net.HardwareAddr, error) {
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, err
	}
	// configfs attributes end in "\n" and may carry a NUL.
	return net.ParseMAC(strings.Trim(string(b), " \n\x00"))
}
