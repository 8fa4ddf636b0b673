package netdev

import "errors"

// Errors the core reports, always wrapped in an *Error naming the device.
var (
	ErrNameTaken       = errors.New("name already in use")
	ErrBadName         = errors.New("invalid interface name")
	ErrNotRegistered   = errors.New("device not registered")
	ErrRegistered      = errors.New("device already registered")
	ErrDown            = errors.New("device is down (IFF_UP not set)")
	ErrNoCarrier       = errors.New("no carrier")
	ErrQueueFull       = errors.New("transmit queue full (tx_queue_len reached)")
	ErrLoopbackOnly    = errors.New("IFF_LOOPBACK belongs to the loopback device only")
	ErrFixedFlag       = errors.New("IFF_BROADCAST/IFF_POINTOPOINT are set by the link setup (EtherSetup, PointToPointSetup, SetBroadcastAddr), not by ChangeFlags")
	ErrMTURange        = errors.New("MTU out of range")
	ErrBadAddress      = errors.New("invalid hardware address")
	ErrNotMulticast    = errors.New("not a multicast address")
	ErrNoSuchMulticast = errors.New("multicast address not in the list")
	ErrShortFrame      = errors.New("frame shorter than an Ethernet header")
)

// Error is a failure of an operation on a named device:
// "netdev eth0: xmit: device is down (IFF_UP not set)".
type Error struct {
	Dev string // device name (or name pattern before Register)
	Op  string // "register", "open", "xmit", "change flags", ...
	Err error
}

func (e *Error) Error() string { return "netdev " + e.Dev + ": " + e.Op + ": " + e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }
