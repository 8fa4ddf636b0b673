package r8152_test

import (
	"bytes"
	"errors"
	"testing"

	"dongle/skbuff"
	"dongle/usbnet"
	"dongle/usbnet/r8152"
)

func TestAggAddBuildsWhatUnframeTxReads(t *testing.T) {
	agg := skbuff.Alloc(r8152.TxAggSize + 1)
	defer agg.Free(skbuff.FreeWrite)
	var sent [][]byte
	// Odd lengths, so every frame after the first needs alignment padding.
	for i, n := range []int{61, 1514, 63, 99} {
		f := ethFrame(n, peer, fakeMAC, byte(i))
		full, err := r8152.AggAdd(agg, f, r8152.TxAggSize)
		if err != nil || full {
			t.Fatalf("frame %d: full %v err %v", i, full, err)
		}
		sent = append(sent, f)
	}
	want := txTransfer(sent...)
	if !bytes.Equal(agg.Data(), want) {
		t.Fatalf("block differs from tx_agg_fill's layout (%d vs %d bytes)", agg.Len(), len(want))
	}
	var got [][]byte
	if err := drv.UnframeTx(nil, agg.Data(), agg.Len(), func(d []byte, n int) { got = append(got, append([]byte(nil), d...)) }); err != nil || len(got) != 4 {
		t.Fatalf("unframe: %v, %d frames", err, len(got))
	}
}

func TestAggAddFullAndTooBig(t *testing.T) {
	const size = 2048
	agg := skbuff.Alloc(size + 1)
	defer agg.Free(skbuff.FreeWrite)
	f := ethFrame(1000, peer, fakeMAC, 1)
	if full, err := r8152.AggAdd(agg, f, size); err != nil || full {
		t.Fatalf("first: %v %v", full, err)
	}
	// 1008 + align4 → 1008; second 1000-byte frame ends at 2016: 32 bytes left,
	// less than ETH_ZLEN + 8: full.
	if full, err := r8152.AggAdd(agg, f, size); err != nil || !full || agg.Len() != 2016 {
		t.Fatalf("second: full %v err %v len %d, want full at 2016", full, err, agg.Len())
	}
	before := agg.Len()
	if _, err := r8152.AggAdd(agg, f, size); err != usbnet.ErrTxAggFull || agg.Len() != before {
		t.Errorf("third: %v (len %d→%d), want ErrTxAggFull unwrapped and nothing written", err, before, agg.Len())
	}
	empty := skbuff.Alloc(16)
	defer empty.Free(skbuff.FreeWrite)
	if _, err := r8152.AggAdd(empty, nil, size); !errors.Is(err, r8152.ErrTxZero) || empty.Len() != 0 {
		t.Errorf("empty frame: %v", err)
	}
	// Exactly filling: 2040-byte frame + 8 = 2048.
	exact := skbuff.Alloc(size + 1)
	defer exact.Free(skbuff.FreeWrite)
	if full, err := r8152.AggAdd(exact, ethFrame(2040, peer, fakeMAC, 2), size); err != nil || !full || exact.Len() != size {
		t.Errorf("exact fit: %v %v %d", full, err, exact.Len())
	}
}

func TestTxAggregatesFramesOnTheWire(t *testing.T) {
	r := newRig(t, fakeOpts{})
	r.open()
	const n = 40
	for i := 0; i < n; i++ {
		r.xmit(ethFrame(1000, peer, r.mac(), byte(i)))
	}
	r.eventually("TX frames", func() bool { return len(r.chip.frames()) == n })
	for i, f := range r.chip.frames() {
		if !bytes.Equal(f, ethFrame(1000, peer, r.mac(), byte(i))) {
			t.Fatalf("frame %d differs or out of order", i)
		}
	}
	r.chip.mu.Lock()
	transfers := len(r.chip.out)
	r.chip.mu.Unlock()
	if blocks := r.dev.Counters().TxAggregates.Load(); int(blocks) > transfers || blocks == 0 {
		t.Errorf("%d blocks counted, %d transfers seen", blocks, transfers)
	}
	if transfers >= n {
		t.Errorf("%d transfers for %d frames sent back to back: no aggregation", transfers, n)
	}
	if v := r.chip.violations(); len(v) > 0 {
		t.Errorf("violations: %v", v)
	}
}
