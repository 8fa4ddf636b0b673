package r8152

import (
	"encoding/binary"
	"errors"
	"fmt"

	"dongle/hw"
	"dongle/usbnet"
)

// ErrIntShort: an interrupt packet shorter than the 2 bytes the chip sends.
var ErrIntShort = errors.New("interrupt packet shorter than 2 bytes")

// IntLinkUp decodes INTR_LINK from an interrupt packet (intr_callback);
// p must hold at least IntrLen bytes.
func IntLinkUp(p []byte) bool { return binary.LittleEndian.Uint16(p)&IntrLink != 0 }

// Status implements usbnet.Minidriver (intr_callback): the link bit,
// handed to usbnet with needReset, so the carrier comes on only after
// LinkReset has enabled the MAC for the new link. Every packet is passed
// on, a repeated state too: a "down" that arrives while the carrier is
// still off but a LinkReset is pending must cancel it (usbnet.LinkChange
// ignores an "up" it already acted on).
//
// Linux also disables the MAC when the link goes down (rtl_ops.disable);
// that needs control transfers, which Status may not make, and the
// enable LinkReset runs on the next link up resets the same state.
func (dr *Driver) Status(d *usbnet.Dev, data []byte) error {
	if len(data) < IntrLen {
		return fmt.Errorf("r8152: %s: %w: %d bytes", d.Name(), ErrIntShort, len(data))
	}
	d.LinkChange(IntLinkUp(data), 0, true)
	return nil
}

// ReadPhyStatus is rtl8152_get_speed: PLA_PHYSTATUS, read as a word
// since Linux added the RTL8156's 2.5G bit (the kernel's own trace of the
// RTL8153B model shows the word read); the low byte is the older chips'
// byte register.
func ReadPhyStatus(c Ctrl) (uint16, error) { return Read16(c, PLA, PLAPhyStatus) }

// PhyStatusMbps is the link speed PLA_PHYSTATUS reports (0 when down).
func PhyStatusMbps(st uint16) int {
	switch {
	case st&PhyLink == 0:
		return 0
	case st&Phy2500 != 0:
		return 2500
	case st&Phy1000 != 0:
		return 1000
	case st&Phy100 != 0:
		return 100
	case st&Phy10 != 0:
		return 10
	}
	return 0
}

// LinkReset implements usbnet.Minidriver: set_carrier on a link that came
// up, which runs rtl_ops.enable (rtl8153_enable / rtl8152_enable):
// the RX early-aggregation limits for the MTU and USB speed, the packet
// filter reset, RX and TX on, the RTL8153B's RX aggregation change
// indication, RXDY gating off; then the receive filter again
// (_rtl8152_set_rx_mode) and the speed.
func (dr *Driver) LinkReset(d *usbnet.Dev) error {
	p := privOf(d)
	if p == nil {
		return fmt.Errorf("r8152: %s: link reset on an unbound device", d.Name())
	}
	st, err := ReadPhyStatus(d)
	if err != nil {
		return err
	}
	if st&PhyLink == 0 {
		return nil
	}
	p.speed = st
	if err := dr.enable(d, p); err != nil {
		return err
	}
	if err := dr.SetRxMode(d); err != nil {
		return err
	}
	d.Net.SetSpeed(PhyStatusMbps(st))
	return nil
}

// coalesce is tp->coalesce in ns: what the RX early timeout is made of.
func coalesce(v Version, s hw.Speed) uint32 {
	if v.Chip() == RTL8153B {
		return 15000
	}
	switch {
	case s >= hw.SpeedSuper:
		return 85000 // COALESCE_SUPER
	case s == hw.SpeedHigh:
		return 250000 // COALESCE_HIGH
	}
	return 524280 // COALESCE_SLOW
}

// RxEarlySize is the USB_RX_EARLY_SIZE value r8153_set_rx_early_size
// writes: the room an RX buffer of bufSize leaves after one frame of the
// MTU with its descriptor and alignment, in 4-byte (RTL8153) or 8-byte
// (RTL8153B) units.
func RxEarlySize(v Version, bufSize, mtu int) uint16 {
	room := bufSize - (mtu + sizeOverhead + RxDescLen + RxAlign)
	if v.Chip() == RTL8153B {
		return uint16(room / 8)
	}
	return uint16(room / 4)
}

func (dr *Driver) enable(d *usbnet.Dev, p *priv) error {
	if p.ver.Chip() != RTL8152 {
		mtu := d.Net.MTU()
		c := coalesce(p.ver, d.USBSpeed())
		if p.ver.Chip() == RTL8153B {
			if err := Write16(d, USB, USBRxEarlyTO, 128/8); err != nil {
				return err
			}
			if err := Write16(d, USB, USBRxExtraAgg, uint16(c/8)); err != nil {
				return err
			}
		} else if err := Write16(d, USB, USBRxEarlyTO, uint16(c/8)); err != nil {
			return err
		}
		if err := Write16(d, USB, USBRxEarlySz, RxEarlySize(p.ver, p.rxBufSz, mtu)); err != nil {
			return err
		}
	}
	// rtl_enable: r8152b_reset_packet_filter, CR_RE|CR_TE.
	if err := Modify16(d, PLA, PLAFMC, FMCMCUEn, 0); err != nil {
		return err
	}
	if err := Modify16(d, PLA, PLAFMC, 0, FMCMCUEn); err != nil {
		return err
	}
	if err := Modify8(d, PLA, PLACR, 0, CRRE|CRTE); err != nil {
		return err
	}
	if p.ver.Chip() == RTL8153B {
		if err := Write8(d, USB, USBRxDMAOwn, RxDMAOwnUpdate|RxDMAOwnClear); err != nil {
			return err
		}
	}
	return Modify16(d, PLA, PLAMisc1, Misc1RxdyGated, 0) // rxdy_gated_en(false)
}
