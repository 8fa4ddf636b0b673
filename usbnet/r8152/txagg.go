package r8152

import (
	"dongle/skbuff"
	"dongle/usbnet"
)

var _ usbnet.TxAggregator = (*Driver)(nil)

// TxAggSize is agg_buf_sz: the largest TX transfer tx_agg_fill builds.
const TxAggSize = 16 * 1024

// TxAggLimits implements usbnet.TxAggregator: 16 KiB blocks, the
// framework's default timer for a block nobody fills (Linux instead
// sends what the queue holds when its tasklet runs).
func (*Driver) TxAggLimits(*usbnet.Dev) usbnet.TxAggLimits {
	return usbnet.TxAggLimits{Size: TxAggSize}
}

// TxAggBegin implements usbnet.TxAggregator: a block has no header of its
// own; each frame carries its descriptor.
func (*Driver) TxAggBegin(*usbnet.Dev, *skbuff.Buff) {}

// TxAggAdd implements usbnet.TxAggregator (tx_agg_fill's loop body): pad
// to TX_ALIGN, the tx_desc, the frame. The block is full when what is
// left cannot take a minimum frame with its descriptor (tx_agg_fill's
// "remain < ETH_ZLEN + sizeof(tx_desc)").
func (*Driver) TxAggAdd(_ *usbnet.Dev, agg, frame *skbuff.Buff) (bool, error) {
	return AggAdd(agg, frame.Data(), TxAggSize)
}

// AggAdd appends one frame to the block agg of at most size bytes, as
// TxAggAdd does (exported for device models' and tests' own blocks).
func AggAdd(agg *skbuff.Buff, f []byte, size int) (bool, error) {
	start := align4(agg.Len())
	end := start + TxDescLen + len(f)
	switch {
	case len(f) == 0:
		return false, ErrTxZero
	case len(f) > int(TxLenMax):
		return false, ErrTxTooLong
	case end > size:
		return false, usbnet.ErrTxAggFull
	}
	b := agg.Put(end - agg.Len())
	pad := start - (agg.Len() - len(b))
	clear(b[:pad])
	PutTxDesc(b[pad:], len(f))
	copy(b[pad+TxDescLen:], f)
	return size-align4(end) < ethZLen+TxDescLen, nil
}

// TxAggEnd implements usbnet.TxAggregator: nothing to finish (the block
// ends right after its last frame, as tx_agg_fill leaves it).
func (*Driver) TxAggEnd(*usbnet.Dev, *skbuff.Buff) error { return nil }
