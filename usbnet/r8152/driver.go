package r8152

import (
	"crypto/rand"
	"fmt"
	"net"
	"time"

	"dongle/hw"
	"dongle/usbnet"
)

// Driver is the RTL8152/RTL8153 minidriver (Linux's r8152). The zero value
// is ready for hardware: it waits between polls as Linux does. Sleep, when
// set, replaces time.Sleep (a no-op for device models and traces, which
// answer at once).
type Driver struct {
	Sleep func(time.Duration)
}

var (
	_ usbnet.Minidriver = (*Driver)(nil)
	_ usbnet.MACSetter  = (*Driver)(nil)
	_ usbnet.MTUChanger = (*Driver)(nil)
)

func (dr *Driver) sleep(t time.Duration) {
	if dr.Sleep != nil {
		dr.Sleep(t)
		return
	}
	time.Sleep(t)
}

// VendorRealtek is Realtek's USB vendor ID.
const VendorRealtek = 0x0bda

// id is one entry of Linux's rtl8152_table. Linux matches the whole
// device and its probe refuses any interface that is not vendor-specific
// (the CDC ECM configuration many units carry is cdc_ether's); here the
// entry says the same: interface class 0xff. SelectsConfig is Linux's
// rtl8152_cfgselector: the vendor configuration is chosen whichever
// configuration the device was left in.
func id(vid, pid uint16, name string) usbnet.ID {
	return usbnet.ID{Vendor: vid, Product: pid, Class: 0xff, SubClass: -1, Protocol: -1, Name: name, SelectsConfig: true}
}

// ids is Linux's rtl8152_table: the Realtek parts and the OEM adapters it
// lists that are built on them.
var ids = []usbnet.ID{
	id(VendorRealtek, 0x8050, "Realtek RTL8152 (0bda:8050)"),
	id(VendorRealtek, 0x8053, "Realtek RTL8153 (0bda:8053)"),
	id(VendorRealtek, 0x8152, "Realtek RTL8152 Fast Ethernet"),
	id(VendorRealtek, 0x8153, "Realtek RTL8153 Gigabit Ethernet"),
	id(VendorRealtek, 0x8155, "Realtek RTL8153 (0bda:8155)"),
	id(VendorRealtek, 0x8156, "Realtek RTL8156 2.5G Ethernet"),
	id(0x045e, 0x07ab, "Microsoft Surface Ethernet adapter (RTL8153)"),
	id(0x045e, 0x07c6, "Microsoft Surface Ethernet adapter (RTL8153)"),
	id(0x045e, 0x0927, "Microsoft Surface Dock Ethernet (RTL8153)"),
	id(0x04e8, 0xa101, "Samsung USB Ethernet adapter (RTL8153)"),
	id(0x17ef, 0x304f, "Lenovo dock Ethernet (RTL8153)"),
	id(0x17ef, 0x3062, "Lenovo dock Ethernet (RTL8153)"),
	id(0x17ef, 0x3069, "Lenovo dock Ethernet (RTL8153)"),
	id(0x17ef, 0x7205, "Lenovo dock Ethernet (RTL8153)"),
	id(0x17ef, 0x720c, "Lenovo dock Ethernet (RTL8153)"),
	id(0x17ef, 0x7214, "Lenovo dock Ethernet (RTL8153)"),
	id(0x17ef, 0xa387, "Lenovo USB-C hub Ethernet (RTL8153)"),
	id(0x13b1, 0x0041, "Linksys USB3GIGV1 (RTL8153)"),
	id(0x0955, 0x09ff, "NVIDIA USB Ethernet (RTL8153)"),
	id(0x2357, 0x0601, "TP-Link UE300 (RTL8153)"),
}

// Name implements usbnet.Minidriver.
func (*Driver) Name() string { return "r8152" }

// IDs implements usbnet.Minidriver.
func (*Driver) IDs() []usbnet.ID { return ids }

