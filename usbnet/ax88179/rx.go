package ax88179

import (
	"errors"

	"dongle/skbuff"
	"dongle/usbnet"
)

// DefaultCopyBreak is the frame length up to which RxFixup copies a frame
// into a buffer of its own instead of cloning the transfer's buffer.
//
// Why a break at all: a clone shares the whole RX transfer's chunk (24 KiB
// at high-speed gigabit, a 32 KiB size class) and its Truesize says so,
// so a socket charged for a 60-byte frame would be charged 32 KiB (Linux
// copies every frame but the last for the same reason: rx_copybreak). The
// copy is cheap for small frames and gives back the big chunk as soon as
// the transfer's last frame is consumed; frames above the break are cloned
// (no copy). BenchmarkRxFixup* measure both paths; see README numbers in
// the package doc.
const DefaultCopyBreak = 256

// RxFixup implements usbnet.Minidriver: it de-aggregates one bulk IN
// transfer into frames on out (see Walk for the layout and the bounds it
// enforces). Frames longer than the copy break are clones of b trimmed to
// the frame (Pull to its start, Trim to its length: no payload copy);
// shorter ones are copied into pooled buffers. b itself is freed here
// unless a frame still shares it through a clone (the clones keep the
// chunk alive). Per-packet errors go to d.Net's statistics (RxCRCErrors,
// RxLengthErrors, RxDropped, all also in RxErrors); a malformed transfer
// counts RxErrors and RxLengthErrors once and returns the *RxError.
//
// In steady state RxFixup allocates nothing: clones and copies come from
// skbuff's pools.
func (dr *Driver) RxFixup(d *usbnet.Dev, b *skbuff.Buff, out *skbuff.Queue) error {
	p := privOf(d)
	ipe := true
	if p != nil {
		ipe = p.rxctl.Load()&uint32(RxCtlIPE) != 0
	}
	c, err := dr.deaggregate(b, ipe, out)
	st := d.Net.Stats()
	if n := c.Errors(); n > 0 {
		st.RxErrors.Add(uint64(n))
		st.RxCRCErrors.Add(uint64(c.CRC))
		st.RxLengthErrors.Add(uint64(c.Runts))
		st.RxDropped.Add(uint64(c.Dropped))
	}
	if err != nil {
		st.RxErrors.Add(1)
		st.RxLengthErrors.Add(1)
	}
	return err
}

// deaggregate is RxFixup without the statistics: it queues b's frames on
// out and consumes b.
func (dr *Driver) deaggregate(b *skbuff.Buff, ipe bool, out *skbuff.Queue) (RxCounts, error) {
	brk := dr.CopyBreak
	if brk == 0 {
		brk = DefaultCopyBreak
	}
	data := b.Data()
	c, err := Walk(data, ipe, func(f Frame) {
		var nb *skbuff.Buff
		if f.Len <= brk {
			nb = skbuff.Alloc(f.Len + 2)
			nb.Reserve(2) // NET_IP_ALIGN: the IP header lands 4-byte aligned
			nb.PutData(data[f.Off : f.Off+f.Len])
		} else {
			nb = b.Clone()
			nb.Pull(f.Off)
			nb.Trim(f.Len)
		}
		nb.CsumVerified = CsumOK(f.Hdr)
		out.QueueTail(nb)
	})
	b.Free(skbuff.FreeRead)
	return c, err
}

// IsRxBoundsError reports whether err is one of the malformed-transfer
// errors of RxFixup (all CVE-2022-48805 shapes).
func IsRxBoundsError(err error) bool {
	var e *RxError
	return errors.As(err, &e)
}
