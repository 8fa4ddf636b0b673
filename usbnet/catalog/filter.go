package catalog

// RxFilter is how much of the receive filter the host asks for (CDC's
// SET_ETHERNET_PACKET_FILTER and multicast list, or a chip's RX control and
// multicast hash) a device really applies to frames from the wire.
type RxFilter int

const (
	// FiltersAll: the device filters as asked: other stations' unicast and
	// unsubscribed multicast groups never cross the bus outside
	// promiscuous and all-multicast modes.
	FiltersAll RxFilter = iota
	// FiltersGroups: broadcast and multicast are filtered as asked, but
	// unicast to any station passes (Linux u_ether ignores
	// PACKET_TYPE_DIRECTED).
	FiltersGroups
	// FiltersNothing: every frame passes, whatever the host asked (QEMU's
	// usb-net answers the filter request and forgets it).
	FiltersNothing
)

func (f RxFilter) String() string {
	switch f {
	case FiltersAll:
		return "filters as asked"
	case FiltersGroups:
		return "filters multicast and broadcast only"
	case FiltersNothing:
		return "filters nothing"
	}
	return "RxFilter(?)"
}

// FilterFinding is a device's receive filter as it really is. A device that
// filters less than its protocol says breaks that protocol: that is a
// finding about the device, which the suite keeps as the device's expected
// behaviour (and which fails the suite when the device stops showing it).
//
// Invariant: Filters == FiltersAll exactly when Finding == "".
type FilterFinding struct {
	Filters RxFilter
	// Finding says how the device breaks its protocol ("" when it does not).
	Finding string
	// Evidence says where it is shown: the capture, and the device's source.
	Evidence string
}

// PassesOtherUnicast reports whether the device hands the host unicast
// frames for another station outside promiscuous mode.
func (f FilterFinding) PassesOtherUnicast() bool { return f.Filters != FiltersAll }

// PassesUnsubscribedGroup reports whether the device hands the host
// multicast frames of a group the host did not subscribe to, outside
// promiscuous and all-multicast modes.
func (f FilterFinding) PassesUnsubscribedGroup() bool { return f.Filters == FiltersNothing }
