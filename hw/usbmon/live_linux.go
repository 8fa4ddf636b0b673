//go:build linux

package usbmon

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Live reads the Linux kernel's own USB traffic from a usbmon binary node,
// /dev/usbmonN (N the bus number; 0 every bus), as libpcap does, so no
// Wireshark is needed to record a device under the kernel's drivers.
//
//	kernel                                   Live
//	──────                                   ────
//	mon_bin_event ─► ring (RingSize) ─MON_IOCX_GETX─► buf: [mon_bin_hdr 64][data: len_cap ≤ alloc]
//	               └► cnt_lost++ when full ─MON_IOCG_STATS─► Dropped (read and reset by the kernel)
//
// Why GETX and not the mmap API (MON_IOCX_MFETCH): one copy per event into
// one Go buffer (header and data contiguous, so the event is a ready
// record) keeps the code free of mmap'd ring arithmetic and filler
// packets, and usbmon's own cap on an event's data (a fifth of the ring)
// keeps the copy small. GETX, unlike read(2), returns the 64-byte header
// (PKT_SZ_API1) with interval, start_frame, xfer_flags and ndesc.
//
// Invariant: buf holds any event whole. mon_bin_event sets len_cap to at
// most ring/5 data bytes plus ISODESC_MAX iso descriptors, and alloc is
// exactly that (maxEventData of the ring the kernel reports), so GETX never
// cuts an event. Without mmap the kernel allocates ring space with
// mon_buff_area_alloc, which never writes '@' filler events (only
// mon_buff_area_alloc_contiguous, used while the ring is mmap'd, does).
//
// Blocking: the node is opened O_NONBLOCK, so GETX on an empty ring fails
// with EAGAIN (mon_bin_wait_event) and Next waits in poll(2) on the node
// (mon_bin_poll: POLLIN when the ring is not empty) and on a wake-up pipe
// that a context.AfterFunc writes to when ctx is done. A blocking GETX
// could not be interrupted: closing the fd in another goroutine does not
// wake a thread sleeping in the ioctl (it holds its own file reference);
// only a signal would. So cancellation is prompt and leaves no goroutine or
// thread behind.
//
// A Live is used by one goroutine at a time.
type Live struct {
	path    string
	fd      int
	wake    [2]int         // pipe: [0] polled by Next, [1] written on cancellation
	fds     [2]unix.PollFd // poll set: the node, wake[0] (set once in setup)
	wakeUp  func()         // writes to wake[1]; context.AfterFunc runs it
	ring    int            // ring size the kernel reports
	buf     []byte         // one event: header then up to get.alloc data bytes
	get     monBinGet
	dropped uint64
	sys     monSys
	closed  bool
}

var _ Source = (*Live)(nil)

// monSys is the system-call seam: the kernel for real, a fake ring in
// tests (which need neither root nor the usbmon module).
type monSys interface {
	open(path string) (int, error)
	ioctl(fd int, req uintptr, arg unsafe.Pointer) error
	ioctlValue(fd int, req, value uintptr) (int, error)
	poll(fds []unix.PollFd, timeout int) (int, error)
	close(fd int) error
}

type kernelSys struct{}

func (kernelSys) open(path string) (int, error) {
	return unix.Open(path, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
}

func (kernelSys) ioctl(fd int, req uintptr, arg unsafe.Pointer) error {
	_, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), req, uintptr(arg))
	if e != 0 {
		return e
	}
	return nil
}

func (kernelSys) ioctlValue(fd int, req, value uintptr) (int, error) {
	r, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), req, value)
	if e != 0 {
		return 0, e
	}
	return int(r), nil
}

func (kernelSys) poll(fds []unix.PollFd, timeout int) (int, error) { return unix.Poll(fds, timeout) }
func (kernelSys) close(fd int) error                               { return unix.Close(fd) }

// LiveSupported reports whether this GOARCH uses the asm-generic ioctl
// encoding the ioctl numbers here are computed with (see ioctl.go) and is
// little-endian (the header is in host byte order; Decode reads it as
// little-endian).
func LiveSupported() bool {
	switch runtime.GOARCH {
	case "amd64", "386", "arm", "arm64", "riscv64", "loong64":
		return true
	}
	return false
}

