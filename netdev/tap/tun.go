package tap

import (
	"errors"
	"fmt"
	"net"
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// ifreqHW is struct ifreq with ifr_hwaddr (a struct sockaddr): x/sys's
// Ifreq has no setter for it.
type ifreqHW struct {
	name   [unix.IFNAMSIZ]byte
	family uint16
	data   [14]byte
	_      [8]byte // the union is 24 bytes
}

// openTAP makes a TAP interface (name may hold one %d) and returns its
// file, non-blocking so that Close interrupts a read, and its name.
func openTAP(name string) (*os.File, string, error) {
	if len(name) >= unix.IFNAMSIZ {
		return nil, "", fmt.Errorf("tap %q: %w: a name has at most %d bytes", name, ErrName, unix.IFNAMSIZ-1)
	}
	fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, "", fmt.Errorf("tap %q: /dev/net/tun: %w", name, err)
	}
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		unix.Close(fd)
		return nil, "", fmt.Errorf("tap %q: %w: %w", name, ErrName, err)
	}
	// IFF_TUN_EXCL: an existing interface of that name (a persistent
	// TAP, a NIC) is refused, never attached to.
	ifr.SetUint16(unix.IFF_TAP | unix.IFF_NO_PI | unix.IFF_TUN_EXCL)
	if err := unix.IoctlIfreq(fd, unix.TUNSETIFF, ifr); err != nil {
		unix.Close(fd)
		if _, gone := net.InterfaceByName(name); gone == nil {
			// EBUSY for a TAP, EINVAL for an interface of another kind.
			return nil, "", fmt.Errorf("tap %q: %w (%w)", name, ErrNameTaken, err)
		}
		return nil, "", fmt.Errorf("tap %q: TUNSETIFF: %w", name, err)
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return nil, "", fmt.Errorf("tap %s: %w", ifr.Name(), err)
	}
	return os.NewFile(uintptr(fd), "/dev/net/tun:"+ifr.Name()), ifr.Name(), nil
}

// setMAC sets the TAP's address through its own file (tun's
// SIOCSIFHWADDR).
func setMAC(f *os.File, name string, mac net.HardwareAddr) error {
	switch {
	case len(mac) != 6:
		return fmt.Errorf("tap %s: %w: MAC %q is not 6 bytes", name, ErrAddress, mac)
	case mac[0]&1 != 0:
		return fmt.Errorf("tap %s: %w: MAC %s is a multicast address", name, ErrAddress, mac)
	case [6]byte(mac) == [6]byte{}:
		return fmt.Errorf("tap %s: %w: the device has no MAC (00:00:00:00:00:00)", name, ErrAddress)
	}
	var r ifreqHW
	copy(r.name[:], name)
	r.family = unix.ARPHRD_ETHER
	copy(r.data[:], mac)
	return rawIoctl(f, name, unix.SIOCSIFHWADDR, unsafe.Pointer(&r))
}

// setCarrier is TUNSETCARRIER.
func setCarrier(f *os.File, name string, up bool) error {
	v := int32(0)
	if up {
		v = 1
	}
	return rawIoctl(f, name, unix.TUNSETCARRIER, unsafe.Pointer(&v))
}

func rawIoctl(f *os.File, name string, req uint, arg unsafe.Pointer) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return fmt.Errorf("tap %s: %w", name, err)
	}
	var errno unix.Errno
	if err := rc.Control(func(fd uintptr) {
		_, _, errno = unix.Syscall(unix.SYS_IOCTL, fd, uintptr(req), uintptr(arg))
	}); err != nil {
		return fmt.Errorf("tap %s: %w", name, err)
	}
	if errno != 0 {
		return fmt.Errorf("tap %s: ioctl %#x: %w", name, req, errno)
	}
	return nil
}

// noIPv6 turns the host's IPv6 off on the interface. A kernel without
// IPv6 has nothing to turn off.
func noIPv6(name string) error {
	err := os.WriteFile("/proc/sys/net/ipv6/conf/"+name+"/disable_ipv6", []byte("1"), 0)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("tap %s: IPv6 off: %w", name, err)
	}
	return nil
}

// setLink sets the interface's MTU and, if up, IFF_UP, through an
// AF_INET socket (SIOCSIFMTU, SIOCSIFFLAGS).
func setLink(name string, mtu int, up bool) error {
	s, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("tap %s: socket: %w", name, err)
	}
	defer unix.Close(s)
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		return fmt.Errorf("tap %s: %w", name, err)
	}
	ifr.SetUint32(uint32(mtu))
	if err := unix.IoctlIfreq(s, unix.SIOCSIFMTU, ifr); err != nil {
		return fmt.Errorf("tap %s: MTU %d: %w", name, mtu, err)
	}
	if !up {
		return nil
	}
	if err := unix.IoctlIfreq(s, unix.SIOCGIFFLAGS, ifr); err != nil {
		return fmt.Errorf("tap %s: SIOCGIFFLAGS: %w", name, err)
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	if err := unix.IoctlIfreq(s, unix.SIOCSIFFLAGS, ifr); err != nil {
		return fmt.Errorf("tap %s: up: %w", name, err)
	}
	return nil
}
