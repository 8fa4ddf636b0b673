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

// TestAllocUninit: Alloc's shape (Pad of headroom, size of tailroom, the
// class that holds both, counted live) without the clearing: a chunk that
// comes back from the free list still holds what it held, while AllocRaw
// clears the same chunk. Under -race the pools keep no free list, so the
// same chunk may not come back; the shape is checked either way.
func TestAllocUninit(t *testing.T) {
	live0 := Live()
	b := AllocUninit(1000)
	if b.Headroom() != Pad || b.Len() != 0 || b.Tailroom() != 1000 {
		t.Fatalf("AllocUninit(1000): headroom %d, len %d, tailroom %d; want %d, 0, 1000", b.Headroom(), b.Len(), b.Tailroom(), Pad)
	}
	if got, want := b.Truesize(), 2048+headerSize; got != want {
		t.Fatalf("AllocUninit(1000): Truesize %d, want %d", got, want)
	}
	if Live() != live0+1 {
		t.Fatalf("Live %d after AllocUninit, want %d", Live(), live0+1)
	}
	for i := range b.c.mem {
		b.c.mem[i] = 0xa5
	}
	old := b.c
	b.Free(FreeWrite)

	u := AllocUninit(1000)
	if u.c == old {
		if p := u.Put(1000); p[0] != 0xa5 || p[999] != 0xa5 {
			t.Errorf("AllocUninit cleared a pooled chunk: Put gave % x ... % x, want a5 (what it held)", p[0], p[999])
		}
	} else if !raceBuild {
		t.Fatal("the free list did not give the chunk just freed back")
	}
	u.Free(FreeRead)
	r := AllocRaw(Pad + 1000)
	defer r.Free(FreeRead)
	if r.c == old {
		if p := r.Put(Pad + 1000); p[0] != 0 || p[Pad+999] != 0 {
			t.Errorf("AllocRaw did not clear a pooled chunk: % x ... % x", p[0], p[Pad+999])
		}
	} else if !raceBuild {
		t.Fatal("the free list did not give the chunk just freed back")
	}
	if Live() != live0+1 {
		t.Fatalf("Live %d, want %d", Live(), live0+1)
	}
}

func TestAllocUninitNegative(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("AllocUninit(-1) did not panic")
		}
	}()
	AllocUninit(-1)
}
