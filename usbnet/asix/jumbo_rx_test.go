package asix

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"

	"dongle/skbuff"
)

// TestRxJumboWideLength: with the AX88178's 16-bit length (LenMask 0xffff)
// jumbo records are deframed whole, split across 2 KiB transfers; a
// well-formed header announcing one byte more than MaxLen is refused
// before anything is allocated; and the 11-bit default would have misread
// the same stream (so the wide mask is what makes jumbo work).
func TestRxJumboWideLength(t *testing.T) {
	defer checkLive(t)
	for _, n := range []int{1515, 2047, 2048, 4000, 9018, 16380} {
		f := frame(n, byte(n))
		stream := append(record(f), record(frame(60, 9))...)
		d := Deframer{MaxLen: 16380, LenMask: 0xffff}
		var q skbuff.Queue
		for off := 0; off < len(stream); off += 2048 {
			if err := d.Feed(stream[off:min(off+2048, len(stream))], &q); err != nil {
				t.Fatalf("%d bytes: transfer at %d: %v", n, off, err)
			}
		}
		got := drain(t, &q)
		if len(got) != 2 || !bytes.Equal(got[0], f) || len(got[1]) != 60 {
			t.Fatalf("%d bytes: got %d frames (first %d bytes)", n, len(got), len(got[0]))
		}
		if d.Partial() {
			t.Fatalf("%d bytes: state left over", n)
		}
	}

	// One byte over MaxLen: ErrOversize, counted, nothing queued or held.
	d := Deframer{MaxLen: 9018, LenMask: 0xffff}
	var q skbuff.Queue
	live := skbuff.Live()
	err := d.Feed(record(frame(9019, 1))[:2048], &q)
	var fe *FrameError
	if !errors.Is(err, ErrOversize) || !errors.As(err, &fe) || fe.Header != TxHeader(9019) {
		t.Fatalf("9019 bytes at MaxLen 9018: err %v", err)
	}
	if q.Len() != 0 || d.Partial() || skbuff.Live() != live || d.Stats.Oversize.Load() != 1 {
		t.Fatalf("oversize record left state: queued %d partial %v live %d oversize %d", q.Len(), d.Partial(), skbuff.Live()-live, d.Stats.Oversize.Load())
	}

	// A complement that differs only above bit 10 is a bad header for the
	// 16-bit reading (FreeBSD: len ^ ilen must be 0xffff).
	h := TxHeader(100) ^ 0x08000000
	bad := binary.LittleEndian.AppendUint32(nil, h)
	bad = append(bad, frame(100, 1)...)
	if err := d.Feed(bad, &q); !errors.Is(err, ErrBadHeader) {
		t.Fatalf("complement differing in bit 27: err %v, want ErrBadHeader", err)
	}

	// The 11-bit reading of a 4000-byte record takes 4000&0x7ff = 1952
	// bytes and loses the stream: the wide mask is needed.
	var narrow Deframer
	narrow.MaxLen = 16380
	rec := append(record(frame(4000, 3)), record(frame(60, 4))...)
	err = narrow.Feed(rec, &q)
	got := drain(t, &q)
	if err == nil && len(got) == 2 && len(got[0]) == 4000 {
		t.Fatal("the 11-bit default deframed a 4000-byte record: the test would not tell the masks apart")
	}
	narrow.Reset()
}

// TestTxFrameMax: FrameMax frames up to its limit and refuses one byte
// more; Frame keeps the 11-bit field's limit.
func TestTxFrameMax(t *testing.T) {
	defer checkLive(t)
	b := skbuff.Alloc(9018 + 4)
	defer b.Free(skbuff.FreeWrite)
	b.Put(9018)
	if err := Frame(b, 512); !errors.Is(err, ErrTxFrame) {
		t.Fatalf("Frame of 9018 bytes: %v, want ErrTxFrame", err)
	}
	if err := FrameMax(b, 512, 9017); !errors.Is(err, ErrTxFrame) || b.Len() != 9018 {
		t.Fatalf("FrameMax over the limit: %v (len %d)", err, b.Len())
	}
	if err := FrameMax(b, 512, 9018); err != nil {
		t.Fatalf("FrameMax at the limit: %v", err)
	}
	if h := binary.LittleEndian.Uint32(b.Data()); h != TxHeader(9018) || b.Len() != 9022 {
		t.Fatalf("header %#08x len %d, want %#08x and 9022", h, b.Len(), TxHeader(9018))
	}
}
