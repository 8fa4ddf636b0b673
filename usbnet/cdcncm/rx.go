package cdcncm

import (
	"dongle/skbuff"
	"dongle/usbnet"
)

// DefaultCopyBreak is the datagram length up to which RxFixup copies a
// datagram into a pooled buffer of its own; longer ones share the NTB's
// buffer (an skbuff clone, Pulled and Trimmed to the datagram: no copy).
//
// Why not always share: a clone pins the whole NTB (16 KiB, a 16 KiB size
// class) and its Truesize says so, so a socket holding a 60-byte frame
// would be charged 16 KiB, and one slow reader could keep many NTBs
// alive. Linux copies every datagram for that reason ("create a fresh
// copy to reduce truesize"). Small frames are cheap to copy; above the
// break the copy costs more than the pinned memory is worth. The same
// trade as ax88179's RX (see its package doc). BenchmarkRxFixup on the
// 2-core CI machine, one 16 KiB NTB per op, 0 allocs/op throughout:
//
//	10 × 1514-byte frames, shared (default)   524 ns/frame  2.9 GB/s
//	10 × 1514-byte frames, copied            1605 ns/frame  0.95 GB/s
//	200 × 64-byte frames, copied (default)    244 ns/frame
//	200 × 64-byte frames, shared              770 ns/frame
//
// (A clone's bookkeeping costs more than copying 64 bytes.)
const DefaultCopyBreak = 256

// RxFixup implements usbnet.Minidriver (cdc_ncm_rx_fixup): the Reader
// walks the NTB and each good datagram goes up as a clone of b or a copy
// (CopyBreak). b is freed here; clones keep its chunk alive. An NTB that
// lost data counts once in rx_errors and rx_frame_errors (the anomaly
// itself in RxCounters) and its error is returned; the datagrams found
// before it are delivered. Nothing is allocated in steady state.
func (dr *Driver) RxFixup(d *usbnet.Dev, b *skbuff.Buff, out *skbuff.Queue) error {
	st := priv(d)
	_, err := dr.deliver(&st.rx, b, out)
	if err != nil {
		s := d.Net.Stats()
		s.RxErrors.Add(1)
		s.RxFrameErrors.Add(1)
	}
	return err
}

// deliver is RxFixup without the statistics.
func (dr *Driver) deliver(r *Reader, b *skbuff.Buff, out *skbuff.Queue) (int, error) {
	brk := dr.CopyBreak
	if brk == 0 {
		brk = DefaultCopyBreak
	}
	data := b.Data()
	n, err := r.Read(data, func(off, n int) {
		var nb *skbuff.Buff
		if n <= brk {
			nb = skbuff.AllocUninit(n + 2)
			nb.Reserve(2) // NET_IP_ALIGN
			nb.PutData(data[off : off+n])
		} else {
			nb = b.Clone()
			nb.Pull(off)
			nb.Trim(n)
		}
		out.QueueTail(nb)
	})
	b.Free(skbuff.FreeRead)
	return n, err
}
