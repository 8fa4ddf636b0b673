package ffs

import (
	"encoding/binary"
	"fmt"
	"path/filepath"
	"unsafe"

	"golang.org/x/sys/unix"
)

// File is one FunctionFS file as the bridge uses it. Read and Write must
// reach the kernel even for empty buffers: a zero-length read or write on
// ep0 acknowledges or stalls a request, and on an IN endpoint a zero-length
// write is a ZLP (os.File skips the system call for those, so the real
// implementation works on the descriptor).
type File interface {
	Read(p []byte) (int, error)
	Write(p []byte) (int, error)
	Close() error
}

// Function is a FunctionFS instance: its ep0 and its endpoint files
// (epK, K from 1, in descriptor order), which exist only after the
// descriptors and strings were written to ep0.
type Function interface {
	EP0() (File, error)
	Endpoint(k int) (File, error)
}

// HostAddresser is implemented by endpoint files that can tell the
// endpoint address the UDC gave them (FUNCTIONFS_ENDPOINT_DESC).
type HostAddresser interface {
	HostAddress() (uint8, error)
}

// PacketSizer is implemented by endpoint files that can tell the
// endpoint's wMaxPacketSize at the speed the host connected at
// (FUNCTIONFS_ENDPOINT_DESC answers with that speed's descriptor).
type PacketSizer interface {
	MaxPacket() (int, error)
}

// Mount is the FunctionFS instance mounted at a directory
// (mount -t functionfs NAME DIR).
type Mount string

var _ Function = Mount("")

// EP0 opens DIR/ep0.
func (m Mount) EP0() (File, error) { return openFD(filepath.Join(string(m), "ep0"), unix.O_RDWR) }

// Endpoint opens DIR/epK.
func (m Mount) Endpoint(k int) (File, error) {
	return openFD(filepath.Join(string(m), fmt.Sprintf("ep%d", k)), unix.O_RDWR)
}

func openFD(path string, mode int) (*fdFile, error) {
	fd, err := unix.Open(path, mode|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("ffs: open %s: %w", path, err)
	}
	return &fdFile{fd: fd, path: path}, nil
}

// fdFile is a FunctionFS file used through its descriptor.
type fdFile struct {
	fd   int
	path string
}

var (
	_ File          = (*fdFile)(nil)
	_ HostAddresser = (*fdFile)(nil)
	_ PacketSizer   = (*fdFile)(nil)
)

func (f *fdFile) Read(p []byte) (int, error) {
	for {
		n, err := unix.Read(f.fd, p)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return 0, fmt.Errorf("ffs: read %s: %w", f.path, err)
		}
		return n, nil
	}
}

func (f *fdFile) Write(p []byte) (int, error) {
	for {
		n, err := unix.Write(f.fd, p)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return 0, fmt.Errorf("ffs: write %s: %w", f.path, err)
		}
		return n, nil
	}
}

func (f *fdFile) Close() error { return unix.Close(f.fd) }

// functionfsEndpointDesc is FUNCTIONFS_ENDPOINT_DESC:
// _IOR('g', 130, struct usb_endpoint_descriptor), the struct being 9 bytes
// packed (bRefresh and bSynchAddress included).
const functionfsEndpointDesc = 2<<30 | 9<<16 | 'g'<<8 | 130

// endpointDesc is FUNCTIONFS_ENDPOINT_DESC: the endpoint descriptor for
// the speed the host connected at.
func (f *fdFile) endpointDesc() ([9]byte, error) {
	var d [9]byte
	_, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(f.fd), functionfsEndpointDesc, uintptr(unsafe.Pointer(&d[0])))
	if e != 0 {
		return d, fmt.Errorf("ffs: FUNCTIONFS_ENDPOINT_DESC on %s: %w", f.path, e)
	}
	return d, nil
}

// HostAddress implements HostAddresser.
func (f *fdFile) HostAddress() (uint8, error) {
	d, err := f.endpointDesc()
	return d[2], err
}

// MaxPacket implements PacketSizer.
func (f *fdFile) MaxPacket() (int, error) {
	d, err := f.endpointDesc()
	return int(binary.LittleEndian.Uint16(d[4:]) & 0x7ff), err
}
