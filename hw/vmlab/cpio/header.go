package cpio

import (
	"errors"
	"fmt"
	"io/fs"
)

// Mode bits of the c_mode field (the S_IF* values of stat(2)).
const (
	TypeMask   = 0o170000
	TypeSocket = 0o140000
	TypeLink   = 0o120000 // symbolic link: data is the target
	TypeReg    = 0o100000
	TypeBlock  = 0o060000
	TypeDir    = 0o040000
	TypeChar   = 0o020000
	TypeFIFO   = 0o010000
)

const (
	magicNewc = "070701"
	magicCRC  = "070702"
	headerLen = 110
	trailer   = "TRAILER!!!"
	// maxName bounds names a Reader accepts; PATH_MAX on Linux.
	maxName = 4096
)

// Header describes one archive member.
type Header struct {
	Name     string // path inside the archive, without a leading "/" (a leading "/" is stripped on write)
	Mode     uint32 // type and permission bits, e.g. TypeReg|0o755
	UID, GID uint32
	Mtime    int64  // seconds since the epoch
	Size     int64  // length of the data that follows (for a symlink: the target's length)
	Devmajor uint32 // for device nodes
	Devminor uint32
	Linkname string // symlink target (Reader fills it; Writer.Symlink takes it as an argument)
	Ino      uint32 // Reader: as stored; Writer assigns its own
}

// FileMode converts Mode to an fs.FileMode, for printing and comparison.
func (h *Header) FileMode() fs.FileMode {
	m := fs.FileMode(h.Mode & 0o777)
	switch h.Mode & TypeMask {
	case TypeDir:
		m |= fs.ModeDir
	case TypeLink:
		m |= fs.ModeSymlink
	case TypeChar:
		m |= fs.ModeDevice | fs.ModeCharDevice
	case TypeBlock:
		m |= fs.ModeDevice
	case TypeFIFO:
		m |= fs.ModeNamedPipe
	case TypeSocket:
		m |= fs.ModeSocket
	}
	return m
}

// ErrHeader is wrapped by every error about a malformed member header.
var ErrHeader = errors.New("cpio: invalid header")

// ErrTruncated is wrapped when the archive ends inside a member or before
// its trailer.
var ErrTruncated = errors.New("cpio: truncated archive")

// ErrWriteTooLong is returned when more data is written to a member than
// its header announced.
var ErrWriteTooLong = errors.New("cpio: write too long")

func pad4(n int64) int64 { return (4 - n%4) % 4 }

func headerError(name string, format string, args ...any) error {
	if name == "" {
		return fmt.Errorf("%w: %s", ErrHeader, fmt.Sprintf(format, args...))
	}
	return fmt.Errorf("%w: member %q: %s", ErrHeader, name, fmt.Sprintf(format, args...))
}