// OpenLive opens /dev/usbmon<bus> (bus 0: every bus) and sets its ring
// size. It needs the usbmon module (modprobe usbmon) and read access to the
// node, which is root's alone by default.
func OpenLive(bus int, opts LiveOptions) (*Live, error) {
	return openLive(kernelSys{}, bus, opts)
}

func openLive(sys monSys, bus int, opts LiveOptions) (*Live, error) {
	path := opts.Path
	if path == "" {
		if bus < 0 {
			return nil, fmt.Errorf("usbmon: bus %d: want 0 (every bus) or a bus number", bus)
		}
		path = NodePath(bus)
	}
	if !LiveSupported() {
		return nil, &LiveError{path, "open", fmt.Errorf("%s: %w", runtime.GOARCH, errors.ErrUnsupported), "live capture supports little-endian asm-generic ioctl architectures"}
	}
	ring := opts.RingSize
	if ring == 0 {
		ring = RingMax
	}
	if ring < RingMin || ring > RingMax {
		return nil, fmt.Errorf("usbmon: ring size %d: want %d..%d bytes (mon_bin.c BUFF_MIN..BUFF_MAX)", ring, RingMin, RingMax)
	}
	fd, err := sys.open(path)
	if err != nil {
		return nil, openError(path, bus, err)
	}
	l := &Live{path: path, fd: fd, wake: [2]int{-1, -1}, sys: sys}
	if err := l.setup(ring); err != nil {
		l.Close()
		return nil, err
	}
	return l, nil
}

func (l *Live) setup(ring int) error {
	// MON_IOCT_RING_SIZE flushes the ring and zeroes the lost count, so it
	// comes before anything is read.
	if _, err := l.sys.ioctlValue(l.fd, monIOCTRingSize, uintptr(ring)); err != nil {
		return &LiveError{l.path, "MON_IOCT_RING_SIZE", err, fmt.Sprintf("ring of %d bytes", ring)}
	}
	got, err := l.sys.ioctlValue(l.fd, monIOCQRingSize, 0)
	if err != nil {
		return &LiveError{l.path, "MON_IOCQ_RING_SIZE", err, ""}
	}
	if got < ring || got > 2*RingMax {
		return &LiveError{l.path, "MON_IOCQ_RING_SIZE", fmt.Errorf("kernel reports a ring of %d bytes after asking for %d", got, ring), ""}
	}
	l.ring = got
	alloc := maxEventData(got)
	l.buf = make([]byte, HeaderLenMmapped+alloc)
	l.get = monBinGet{hdr: unsafe.Pointer(&l.buf[0]), data: unsafe.Pointer(&l.buf[HeaderLenMmapped]), alloc: uintptr(alloc)}
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_NONBLOCK|unix.O_CLOEXEC); err != nil {
		return fmt.Errorf("usbmon: wake-up pipe for %s: %w", l.path, err)
	}
	l.wake = p
	// Built once so that a wait on an empty ring allocates no poll set
	// and no closure of its own.
	l.fds = [2]unix.PollFd{{Fd: int32(l.fd), Events: unix.POLLIN}, {Fd: int32(p[0]), Events: unix.POLLIN}}
	l.wakeUp = func() { unix.Write(l.wake[1], wakeByte[:]) }
	return nil
}

// wakeByte is what wakeUp writes to the pipe.
var wakeByte = [1]byte{1}

// usbmonLoaded reports whether the usbmon module is in the kernel; tests
// replace it to reach each hint of openError.
var usbmonLoaded = func() bool {
	_, err := os.Stat("/sys/module/usbmon")
	return err == nil
}

