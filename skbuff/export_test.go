package skbuff

// HeaderSize exposes the per-buffer header cost added to Truesize.
const HeaderSize = headerSize
