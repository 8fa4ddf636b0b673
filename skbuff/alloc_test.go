package skbuff

import "testing"

// TestUnpooledChunkStaysOutOfThePools: a buffer larger than the last size
// class is allocated exactly and, once freed, is kept by no pool (a chunk
// put into a smaller class would hand out memory of the wrong size).
func TestUnpooledChunkStaysOutOfThePools(t *testing.T) {
	size := classes[len(classes)-1] + 1
	var idle [len(classes)]int
	for i, p := range chunkPools {
		idle[i] = p.idle()
	}
	b := AllocRaw(size)
	if b.c.class != -1 || len(b.c.mem) != size {
		t.Fatalf("AllocRaw(%d): chunk class %d of %d bytes, want class -1 of exactly %d", size, b.c.class, len(b.c.mem), size)
	}
	if got, want := b.Truesize(), size+headerSize; got != want {
		t.Fatalf("Truesize = %d, want %d", got, want)
	}
	b.Free(FreeRead)
	for i, p := range chunkPools {
		if p.idle() != idle[i] {
			t.Errorf("class %d (%d B) holds %d idle chunks after the free, had %d", i, classes[i], p.idle(), idle[i])
		}
	}
}

func TestAllocRawZeroSize(t *testing.T) {
	b := AllocRaw(0)
	defer b.Free(FreeRead)
	if b.Len() != 0 || b.Tailroom() != 0 || b.Headroom() != 0 {
		t.Fatalf("AllocRaw(0): len %d, headroom %d, tailroom %d; want all 0", b.Len(), b.Headroom(), b.Tailroom())
	}
	if got, want := b.Truesize(), classes[0]+headerSize; got != want {
		t.Fatalf("AllocRaw(0): Truesize %d, want the smallest class and a header, %d", got, want)
	}
}

// TestCopyTruesize: a copy pins its own chunk, of the class its size needs.
func TestCopyTruesize(t *testing.T) {
	b := Alloc(1000)
	defer b.Free(FreeRead)
	b.Put(1000)
	c := b.Copy()
	defer c.Free(FreeRead)
	if got, want := c.Truesize(), 2048+headerSize; got != want {
		t.Fatalf("Copy of a %d-byte buffer: Truesize %d, want %d", Pad+1000, got, want)
	}
}