// Flags implements usbnet.Minidriver: Ethernet, link from the interrupt
// endpoint, aggregated RX, and an explicit ZLP after a TX transfer that
// fills whole packets (the chip reads lengths from the descriptors, so a
// pad byte would read as the start of another descriptor).
func (*Driver) Flags() usbnet.Flags {
	return usbnet.FlagEthernet | usbnet.FlagLinkIntr | usbnet.FlagMultiPacket | usbnet.FlagSendZLP
}

// Sizes (mtu_to_size, rx_reserved_size and the max_mtu Linux sets).
const (
	// sizeOverhead is VLAN_ETH_HLEN + ETH_FCS_LEN: RMS = MTU + 22.
	sizeOverhead = 18 + 4
	// MaxMTU8152 is the RTL8152's (ETH_DATA_LEN); MaxMTU8153 is
	// size_to_mtu(9 KiB) for the RTL8153 family.
	MaxMTU8152 = 1500
	MaxMTU8153 = 9*1024 - sizeOverhead
)

// priv is the per-device state (Linux's struct r8152, what the driver
// needs of it).
type priv struct {
	ver     Version
	phy     PHY
	rxBufSz int // tp->rx_buf_sz: the RX transfer size
	speed   uint16
}

func privOf(d *usbnet.Dev) *priv {
	p, _ := d.Priv.(*priv)
	return p
}

// rxBufSize is tp->rx_buf_sz for a revision at a USB speed.
func rxBufSize(v Version, s hw.Speed) int {
	switch v.Chip() {
	case RTL8152:
		return 16 * 1024
	case RTL8153:
		if s < hw.SpeedSuper {
			return 16 * 1024
		}
	}
	return 32 * 1024
}

// MaxMTU is the largest MTU revision v takes.
func MaxMTU(v Version) int {
	if v.Chip() == RTL8152 {
		return MaxMTU8152
	}
	return MaxMTU8153
}

// Bind implements usbnet.Minidriver (rtl8152_probe): endpoints, chip
// version, the family's init, the station address.
func (dr *Driver) Bind(d *usbnet.Dev) error {
	if err := usbnet.GetEndpoints(d); err != nil {
		return err
	}
	ver, err := ReadVersion(d)
	if err != nil {
		return err
	}
	if !ver.Supported() {
		return fmt.Errorf("r8152: %s: %v: %w", d.Name(), ver, ErrUnsupportedVersion)
	}
	p := &priv{ver: ver, phy: PHY{C: d}, rxBufSz: rxBufSize(ver, d.USBSpeed())}
	d.Priv = p
	max := MaxMTU(ver)
	d.HardMTU = max + usbnet.EthHeaderLen
	d.RxURBSize = p.rxBufSz
	d.TxHeadroom = TxDescLen
	fail := func(err error) error {
		d.Priv = nil
		return err
	}
	if err := dr.init(d, p); err != nil {
		return fail(err)
	}
	if err := dr.setMACFromChip(d, p); err != nil {
		return fail(err)
	}
	return nil
}

// Unbind implements usbnet.Minidriver (rtl8152_disconnect → unload):
// receive nothing more. Errors are ignored: the device may be gone.
func (dr *Driver) Unbind(d *usbnet.Dev) {
	if privOf(d) != nil {
		_ = Modify32(d, PLA, PLARCR, RCRAcptAll, 0)
	}
	d.Priv = nil
}

// Reset implements usbnet.Minidriver (rtl8152_open → rtl_ops.up): the
// family's bring-up, then the PHY's autonegotiation (rtl8152_set_speed).
// The carrier then comes from the interrupt endpoint; a link the PHY
// already reports is taken now too (the interrupt would say the same).
func (dr *Driver) Reset(d *usbnet.Dev) error {
	p := privOf(d)
	if p == nil {
		return fmt.Errorf("r8152: %s: open on an unbound device", d.Name())
	}
	if err := dr.up(d, p); err != nil {
		return err
	}
	st, err := ReadPhyStatus(d)
	if err != nil {
		return err
	}
	if st&PhyLink != 0 {
		d.LinkChange(true, PhyStatusMbps(st), true)
	}
	return nil
}

