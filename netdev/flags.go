package netdev

import (
	"strconv"
	"strings"
)

// Flags are the interface flags (dev->flags), with Linux's IFF_* values.
type Flags uint32

// The flags of the article, with Linux's bit values.
const (
	// FlagUp (IFF_UP): the interface is active. Up and Running are set and
	// cleared together by Open and Close. A device that is not up never
	// receives: Rx drops (rx_dropped) instead of queueing.
	FlagUp Flags = 0x1
	// FlagBroadcast (IFF_BROADCAST): the link can broadcast; BroadcastAddr
	// is valid.
	FlagBroadcast Flags = 0x2
	// FlagDebug (IFF_DEBUG): accepted and stored, no effect.
	FlagDebug Flags = 0x4
	// FlagLoopback (IFF_LOOPBACK): only the loopback device has it; setting
	// it on any other device is refused (ErrLoopbackOnly).
	FlagLoopback Flags = 0x8
	// FlagPointToPoint (IFF_POINTOPOINT): a point-to-point link; no
	// broadcast, and DestAddr (the remote end) is valid.
	FlagPointToPoint Flags = 0x10
	// FlagNoTrailers (IFF_NOTRAILERS): accepted and stored, no effect.
	FlagNoTrailers Flags = 0x20
	// FlagRunning (IFF_RUNNING): set and cleared with FlagUp.
	FlagRunning Flags = 0x40
	// FlagNoARP (IFF_NOARP): addresses need no resolution (static mapping
	// or none needed).
	FlagNoARP Flags = 0x80
	// FlagPromisc (IFF_PROMISC): hear every frame. Reference counted by
	// SetPromisc; shown while the count is above zero.
	FlagPromisc Flags = 0x100
	// FlagAllMulti (IFF_ALLMULTI): receive every multicast frame. Reference
	// counted by SetAllMulti; a device with CapNoAllMulti goes promiscuous
	// instead.
	FlagAllMulti Flags = 0x200
	// FlagMulticast (IFF_MULTICAST): the interface supports IP multicast,
	// which need not mean physical multicast.
	FlagMulticast Flags = 0x1000
)

// userFlags are those ChangeFlags changes directly (Linux's
// dev_change_flags mask). Up, Promisc and AllMulti go through Open/Close
// and the reference counts; Running is state, not a request.
const userFlags = FlagDebug | FlagNoTrailers | FlagNoARP | FlagMulticast

var flagNames = []struct {
	f    Flags
	name string
}{
	{FlagUp, "UP"}, {FlagBroadcast, "BROADCAST"}, {FlagDebug, "DEBUG"}, {FlagLoopback, "LOOPBACK"},
	{FlagPointToPoint, "POINTOPOINT"}, {FlagNoTrailers, "NOTRAILERS"}, {FlagRunning, "RUNNING"},
	{FlagNoARP, "NOARP"}, {FlagPromisc, "PROMISC"}, {FlagAllMulti, "ALLMULTI"}, {FlagMulticast, "MULTICAST"},
}

// String lists the flags as ip link does: "UP|BROADCAST|RUNNING|MULTICAST".
func (f Flags) String() string {
	var parts []string
	for _, n := range flagNames {
		if f&n.f != 0 {
			parts = append(parts, n.name)
			f &^= n.f
		}
	}
	if f != 0 {
		parts = append(parts, "0x"+strconv.FormatUint(uint64(f), 16))
	}
	if len(parts) == 0 {
		return "0"
	}
	return strings.Join(parts, "|")
}

// Caps are capabilities a driver declares on its Device (in Init or before
// Register) that change how the core treats the flags.
type Caps uint32

const (
	// CapNoAllMulti: the hardware cannot receive all multicast frames
	// alone; a request for ALLMULTI puts it in promiscuous mode instead.
	CapNoAllMulti Caps = 1 << iota
	// CapAlwaysPromisc: the interface always hears everything (as the
	// article's AX.25 interfaces); FlagPromisc is always shown.
	CapAlwaysPromisc
)