// openError explains why a usbmon node did not open.
func openError(path string, bus int, err error) error {
	hint := ""
	switch {
	case errors.Is(err, unix.ENOENT):
		if !usbmonLoaded() {
			hint = "the usbmon module is not loaded: run 'modprobe usbmon'"
		} else if bus > 0 {
			hint = fmt.Sprintf("usbmon is loaded but there is no bus %d: see /sys/bus/usb/devices/usb%d, or use bus 0 for every bus", bus, bus)
		} else {
			hint = "usbmon is loaded but the node is missing: is devtmpfs mounted on /dev?"
		}
	case errors.Is(err, unix.EACCES), errors.Is(err, unix.EPERM):
		hint = fmt.Sprintf("%s is readable by root only: run as root, or grant read access (e.g. a udev rule SUBSYSTEM==\"usbmon\", GROUP=\"wireshark\", MODE=\"0640\")", path)
	case errors.Is(err, unix.ENODEV):
		hint = "usbmon has no such bus (it went away?)"
	}
	return &LiveError{path, "open", err, hint}
}

// Ring is the kernel ring buffer size in bytes.
func (l *Live) Ring() int { return l.ring }

// Next returns the next event, waiting for one; see Source.
func (l *Live) Next(ctx context.Context) ([]byte, error) {
	if l.closed {
		return nil, &LiveError{l.path, "MON_IOCX_GETX", os.ErrClosed, ""}
	}
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		err := l.sys.ioctl(l.fd, monIOCXGetX, unsafe.Pointer(&l.get))
		switch {
		case err == nil:
			// len_cap ≤ alloc (see Live). min only keeps a kernel that
			// broke that from making Next panic: Decode then reports the
			// event as truncated.
			n := min(int64(binary.LittleEndian.Uint32(l.buf[36:])), int64(l.get.alloc))
			return l.buf[:HeaderLenMmapped+int(n)], nil
		case errors.Is(err, unix.EINTR):
			continue
		case !errors.Is(err, unix.EAGAIN):
			return nil, &LiveError{l.path, "MON_IOCX_GETX", err, ""}
		}
		if err := l.wait(ctx); err != nil {
			return nil, err
		}
	}
}

// wait sleeps in poll(2) until the ring has an event or ctx is done.
func (l *Live) wait(ctx context.Context) error {
	stop := context.AfterFunc(ctx, l.wakeUp)
	l.fds[0].Revents, l.fds[1].Revents = 0, 0
	_, err := l.sys.poll(l.fds[:], -1)
	if !stop() {
		// The wake-up ran (or is running): ctx is done. Drain the pipe so
		// a later Next with a fresh ctx does not wake at once.
		var b [8]byte
		for {
			if n, e := unix.Read(l.wake[0], b[:]); n <= 0 || e != nil {
				break
			}
		}
	}
	if e := ctx.Err(); e != nil {
		return e
	}
	if err != nil && !errors.Is(err, unix.EINTR) {
		return &LiveError{l.path, "poll", err, ""}
	}
	if l.fds[0].Revents&(unix.POLLERR|unix.POLLNVAL) != 0 {
		return &LiveError{l.path, "poll", fmt.Errorf("revents %#x: the node failed", l.fds[0].Revents), ""}
	}
	return nil
}

// Dropped returns the events the kernel discarded since OpenLive. The
// kernel resets its count (cnt_lost) on each MON_IOCG_STATS, so Live adds
// them up. (Kernels before 2.6.36 or so reset it before reporting it and
// always say 0.)
func (l *Live) Dropped() (uint64, error) {
	if l.closed {
		return l.dropped, &LiveError{l.path, "MON_IOCG_STATS", os.ErrClosed, ""}
	}
	var st monBinStats
	if err := l.sys.ioctl(l.fd, monIOCGStats, unsafe.Pointer(&st)); err != nil {
		return l.dropped, &LiveError{l.path, "MON_IOCG_STATS", err, ""}
	}
	l.dropped += uint64(st.dropped)
	return l.dropped, nil
}

// Close closes the node (the kernel frees the ring) and the wake-up pipe.
func (l *Live) Close() error {
	if l.closed {
		return nil
	}
	l.closed = true
	var err error
	if l.fd >= 0 {
		if e := l.sys.close(l.fd); e != nil {
			err = &LiveError{l.path, "close", e, ""}
		}
	}
	for _, fd := range l.wake {
		if fd >= 0 {
			unix.Close(fd)
		}
	}
	return err
}
