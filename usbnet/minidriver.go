package usbnet

import (
	"dongle/hw"
	"dongle/skbuff"
)

// Flags describe what a minidriver needs from the framework (Linux's
// driver_info.flags).
type Flags uint32

const (
	// FlagSendZLP: when a TX transfer's length is a multiple of the bulk OUT
	// wMaxPacketSize, the framework follows it with an explicit zero-length
	// packet (libusb sends none by itself). Without this flag and without
	// FlagTxPadsItself the framework appends one 0x00 pad byte instead, as
	// Linux usbnet does for cdc_ether.
	FlagSendZLP Flags = 1 << iota
	// FlagTxPadsItself: TxFixup already made the length safe (ASIX's
	// 00 00 ff ff pad, AX88179's padding flag); the framework adds nothing.
	FlagTxPadsItself
	// FlagMultiPacket: one RX transfer may carry several frames (and a frame
	// may span transfers); RxFixup is given every transfer in order.
	FlagMultiPacket
	// FlagEthernet: an Ethernet device (the netdev gets Ethernet defaults).
	FlagEthernet
	// FlagLinkIntr: carrier comes from the status endpoint; until the first
	// status event the carrier is off.
	FlagLinkIntr
)

// ID is one entry of a minidriver's match table (Linux's usb_device_id). A
// zero Vendor matches any vendor; a Class of -1 matches any interface class.
type ID struct {
	Vendor, Product uint16
	Class           int // interface class, -1 = any
	SubClass        int // interface subclass, -1 = any
	Protocol        int // interface protocol, -1 = any
	Name            string
	Info            any // minidriver-specific (chip variant)
	// SelectsConfig is Linux's usb_device_driver.choose_configuration for
	// this entry (r8152's rtl8152_cfgselector): a VID:PID entry that
	// matches in any configuration wins over whatever matches in the
	// active one, so the device is switched to the configuration it
	// matches in (a Realtek adapter's vendor configuration, where the
	// host left it on its CDC ECM one). Only meaningful with a Vendor.
	SelectsConfig bool
}

// Minidriver is Linux's driver_info: what a protocol adds to the framework.
//
// All methods except RxFixup and TxFixup run on the device's control path
// and may perform control transfers through Dev. RxFixup and TxFixup are on
// the per-packet path: they must not allocate in steady state and must not
// block.
type Minidriver interface {
	// Name is the driver's name ("cdc_ether", "asix", "ax88179_178a").
	Name() string
	// IDs is the match table.
	IDs() []ID
	// Flags says what the framework must do for this driver.
	Flags() Flags

	// Bind validates descriptors, picks the endpoints (d.In, d.Out,
	// d.Status), reads the MAC, sets d.RxURBSize and d.HardMTU, and brings
	// the chip to a known state. An error leaves nothing claimed.
	Bind(d *Dev) error
	// Unbind undoes Bind (frees any partial RX state).
	Unbind(d *Dev)

	// Reset runs when the interface is opened (ndo_open → driver reset),
	// before the data interface's alternate setting is selected: the
	// function is still off (alt 0) and no endpoint is open.
	Reset(d *Dev) error
	// LinkReset runs after a link change reported by Status (reprogram
	// medium mode, aggregation, ...).
	LinkReset(d *Dev) error
	// SetRxMode pushes the netdev's PROMISC/ALLMULTI flags and multicast
	// list to the device's filter.
	SetRxMode(d *Dev) error

	// Status decodes one interrupt IN transfer into link events, by calling
	// d.SetLink. Malformed data is reported as an error and ignored.
	Status(d *Dev, data []byte) error

	// RxFixup turns one completed bulk IN transfer (b holds exactly the
	// transferred bytes) into zero or more frames queued on out. It takes
	// ownership of b: it either queues it (trimmed to one frame), or frees
	// it. Framing errors are counted through d.Net's statistics and
	// returned; frames already queued stay queued.
	RxFixup(d *Dev, b *skbuff.Buff, out *skbuff.Queue) error

	// TxFixup adds the protocol's framing to one frame in place, using b's
	// headroom and tailroom (the framework allocates TX buffers with
	// enough of both). On error b is still owned by the caller.
	TxFixup(d *Dev, b *skbuff.Buff) error
}

// Endpoints are the three a usbnet device uses. Status is optional (zero
// Address when absent).
type Endpoints struct {
	In, Out, Status hw.EndpointDesc
	// DataIface, DataAlt and CtrlIface are the interfaces to claim.
	CtrlIface, DataIface, DataAlt int
}

// Additions to the framework API made while the minidrivers were being
// written. All are additive: the Minidriver interface above is unchanged.
//
//   - MACSetter (optional interface): a minidriver that implements
//     SetMAC(d, addr) is called from ndo_set_mac_address to program the chip
//     (ASIX WRITE_NODE_ID); without it the address changes in software only.
//   - MTUChanger (optional interface, mtu.go): a minidriver that implements
//     ChangeMTU(d, mtu) is called from ndo_change_mtu after the framework's
//     bounds checks, with the interface down, to reprogram the chip and
//     RxURBSize (the AX88178's jumbo frames); while up the change fails
//     with ErrBusy.
//   - Dev.RxMode() returns the PROMISC/ALLMULTI flags and the multicast list
//     as a usbnet.RxMode, so SetRxMode needs no netdev import.
//   - Dev.Claim(iface) claims one more interface and has Disconnect release
//     it (the framework claims the matched interface before Bind, and
//     CtrlIface and DataIface after).
//   - Dev.Counters() exposes the framework's own event counters (halts
//     cleared, timeouts, ZLPs, pad bytes, ...); Dev.Gone() is closed on
//     unplug.
//   - Minidrivers call d.SetLink(up, mbps) for carrier and d.Net.SetSpeed for
//     a speed change without a carrier change.
