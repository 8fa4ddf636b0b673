package tap

import (
	"errors"
	"net"
	"testing"
)

// setMAC refuses, before any ioctl, an address a TAP cannot stand for.
func TestSetMACRefusesAddressesNoAdapterHas(t *testing.T) {
	for name, mac := range map[string]net.HardwareAddr{
		"nil":       nil,
		"EUI-64":    {2, 0, 0, 0, 0, 0, 0, 1},
		"multicast": {0x01, 0x00, 0x5e, 0, 0, 1},
		"zero":      {0, 0, 0, 0, 0, 0},
	} {
		if err := setMAC(nil, "t0", mac); !errors.Is(err, ErrAddress) {
			t.Errorf("%s MAC %v: %v, want ErrAddress", name, mac, err)
		}
	}
}
