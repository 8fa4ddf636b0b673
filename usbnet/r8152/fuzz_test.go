package r8152_test

import (
	"bytes"
	"errors"
	"testing"

	"dongle/usbnet/r8152"
)

// FuzzWalk: whatever a transfer holds, Walk reads nothing outside it,
// hands out only frames inside it, and a transfer rebuilt from the frames
// it found walks to the same frames without error.
func FuzzWalk(f *testing.F) {
	f.Add(rxTransfer(ethFrame(60, fakeMAC, peer, 1)))
	f.Add(rxTransfer(ethFrame(61, fakeMAC, peer, 1), ethFrame(1514, fakeMAC, peer, 2)))
	f.Add(make([]byte, 25))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, p []byte) {
		var frames [][]byte
		c, err := r8152.Walk(p, func(fr r8152.Frame) {
			if fr.Off < r8152.RxDescLen || fr.Len < 56 || fr.Off+fr.Len+r8152.FCSLen > len(p) || (fr.Off-r8152.RxDescLen)%8 != 0 {
				t.Fatalf("frame %+v outside a %d-byte transfer", fr, len(p))
			}
			frames = append(frames, p[fr.Off:fr.Off+fr.Len])
		})
		if c.Frames != len(frames) {
			t.Fatalf("counted %d frames, handed out %d", c.Frames, len(frames))
		}
		if errors.Is(err, r8152.ErrRxTrailing) && c.Trailing == 0 {
			t.Fatalf("ErrRxTrailing without trailing bytes")
		}
		if len(frames) == 0 {
			return
		}
		q := rxTransfer(frames...)
		var again [][]byte
		if _, err := r8152.Walk(q, func(fr r8152.Frame) { again = append(again, q[fr.Off:fr.Off+fr.Len]) }); err != nil {
			t.Fatalf("rebuilt transfer: %v", err)
		}
		if len(again) != len(frames) {
			t.Fatalf("rebuilt transfer: %d frames, want %d", len(again), len(frames))
		}
		for i := range again {
			if !bytes.Equal(again[i], frames[i]) {
				t.Fatalf("frame %d differs after the round trip", i)
			}
		}
	})
}

// FuzzUnframeTx: the same for TX transfers, with a capture cut anywhere.
func FuzzUnframeTx(f *testing.F) {
	f.Add(txTransfer(ethFrame(61, peer, fakeMAC, 1), ethFrame(1514, peer, fakeMAC, 2)), 0)
	f.Add([]byte{0, 0, 0, 0xc0, 0, 0, 0, 0}, 3)
	f.Fuzz(func(t *testing.T, p []byte, cut int) {
		length := len(p)
		if cut > 0 && cut < len(p) {
			p = p[:cut]
		}
		var frames [][]byte
		whole := true
		err := drv.UnframeTx(nil, p, length, func(d []byte, n int) {
			if len(d) > n || n <= 0 || n > length {
				t.Fatalf("frame of %d captured bytes, length %d, in a %d-byte transfer", len(d), n, length)
			}
			if len(d) < n {
				whole = false
			}
			frames = append(frames, append([]byte(nil), d...))
		})
		if err != nil || !whole || len(frames) == 0 || len(p) < length {
			return
		}
		q := txTransfer(frames...)
		var again [][]byte
		if err := drv.UnframeTx(nil, q, len(q), func(d []byte, n int) { again = append(again, d) }); err != nil || len(again) != len(frames) {
			t.Fatalf("rebuilt transfer: %v, %d frames, want %d", err, len(again), len(frames))
		}
		for i := range again {
			if !bytes.Equal(again[i], frames[i]) {
				t.Fatalf("frame %d differs after the round trip", i)
			}
		}
	})
}

// FuzzDescriptors: what PutRxDesc/PutTxDesc write, the parsers read back,
// and the parsers take any 24 or 8 bytes.
func FuzzDescriptors(f *testing.F) {
	f.Add(make([]byte, 24), 64, uint32(0), uint32(0))
	f.Add(bytes.Repeat([]byte{0xff}, 24), 0x7fff, uint32(1<<19|1<<23), uint32(1<<22))
	f.Fuzz(func(t *testing.T, raw []byte, n int, o2, o3 uint32) {
		if len(raw) >= r8152.RxDescLen {
			d := r8152.ParseRxDesc(raw)
			if d.Len() < 0 || d.Len() > 0x7fff {
				t.Fatalf("length %d", d.Len())
			}
			_ = d.CsumOK()
		}
		if len(raw) >= r8152.TxDescLen {
			_ = r8152.ParseTxDesc(raw).Check()
		}
		if n <= 0 || n > 0x7fff {
			return
		}
		b := make([]byte, r8152.RxDescLen)
		r8152.PutRxDesc(b, n, o2, o3)
		if d := r8152.ParseRxDesc(b); d.Len() != n&0x7fff || d.Opts2 != o2 || d.Opts3 != o3 {
			t.Fatalf("rx_desc round trip: %+v for %d %#x %#x", d, n, o2, o3)
		}
		tb := make([]byte, r8152.TxDescLen)
		r8152.PutTxDesc(tb, n)
		if d := r8152.ParseTxDesc(tb); d.Len() != n || d.Check() != nil || d.Opts2 != 0 {
			t.Fatalf("tx_desc round trip: %+v for %d", d, n)
		}
	})
}
