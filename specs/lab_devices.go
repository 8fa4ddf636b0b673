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

// The lab's two devices the conformance suite runs against.
const (
	usbNetSel = "0525:a4a2" // QEMU usb-net, CDC-ECM configuration, full speed
	gadgetSel = "1209:0001" // Linux f_ecm on dummy_hcd, high speed
)

// labDev is what the lab knows about one of its devices, independently of
// dongle's driver.
type labDev struct {
	sel             string
	vendor, product uint16
	speed           hw.Speed
	maxPacket       int
	sysfsSpeed      string // what sysfs reports: "12", "480"
	// gadgetFunc is the configfs function directory of a gadget
	// ("" for usb-net): its host_addr is the MAC the device announces.
	gadgetFunc string
	// gadgetNetdev is the device-side netdev of a gadget ("" for usb-net,
	// whose far side is the host peer).
	gadgetNetdev string
	// filter: Expectations.Filter, the device's real receive filter (the
	// same findings as its model's in the catalog).
	filter FilterFinding
}

var labDevs = []labDev{
	{sel: usbNetSel, vendor: guest.USBNetVendor, product: guest.USBNetProduct, speed: hw.SpeedFull, maxPacket: 64, sysfsSpeed: "12",
		// Seen on the wire with the usbnet-host peer: every frame passes.
		filter: catalog.USBNetFilter},
	{sel: gadgetSel, vendor: guest.GadgetVendor, product: guest.ECMProduct, speed: hw.SpeedHigh, maxPacket: 512, sysfsSpeed: "480",
		gadgetFunc: "/sys/kernel/config/usb_gadget/ecm/functions/ecm.0", gadgetNetdev: guest.ECMGadgetNetdev,
		// Seen on the wire with --peer=iface:gecm0, and so in the source.
		filter: catalog.GadgetFilter},
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
// and the MAC as the kernel's cdc_ether read it from iMACAddress (the
// suite starts with cdc_ether bound; DONGLE_EXPECT_MAC still wins).
func (d *labDev) expect(e Expectations) Expectations {
	e.Driver = "cdc_ether"
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
// for the device: cdc_ether's own reading of the iMACAddress string.
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
