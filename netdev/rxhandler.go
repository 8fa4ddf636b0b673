package netdev

import (
	"errors"

	"dongle/skbuff"
)

// RxHandlerResult is what a device's rx handler did with a frame
// (rx_handler_result_t).
type RxHandlerResult int

const (
	// RxHandlerPass: the handler did not take the frame; the protocol
	// handlers get it (RX_HANDLER_PASS).
	RxHandlerPass RxHandlerResult = iota
	// RxHandlerConsumed: the handler took the frame and owns it: it
	// must free it, now or later (RX_HANDLER_CONSUMED).
	RxHandlerConsumed
)

// ErrRxHandlerBusy: the device already has an rx handler
// (netdev_rx_handler_register's -EBUSY).
var ErrRxHandlerBusy = errors.New("device already has an rx handler")

type rxHandler struct {
	fn func(b *skbuff.Buff) RxHandlerResult
}

// RegisterRxHandler installs fn as the device's rx handler
// (netdev_rx_handler_register): what a bridge port, a macvlan or a TAP
// bridge uses to take every frame the device receives, whatever its
// protocol. It runs in the bottom half after the taps and before the
// protocol handlers:
//
//	Rx ─► backlog ─► taps ─► rx handler ─┬─ Consumed: the handler owns b
//	                                     └─ Pass ─► handlers[b.Protocol]
//
// b comes as the driver delivered it, its link header pulled
// (EthTypeTrans); MACHeader has it. A device has at most one rx handler;
// a second gets ErrRxHandlerBusy, wrapped with the device's name. The
// returned function removes the handler; frames the bottom half is
// delivering at that moment may still reach fn.
func (d *Device) RegisterRxHandler(fn func(b *skbuff.Buff) RxHandlerResult) (unregister func(), err error) {
	if fn == nil {
		panic("netdev: RegisterRxHandler with a nil handler")
	}
	h := &rxHandler{fn: fn}
	if !d.rxh.CompareAndSwap(nil, h) {
		return nil, d.errorf("register rx handler", ErrRxHandlerBusy)
	}
	return func() { d.rxh.CompareAndSwap(h, nil) }, nil
}

// rxHandle offers b to the rx handler, reporting whether it took it.
func (d *Device) rxHandle(b *skbuff.Buff) bool {
	h := d.rxh.Load()
	return h != nil && h.fn(b) == RxHandlerConsumed
}
