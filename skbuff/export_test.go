package skbuff

// HeaderSize exposes the per-buffer header cost added to Truesize.
const HeaderSize = headerSize

// Made is how many chunks and headers the pools have made (not reused).
func Made() uint64 {
	n := buffPool.made.Load()
	for _, p := range chunkPools {
		n += p.made.Load()
	}
	return n
}
