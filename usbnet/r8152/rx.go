package r8152

import (
	"errors"

	"dongle/skbuff"
	"dongle/usbnet"
)

// DefaultCopyBreak is the frame length up to which RxFixup copies a frame
// into a pooled buffer of its own rather than cloning the transfer's: a
// clone pins the whole 16-32 KiB transfer (and its Truesize charges a
// socket for it), as in usbnet/ax88179.
const DefaultCopyBreak = 256

// RxFixup implements usbnet.Minidriver: it de-aggregates one bulk IN
// transfer (Walk) into frames on out. Frames above the copy break are
// clones of b Pulled and Trimmed to the frame (no copy); shorter ones are
// copied into pooled buffers with NET_IP_ALIGN headroom. b is freed here
// (the clones keep its chunk alive). The FCS is not delivered.
//
// A malformed transfer (runt descriptor, frame past the end) counts
// rx_errors and rx_length_errors once and returns the *RxError; a frame
// flagged RD_CRC counts rx_errors and rx_crc_errors. Bytes trailing the
// last frame are not an error (Linux ignores them). In steady state
// nothing is allocated: clones and copies come from skbuff's pools.
func (dr *Driver) RxFixup(d *usbnet.Dev, b *skbuff.Buff, out *skbuff.Queue) error {
	c, err := deaggregate(b, DefaultCopyBreak, out)
	st := d.Net.Stats()
	st.RxErrors.Add(uint64(c.CRC))
	st.RxCRCErrors.Add(uint64(c.CRC))
	if err != nil && !errors.Is(err, ErrRxTrailing) {
		st.RxErrors.Add(1)
		st.RxLengthErrors.Add(1)
		return err
	}
	return nil
}

// deaggregate queues b's frames on out and consumes b.
func deaggregate(b *skbuff.Buff, brk int, out *skbuff.Queue) (RxCounts, error) {
	data := b.Data()
	c, err := Walk(data, func(f Frame) {
		var nb *skbuff.Buff
		if f.Len <= brk {
			nb = skbuff.Alloc(f.Len + 2)
			nb.Reserve(2) // NET_IP_ALIGN
			nb.PutData(data[f.Off : f.Off+f.Len])
		} else {
			nb = b.Clone()
			nb.Pull(f.Off)
			nb.Trim(f.Len)
		}
		nb.CsumVerified = f.Desc.CsumOK()
		out.QueueTail(nb)
	})
	b.Free(skbuff.FreeRead)
	return c, err
}

// IsRxBoundsError reports whether err is one of RxFixup's malformed
// transfer errors.
func IsRxBoundsError(err error) bool {
	var e *RxError
	return errors.As(err, &e)
}
