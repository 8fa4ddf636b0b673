package cdcecm

import (
	"encoding/binary"
	"errors"
	"fmt"

	"dongle/usbnet"
)

// Notifications (CDC 1.2 §6.3) on the interrupt IN endpoint: an 8-byte
// header (bmRequestType 0xA1, bNotificationType, wValue, wIndex, wLength)
// and wLength bytes of data.
const (
	NotifyNetworkConnection = 0x00 // wValue 1 connected, 0 disconnected
	NotifyResponseAvailable = 0x01
	NotifySpeedChange       = 0x2a // 8 bytes: DLBitRate, ULBitRate (le32, bit/s)

	notifyRequestType = 0xa1
)

// ErrNotification is a malformed or unexpected notification.
var ErrNotification = errors.New("bad CDC notification")

// Status implements usbnet.Minidriver (usbnet_cdc_status):
// NETWORK_CONNECTION sets the carrier; CONNECTION_SPEED_CHANGE sets the
// link speed. A speed change whose rates do not fit in the interrupt
// transfer that carried its header (an endpoint with wMaxPacketSize 8 or
// 12) is completed by the next transfer(s): Linux's EVENT_STS_SPLIT, kept
// here as the bytes still missing.
//
//	transfer 1: A1 2A 0000 0000 0800         → split, have 0
//	transfer 2: DLBitRate ULBitRate          → speed set
func (Driver) Status(d *usbnet.Dev, data []byte) error {
	s := priv(d)
	if s.split {
		n := copy(s.rates[s.have:], data)
		s.have += n
		if s.have < len(s.rates) {
			return nil
		}
		s.split = false
		setSpeed(d, s.rates[:])
		return nil
	}
	if len(data) < NotificationLen {
		return fmt.Errorf("%d-byte notification, need %d: %w", len(data), NotificationLen, ErrNotification)
	}
	if data[0] != notifyRequestType {
		return fmt.Errorf("notification bmRequestType %#02x, want %#02x: %w", data[0], notifyRequestType, ErrNotification)
	}
	le := binary.LittleEndian
	switch data[1] {
	case NotifyNetworkConnection:
		d.SetLink(le.Uint16(data[2:]) != 0, 0)
	case NotifyResponseAvailable:
		// Encapsulated responses are RNDIS/ACM business; ECM has none.
	case NotifySpeedChange:
		rest := data[NotificationLen:]
		if len(rest) >= 8 {
			setSpeed(d, rest[:8])
			return nil
		}
		s.split = true
		s.have = copy(s.rates[:], rest)
	default:
		return fmt.Errorf("unexpected notification %#02x: %w", data[1], ErrNotification)
	}
	return nil
}

// setSpeed reports the downlink rate (the uplink one if the downlink is
// unknown) in Mbit/s.
func setSpeed(d *usbnet.Dev, rates []byte) {
	dl := binary.LittleEndian.Uint32(rates[0:])
	ul := binary.LittleEndian.Uint32(rates[4:])
	bps := dl
	if bps == 0 {
		bps = ul
	}
	if bps != 0 {
		d.Net.SetSpeed(int(bps / 1_000_000))
	}
}
