package cdcncm

import (
	"encoding/binary"
	"fmt"

	"dongle/usbnet"
	"dongle/usbnet/cdcecm"
)

// Status implements usbnet.Minidriver (cdc_ncm_status): NETWORK_CONNECTION
// sets the carrier (a repeated state is ignored: the RTL8156 repeats it
// every 32 ms); CONNECTION_SPEED_CHANGE's 8 bytes (DLBitRate, ULBitRate,
// le32 bit/s) set the speed, also when they come in the next interrupt
// transfer(s) (EVENT_STS_SPLIT); RESPONSE_AVAILABLE is ignored (NCM
// encapsulated commands are not used). Anything else is an error wrapping
// cdcecm.ErrNotification.
func (*Driver) Status(d *usbnet.Dev, data []byte) error {
	st := priv(d)
	if st.split {
		n := copy(st.rates[st.have:], data)
		st.have += n
		if st.have < len(st.rates) {
			return nil
		}
		st.split = false
		setSpeed(d, st.rates[:])
		return nil
	}
	ev, err := describeStatus(data)
	if err != nil {
		return err
	}
	switch data[1] {
	case cdcecm.NotifyNetworkConnection:
		if d.Net.Carrier() != ev.Up {
			d.SetLink(ev.Up, 0)
		}
	case cdcecm.NotifySpeedChange:
		rest := data[cdcecm.NotificationLen:]
		if len(rest) >= 8 {
			setSpeed(d, rest[:8])
			return nil
		}
		st.split = true
		st.have = copy(st.rates[:], rest)
	}
	return nil
}

// describeStatus decodes one notification that starts a transfer.
func describeStatus(p []byte) (usbnet.LinkEvent, error) {
	if len(p) < cdcecm.NotificationLen {
		return usbnet.LinkEvent{}, fmt.Errorf("%d-byte notification, need %d: %w", len(p), cdcecm.NotificationLen, cdcecm.ErrNotification)
	}
	if p[0] != 0xa1 {
		return usbnet.LinkEvent{}, fmt.Errorf("notification bmRequestType %#02x, want 0xa1: %w", p[0], cdcecm.ErrNotification)
	}
	switch p[1] {
	case cdcecm.NotifyNetworkConnection:
		return usbnet.LinkEvent{HasLink: true, Up: binary.LittleEndian.Uint16(p[2:]) != 0}, nil
	case cdcecm.NotifySpeedChange:
		if len(p) < cdcecm.NotificationLen+8 {
			return usbnet.LinkEvent{}, nil // the rates follow in the next transfer
		}
		return usbnet.LinkEvent{Mbps: mbps(p[8:16])}, nil
	case cdcecm.NotifyResponseAvailable:
		return usbnet.LinkEvent{}, nil
	}
	return usbnet.LinkEvent{}, fmt.Errorf("unexpected notification %#02x: %w", p[1], cdcecm.ErrNotification)
}

// mbps is the downlink rate (the uplink one if the downlink is 0) in Mbit/s.
func mbps(rates []byte) int {
	bps := binary.LittleEndian.Uint32(rates[0:])
	if bps == 0 {
		bps = binary.LittleEndian.Uint32(rates[4:])
	}
	return int(bps / 1_000_000)
}

func setSpeed(d *usbnet.Dev, rates []byte) {
	if m := mbps(rates); m > 0 {
		d.Net.SetSpeed(m)
	}
}

// DescribeStatus implements usbnet.StatusDescriber.
func (*Driver) DescribeStatus(p []byte) (usbnet.LinkEvent, error) { return describeStatus(p) }
