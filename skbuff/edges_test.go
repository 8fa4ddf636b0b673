package skbuff_test

import (
	"bytes"
	"testing"

	"dongle/skbuff"
)

// TestZeroLengthOperations: a length of 0 is not misuse (Push, Put, Trim
// and Pull of nothing), and Trim to 0 empties the data.
func TestZeroLengthOperations(t *testing.T) {
	b := skbuff.AllocRaw(16)
	defer b.Free(skbuff.FreeRead)
	b.PutData([]byte("0123456789abcdef")) // tailroom now 0, headroom 0
	if p := b.Push(0); len(p) != 0 {
		t.Fatalf("Push(0) with no headroom returned %d bytes", len(p))
	}
	if p := b.Put(0); len(p) != 0 {
		t.Fatalf("Put(0) with no tailroom returned %d bytes", len(p))
	}
	b.Trim(16) // the length it has: nothing changes
	if b.Len() != 16 {
		t.Fatalf("Trim(Len) changed Len to %d", b.Len())
	}
	b.Trim(0)
	if b.Len() != 0 {
		t.Fatalf("Trim(0): Len %d, want 0", b.Len())
	}
}

// TestHeadersAtTheBufferEdges: a header may be marked at the very start of
// the buffer and at its tail; a network header with the transport header
// at the same place is empty.
func TestHeadersAtTheBufferEdges(t *testing.T) {
	b := skbuff.Alloc(32)
	defer b.Free(skbuff.FreeRead)
	b.PutData([]byte("ipv4-header-and-payload"))
	b.SetNetworkHeader(-skbuff.Pad) // offset 0 of the chunk
	if got := len(b.NetworkHeader()); got != skbuff.Pad+b.Len() {
		t.Fatalf("network header at the buffer's start spans %d bytes, want %d", got, skbuff.Pad+b.Len())
	}
	b.SetNetworkHeader(0)
	b.SetTransportHeader(0)
	if nh := b.NetworkHeader(); len(nh) != 0 {
		t.Fatalf("network header with the transport header at the same offset: %q, want empty", nh)
	}
	b.SetTransportHeader(b.Len()) // at tail
	if th := b.TransportHeader(); len(th) != 0 {
		t.Fatalf("transport header at tail: %q, want empty", th)
	}
	if nh := b.NetworkHeader(); !bytes.Equal(nh, b.Data()) {
		t.Fatalf("network header up to a transport header at tail: %q, want the data %q", nh, b.Data())
	}
}