// setMACFromChip is set_ethernet_addr: PLA_BACKUP (PLA_IDR on
// RTL_VER_01), a random locally administered address when that is not a
// valid unicast one, then written to PLA_IDR (not on RTL_VER_01, where
// PLA_IDR is the source).
func (dr *Driver) setMACFromChip(d *usbnet.Dev, p *priv) error {
	src := PLABackup
	if p.ver == Ver01 {
		src = PLAIDR
	}
	var b [8]byte
	if err := ReadRegs(d, PLA, src, 0, b[:]); err != nil {
		return err
	}
	mac := net.HardwareAddr(append([]byte(nil), b[:6]...))
	if !validUnicast(mac) {
		_, _ = rand.Read(mac)
		mac[0] = mac[0]&^1 | 2
	}
	d.Net.SetHardwareAddr(mac)
	if p.ver == Ver01 && validUnicast(net.HardwareAddr(b[:6])) {
		return nil
	}
	return WriteMAC(d, mac)
}

func validUnicast(a net.HardwareAddr) bool {
	if len(a) != 6 || a[0]&1 != 0 {
		return false
	}
	for _, b := range a {
		if b != 0 {
			return true
		}
	}
	return false
}

// WriteMAC is __rtl8152_set_mac_address: PLA_IDR is writable only with
// PLA_CRWECR in config mode.
func WriteMAC(c Ctrl, mac net.HardwareAddr) error {
	if len(mac) != 6 {
		return fmt.Errorf("r8152: station address %v is not 6 bytes", mac)
	}
	if err := Write8(c, PLA, PLACRWECR, CRWECRConfig); err != nil {
		return err
	}
	var b [8]byte
	copy(b[:], mac)
	err := WriteRegs(c, PLA, PLAIDR, ByteEnSixBytes, b[:])
	// Back to normal even when the write failed, as Linux does.
	if err2 := Write8(c, PLA, PLACRWECR, CRWECRNormal); err == nil {
		err = err2
	}
	return err
}

// SetMAC implements usbnet.MACSetter (rtl8152_set_mac_address).
func (*Driver) SetMAC(d *usbnet.Dev, addr net.HardwareAddr) error { return WriteMAC(d, addr) }

// ChangeMTU implements usbnet.MTUChanger (rtl8152_change_mtu with the
// interface down): PLA_RMS for the new size and PLA_MTPS jumbo, as
// rtl8153_change_mtu writes them; the next open's bring-up writes them
// again and LinkReset sizes the RX early threshold for it. The RTL8152
// takes no jumbo frames (usbnet's HardMTU check refuses them first).
func (*Driver) ChangeMTU(d *usbnet.Dev, mtu int) error {
	p := privOf(d)
	if p == nil {
		return fmt.Errorf("r8152: %s: MTU change on an unbound device", d.Name())
	}
	// usbnet has checked mtu against HardMTU, which Bind set from
	// MaxMTU(p.ver).
	if p.ver.Chip() == RTL8152 {
		return nil
	}
	return setRMS(d, p, mtu)
}

// setRMS is rtl8153_change_mtu's register half.
func setRMS(d *usbnet.Dev, p *priv, mtu int) error {
	if p.ver.Chip() == RTL8152 {
		return Write16(d, PLA, PLARMS, RMS8152)
	}
	if err := Write16(d, PLA, PLARMS, uint16(mtu+sizeOverhead)); err != nil {
		return err
	}
	return Write8(d, PLA, PLAMTPS, MTPSJumbo)
}

// RMS8152 is RTL8152_RMS: VLAN_ETH_FRAME_LEN + VLAN_HLEN.
const RMS8152 = 1518 + 4

func (p *priv) String() string { return p.ver.String() }
