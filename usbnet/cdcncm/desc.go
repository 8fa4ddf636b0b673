package cdcncm

import (
	"encoding/binary"
	"errors"
	"fmt"

	"dongle/hw"
	"dongle/usbnet/cdcecm"
)

// Descriptor errors of the NCM function (the CDC header, union and
// Ethernet descriptors are checked by cdcecm.Parse, whose sentinels its
// errors wrap).
var (
	ErrMissingNCM = errors.New("missing CDC NCM functional descriptor")
	ErrNCMLength  = errors.New("CDC NCM functional descriptor has the wrong bLength")
	ErrNoStatus   = errors.New("no usable notification endpoint (interrupt IN)")
)

// Function is what the descriptors say about one NCM function.
type Function struct {
	cdcecm.Function // header, union, Ethernet descriptor, endpoints (alt 1)
	// NCMVersion is bcdNcmVersion; Capabilities bmNetworkCapabilities.
	NCMVersion   uint16
	Capabilities uint8
}

// Parse validates the NCM function whose communication interface is intf
// in cfg, as Linux's cdc_ncm_bind_common does and more strictly:
//
//	configuration
//	├─ interface N   class 02/0d/00 (communication, NCM)
//	│   ├─ header · union (master N, slave M) · Ethernet (13) · NCM (6)
//	│   └─ interrupt IN  notifications (required: FLAG_LINK_INTR)
//	└─ interface M   class 0a/00/01 (CDC data, NTB protocol)
//	    ├─ alt 0: no endpoints (function off)
//	    └─ alt 1: bulk IN + bulk OUT
//
// The CDC part is cdcecm.Parse (union, Ethernet descriptor with a
// wMaxSegmentSize of at least 82, bulk pair of a non-zero wMaxPacketSize,
// the data interface of class 0a); the NCM functional descriptor must be
// there once with bLength 6 (ErrMissingNCM, ErrNCMLength); the status
// endpoint is required (ErrNoStatus), as Linux's bind requires it for
// FLAG_LINK_INTR.
func Parse(cfg *hw.Config, intf uint8) (*Function, error) {
	fn, err := cdcecm.Parse(cfg, intf)
	if err != nil {
		return nil, err
	}
	f := &Function{Function: *fn}
	ctl := cfg.Interface(intf)
	extra := ctl.Alts[0].Extra
	if len(extra) == 0 && len(ctl.Alts[0].Endpoints) > 0 {
		extra = ctl.Alts[0].Endpoints[0].Extra
	}
	descs, err := hw.Descriptors(extra)
	if err != nil {
		return nil, fmt.Errorf("interface %d: %w", intf, err)
	}
	found := false
	for _, d := range descs {
		if len(d) < 3 || d[1] != hw.DescCSInterface || d[2] != SubtypeNCM {
			continue
		}
		if len(d) != NCMDescLen {
			return nil, fmt.Errorf("interface %d: NCM functional descriptor bLength %d, want %d: %w", intf, len(d), NCMDescLen, ErrNCMLength)
		}
		if found {
			return nil, fmt.Errorf("interface %d: second NCM functional descriptor: %w", intf, cdcecm.ErrDuplicate)
		}
		found = true
		f.NCMVersion = binary.LittleEndian.Uint16(d[3:])
		f.Capabilities = d[5]
	}
	if !found {
		return nil, fmt.Errorf("interface %d: %w", intf, ErrMissingNCM)
	}
	if f.Status.Address == 0 {
		return nil, fmt.Errorf("interface %d: %w", intf, ErrNoStatus)
	}
	return f, nil
}
