package vethtest

import (
	"fmt"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// NoOffload turns off an interface's TX checksum offload, and with it
// TSO, and its GSO (ethtool -K NAME tx off gso off). A veth offloads both
// by default: a frame its stack sends then crosses the pair with its
// checksum left for hardware to fill in and TCP segments merged into one
// 64 KB frame, which is right between two kernel stacks and wrong on a
// cable a device model stands on (hw/sim/ifwire hands the model the
// frame as it is). Call it on the end whose stack sends into the model,
// in its namespace (before moving it).
func NoOffload(t testing.TB, name string) {
	t.Helper()
	s, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatalf("socket: %v", err)
	}
	defer unix.Close(s)
	for _, cmd := range []uint32{unix.ETHTOOL_STXCSUM, unix.ETHTOOL_SGSO} {
		if err := ethtoolSet(s, name, cmd, 0); err != nil {
			t.Fatalf("%s: ethtool %#x off: %v", name, cmd, err)
		}
	}
}

// ethtoolValue is struct ethtool_value.
type ethtoolValue struct {
	cmd, data uint32
}

// ifreqData is struct ifreq with ifr_data.
type ifreqData struct {
	name [unix.IFNAMSIZ]byte
	data unsafe.Pointer
	_    [16]byte
}

func ethtoolSet(s int, name string, cmd, v uint32) error {
	if len(name) >= unix.IFNAMSIZ {
		return fmt.Errorf("interface name %q too long", name)
	}
	val := ethtoolValue{cmd: cmd, data: v}
	var r ifreqData
	copy(r.name[:], name)
	r.data = unsafe.Pointer(&val)
	if _, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(s), unix.SIOCETHTOOL, uintptr(unsafe.Pointer(&r))); errno != 0 {
		return errno
	}
	return nil
}
