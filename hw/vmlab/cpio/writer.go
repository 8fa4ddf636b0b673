package cpio

import (
	"bufio"
	"fmt"
	"io"
	"strings"
)

// Writer writes a newc archive. Use it like archive/tar's Writer: WriteHeader
// for each member, then Write exactly Size bytes of data, and Close to add the
// trailer. Dir, File and Symlink are shorthands for the common members.
//
// Invariant between calls: the underlying stream is positioned at a 4-byte
// boundary after the last complete member, or inside the data of the current
// member with remaining bytes still owed.
type Writer struct {
	w         *bufio.Writer
	off       int64 // bytes written so far (for padding)
	remaining int64 // data bytes still owed for the current member
	padding   int64 // padding owed after the current member's data
	name      string
	ino       uint32
	closed    bool
	err       error // sticky
}

// NewWriter returns a Writer that writes the archive to w. Close must be
// called to finish the archive; it does not close w.
func NewWriter(w io.Writer) *Writer {
	return &Writer{w: bufio.NewWriterSize(w, 64<<10), ino: 300000}
}

// WriteHeader starts a new member. The previous member must be complete.
// Name must be relative ("bin/sh"; a leading "/" is removed; "." is allowed
// for the root).
func (w *Writer) WriteHeader(h *Header) error {
	if w.err != nil {
		return w.err
	}
	if w.closed {
		return fmt.Errorf("cpio: WriteHeader(%q) after Close", h.Name)
	}
	if err := w.finishMember(); err != nil {
		return err
	}
	name := strings.TrimLeft(h.Name, "/")
	if name == "" {
		return headerError(h.Name, "empty name")
	}
	if name == trailer {
		return headerError(name, "name is reserved for the trailer")
	}
	if strings.IndexByte(name, 0) >= 0 {
		return headerError(name, "name contains NUL")
	}
	if h.Size < 0 || h.Size > 0xffffffff {
		return headerError(name, "size %d does not fit in 32 bits", h.Size)
	}
	if h.Mode&TypeMask == 0 {
		return headerError(name, "mode %#o has no file type", h.Mode)
	}
	w.ino++
	nlink := uint32(1)
	if h.Mode&TypeMask == TypeDir {
		nlink = 2
	}
	if err := w.writeRaw(name, h.Mode, h.UID, h.GID, nlink, h.Mtime, h.Size, h.Devmajor, h.Devminor, w.ino); err != nil {
		return err
	}
	w.name, w.remaining, w.padding = name, h.Size, pad4(h.Size)
	return nil
}

func (w *Writer) writeRaw(name string, mode, uid, gid, nlink uint32, mtime, size int64, rmaj, rmin, ino uint32) error {
	var hdr [headerLen]byte
	copy(hdr[:], magicNewc)
	fields := [...]uint32{
		ino, mode, uid, gid, nlink, uint32(mtime), uint32(size),
		0, 0, // c_devmajor, c_devminor: the filesystem the file came from
		rmaj, rmin,
		uint32(len(name) + 1), // c_namesize includes the NUL
		0,                     // c_check
	}
	const hexdig = "0123456789ABCDEF"
	for i, v := range fields {
		p := hdr[6+8*i : 14+8*i]
		for j := 7; j >= 0; j-- {
			p[j] = hexdig[v&0xf]
			v >>= 4
		}
	}
	if err := w.put(hdr[:]); err != nil {
		return err
	}
	if err := w.put([]byte(name)); err != nil {
		return err
	}
	return w.put(make([]byte, 1+pad4(w.off+1)))
}

// Write writes data of the current member. Writing more than the header's
// Size fails with ErrWriteTooLong.
func (w *Writer) Write(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	if int64(len(p)) > w.remaining {
		return 0, fmt.Errorf("%w: member %q: %d bytes left, %d given", ErrWriteTooLong, w.name, w.remaining, len(p))
	}
	if err := w.put(p); err != nil {
		return 0, err
	}
	w.remaining -= int64(len(p))
	return len(p), nil
}

func (w *Writer) finishMember() error {
	if w.remaining != 0 {
		w.err = fmt.Errorf("cpio: member %q: %d of its bytes were never written", w.name, w.remaining)
		return w.err
	}
	if w.padding != 0 {
		if err := w.put(make([]byte, w.padding)); err != nil {
			return err
		}
		w.padding = 0
	}
	return nil
}

func (w *Writer) put(p []byte) error {
	n, err := w.w.Write(p)
	w.off += int64(n)
	if err != nil {
		w.err = fmt.Errorf("cpio: write: %w", err)
	}
	return w.err
}

// Dir adds a directory with permission bits perm (e.g. 0o755).
func (w *Writer) Dir(name string, perm uint32) error {
	return w.WriteHeader(&Header{Name: name, Mode: TypeDir | perm&0o7777})
}

// File adds a regular file holding data.
func (w *Writer) File(name string, perm uint32, data []byte) error {
	if err := w.WriteHeader(&Header{Name: name, Mode: TypeReg | perm&0o7777, Size: int64(len(data))}); err != nil {
		return err
	}
	_, err := w.Write(data)
	return err
}

// Symlink adds a symbolic link name -> target.
func (w *Writer) Symlink(name, target string) error {
	if target == "" {
		return headerError(name, "empty symlink target")
	}
	if err := w.WriteHeader(&Header{Name: name, Mode: TypeLink | 0o777, Size: int64(len(target))}); err != nil {
		return err
	}
	_, err := w.Write([]byte(target))
	return err
}

// Close completes the current member, writes the trailer and flushes. It
// does not close the underlying writer. Closing twice is a no-op.
func (w *Writer) Close() error {
	if w.closed {
		return w.err
	}
	if err := w.finishMember(); err != nil {
		return err
	}
	w.closed = true
	if err := w.writeRaw(trailer, 0, 0, 0, 1, 0, 0, 0, 0, 0); err != nil {
		return err
	}
	if err := w.w.Flush(); err != nil {
		w.err = fmt.Errorf("cpio: flush: %w", err)
	}
	return w.err
}
