package r8152

import (
	"errors"
	"fmt"

	"dongle/skbuff"
	"dongle/usbnet"
)

// Errors of TX framing.
var (
	// ErrTxSegment: a descriptor without both TX_FS and TX_LS.
	ErrTxSegment = errors.New("descriptor is not a whole frame (TX_FS|TX_LS)")
	// ErrTxZero: a descriptor of length 0.
	ErrTxZero = errors.New("descriptor length 0")
	// ErrTxTooLong: a frame longer than TX_LEN_MAX.
	ErrTxTooLong = errors.New("frame longer than TX_LEN_MAX")
)

// TxFixup implements usbnet.Minidriver: it Pushes the 8-byte descriptor
// (PutTxDesc) into b's headroom, the one-frame transfer Linux's
// tx_agg_fill makes when one frame is queued. usbnet does not call it for
// this driver, which is a usbnet.TxAggregator (txagg.go: many frames per
// transfer); it stays the single-frame framing for tools and tests.
func (dr *Driver) TxFixup(d *usbnet.Dev, b *skbuff.Buff) error {
	n := b.Len()
	switch {
	case n > int(TxLenMax):
		return fmt.Errorf("r8152 tx: %d-byte frame: %w", n, ErrTxTooLong)
	case b.Headroom() < TxDescLen:
		return fmt.Errorf("r8152 tx: %d bytes of headroom, need %d for the descriptor", b.Headroom(), TxDescLen)
	case b.Cloned():
		return fmt.Errorf("r8152 tx: frame data is shared with a clone; the descriptor cannot be pushed in place")
	}
	PutTxDesc(b.Push(TxDescLen), n)
	return nil
}
