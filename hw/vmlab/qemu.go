package vmlab

import (
	"errors"
	"fmt"
	"strings"
)

// QBoot is the firmware the lab boots with: it starts the kernel directly,
// without SeaBIOS's own USB enumeration (which would show up in captures).
const QBoot = "/usr/share/qemu/qboot.rom"

// Share is a 9p directory exported to the guest (virtio-9p, tag Tag).
type Share struct {
	Tag, Path string
	ReadOnly  bool
}

// VM describes one QEMU invocation. Args turns it into argv; nothing here
// starts a process, so the argv can be tested and printed.
//
// Serial ports, in guest order:
//
//	ttyS0  Console file (kernel and /init messages)
//	ttyS1  Output: the program's stdout+stderr, streamed to QEMU's stdout
//	ttyS2  Control: socket to the host peer's control channel (absent when empty)
type VM struct {
	QEMU    string // default qemu-system-x86_64
	Accel   string // "tcg" (default) or "kvm"
	MemMB   int    // default 1024
	CPUs    int    // default 2
	Kernel  string
	Initrd  string
	Append  string // kernel command line
	Console string // file for ttyS0

	// USBNet attaches QEMU's usb-net to qemu-xhci. Its netdev is a dgram
	// socket pair (NetLocal is QEMU's, NetRemote the host peer's) or, when
	// NetLocal is empty, a restricted user-mode network (slirp answers ARP
	// and ping for 10.0.2.2; nothing leaves the machine).
	USBNet     bool
	NetLocal   string
	NetRemote  string
	USBNetPcap string // pcap= capture of usb-net's USB traffic
	// GuestNIC puts the far end of usb-net's cable in the guest: a
	// virtio-net NIC whose dgram netdev (n1) is the other end of
	// NetLocal/NetRemote (it binds NetRemote and sends to NetLocal), so
	// the guest's own stack is usb-net's link partner. QEMU's dgram
	// backend unlinks a socket path before binding it, so n1 takes
	// NetRemote from the host peer: that peer, still running, sees nothing
	// for the boot (its counters mean nothing then). It needs USBNet.
	GuestNIC bool

	Shares  []Share
	Control string // unix socket for ttyS2
	// Monitor is a unix socket where QEMU serves QMP (absent when empty):
	// the lab unplugs and replugs usb-net (USBNetID) through it.
	Monitor string
}

// GuestNICMAC is the MAC of the guest NIC at the far end of usb-net's
// cable (VM.GuestNIC).
const GuestNICMAC = "52:54:00:77:00:02"

// USBNetID is usb-net's QEMU device id, what device_del names.
const USBNetID = "usbnet0"

// USBNetDevice is usb-net's -device option (and device_add's arguments):
// on xhci, its netdev n0, a pcap= capture when pcap is not empty.
func USBNetDevice(pcap string) string {
	dev := "usb-net,id=" + USBNetID + ",bus=xhci.0,netdev=n0"
	if pcap != "" {
		dev += ",pcap=" + pcap
	}
	return dev
}

// Args returns the qemu argv (without argv[0]).
func (v *VM) Args() ([]string, error) {
	if v.Kernel == "" || v.Initrd == "" {
		return nil, errors.New("qemu: kernel and initrd are required")
	}
	if v.Console == "" {
		return nil, errors.New("qemu: a console file is required")
	}
	for _, s := range []string{v.Console, v.NetLocal, v.NetRemote, v.USBNetPcap, v.Control, v.Monitor} {
		if strings.ContainsAny(s, ",") {
			return nil, fmt.Errorf("qemu: path %q contains a comma (QEMU option syntax)", s)
		}
	}
	var a []string
	switch v.Accel {
	case "", "tcg":
		a = append(a, "-accel", "tcg")
	case "kvm":
		a = append(a, "-accel", "kvm", "-cpu", "host")
	default:
		return nil, fmt.Errorf("qemu: accel %q: want tcg or kvm", v.Accel)
	}
	mem, cpus := v.MemMB, v.CPUs
	if mem == 0 {
		mem = 1024
	}
	if cpus == 0 {
		cpus = 2
	}
	a = append(a,
		"-m", fmt.Sprint(mem), "-smp", fmt.Sprint(cpus),
		"-display", "none", "-no-reboot", "-nic", "none", "-bios", QBoot,
		"-kernel", v.Kernel, "-initrd", v.Initrd, "-append", v.Append,
		"-serial", "file:"+v.Console, "-serial", "stdio",
	)
	if v.Control != "" {
		a = append(a, "-chardev", "socket,id=peerctl,path="+v.Control, "-serial", "chardev:peerctl")
	}
	if v.Monitor != "" {
		a = append(a, "-qmp", "unix:"+v.Monitor+",server=on,wait=off")
	}
	a = append(a, "-device", "qemu-xhci,id=xhci")
	if v.USBNet {
		if v.NetLocal != "" {
			if v.NetRemote == "" {
				return nil, errors.New("qemu: usb-net dgram needs both socket paths")
			}
			a = append(a, "-netdev", "dgram,id=n0,local.type=unix,local.path="+v.NetLocal+",remote.type=unix,remote.path="+v.NetRemote)
		} else {
			a = append(a, "-netdev", "user,id=n0,restrict=on")
		}
		a = append(a, "-device", USBNetDevice(v.USBNetPcap))
		if v.GuestNIC {
			if v.NetLocal == "" {
				return nil, errors.New("qemu: a guest NIC as usb-net's partner needs the dgram socket paths")
			}
			a = append(a, "-netdev", "dgram,id=n1,local.type=unix,local.path="+v.NetRemote+",remote.type=unix,remote.path="+v.NetLocal,
				"-device", "virtio-net-pci,netdev=n1,mac="+GuestNICMAC)
		}
	}
	for _, s := range v.Shares {
		if s.Tag == "" || s.Path == "" || strings.ContainsAny(s.Path+s.Tag, ",") {
			return nil, fmt.Errorf("qemu: share %+v: needs a tag and a path without commas", s)
		}
		opt := "local,path=" + s.Path + ",mount_tag=" + s.Tag + ",security_model=none"
		if s.ReadOnly {
			opt += ",readonly=on"
		}
		a = append(a, "-virtfs", opt)
	}
	return a, nil
}
