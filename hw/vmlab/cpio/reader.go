package cpio

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
)

// Reader reads a newc (or newc-with-CRC) archive member by member, like
// archive/tar's Reader: Next returns the next header, Read the member's data.
type Reader struct {
	r         *bufio.Reader
	off       int64
	remaining int64 // unread data of the current member
	padding   int64
	done      bool
	name      string
}

// NewReader returns a Reader reading the archive from r.
func NewReader(r io.Reader) *Reader { return &Reader{r: bufio.NewReader(r)} }

// Next advances to the next member and returns its header. At the trailer it
// returns io.EOF. A stream that ends before the trailer gives ErrTruncated; a
// malformed header gives ErrHeader (both wrapped, naming the member).
func (r *Reader) Next() (*Header, error) {
	if r.done {
		return nil, io.EOF
	}
	if _, err := r.skip(r.remaining + r.padding); err != nil {
		return nil, fmt.Errorf("%w: inside data of member %q", ErrTruncated, r.name)
	}
	r.remaining, r.padding = 0, 0
	var hdr [headerLen]byte
	if _, err := r.read(hdr[:]); err != nil {
		return nil, fmt.Errorf("%w: header at offset %d (after %q): %v", ErrTruncated, r.off, r.name, err)
	}
	magic := string(hdr[:6])
	if magic != magicNewc && magic != magicCRC {
		return nil, headerError("", "bad magic %q at offset %d (want %s)", magic, r.off-headerLen, magicNewc)
	}
	var f [13]uint32
	for i := range f {
		v, err := strconv.ParseUint(string(hdr[6+8*i:14+8*i]), 16, 32)
		if err != nil {
			return nil, headerError("", "field %d at offset %d is not hex: %q", i, r.off-headerLen, hdr[6+8*i:14+8*i])
		}
		f[i] = uint32(v)
	}
	namesize := int64(f[11])
	if namesize < 1 || namesize > maxName {
		return nil, headerError("", "name size %d at offset %d", namesize, r.off-headerLen)
	}
	nameBuf := make([]byte, namesize+pad4(headerLen+namesize))
	if _, err := r.read(nameBuf); err != nil {
		return nil, fmt.Errorf("%w: name at offset %d: %v", ErrTruncated, r.off, err)
	}
	if nameBuf[namesize-1] != 0 {
		return nil, headerError(string(nameBuf[:namesize]), "name is not NUL-terminated")
	}
	h := &Header{
		Name: string(nameBuf[:namesize-1]), Ino: f[0], Mode: f[1], UID: f[2], GID: f[3],
		Mtime: int64(f[5]), Size: int64(f[6]), Devmajor: f[9], Devminor: f[10],
	}
	r.name = h.Name
	if h.Name == trailer {
		r.done = true
		return nil, io.EOF
	}
	r.remaining, r.padding = h.Size, pad4(h.Size)
	if h.Mode&TypeMask == TypeLink {
		if h.Size > maxName {
			return nil, headerError(h.Name, "symlink target of %d bytes", h.Size)
		}
		t := make([]byte, h.Size)
		if _, err := io.ReadFull(r, t); err != nil {
			return nil, fmt.Errorf("%w: symlink target of %q: %v", ErrTruncated, h.Name, err)
		}
		h.Linkname = string(t)
	}
	return h, nil
}

// Read reads data of the current member; io.EOF at its end.
func (r *Reader) Read(p []byte) (int, error) {
	if r.remaining == 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > r.remaining {
		p = p[:r.remaining]
	}
	n, err := r.r.Read(p)
	r.off += int64(n)
	r.remaining -= int64(n)
	if err == io.EOF {
		return n, fmt.Errorf("%w: data of member %q: %d bytes missing", ErrTruncated, r.name, r.remaining)
	}
	return n, err
}

func (r *Reader) read(p []byte) (int, error) {
	n, err := io.ReadFull(r.r, p)
	r.off += int64(n)
	return n, err
}

func (r *Reader) skip(n int64) (int64, error) {
	m, err := r.r.Discard(int(n))
	r.off += int64(m)
	return int64(m), err
}
