package gousb

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// USB/IP, as the kernel and the usbip tools show it: a device a remote host
// exports (bound to usbip-host there) is attached here through vhci_hcd,
// whose root hubs are children of the vhci_hcd.N platform devices:
//
//	/sys/bus/usb/devices/6-1 -> .../devices/platform/vhci_hcd.0/usb6/6-1
//
// vhci_hcd.0 lists every controller's ports in its status files (status for
// controller 0, status.N for controller N), one line per port after a
// header:
//
//	hub port sta spd dev      sockfd local_busid
//	hs  0000 006 003 00030002 000003 6-1
//
// where sta 6 is VDEV_ST_USED, dev is the device's bus<<16|address at the
// exporting host and local_busid its name here. `usbip attach` records
// each port it attached in /var/run/vhci_hcd/port<N> as "HOST TCPPORT
// BUSID" (the exporter, usbipd's port, the device's bus ID there). A device
// attached some other way (dongle's own hw/usbip, which ffsmodel uses) has
// no record: it is imported from an unknown host.
//
// On the exporting side the device stays in sysfs and usbfs with its VID:PID,
// bound at the device level to usbip-host; its usbip_status says whether a
// remote host has it attached. Such a device is the remote host's, never
// this host's to open.

// VHCIStateDir is where `usbip attach` records the ports it attached.
const VHCIStateDir = "/var/run/vhci_hcd"

// USBIPHostDriver is the exporting side's device driver.
const USBIPHostDriver = "usbip-host"

// vdevStUsed is VDEV_ST_USED, a vhci port with a device attached
// (enum usbip_device_status in usbip_common.h).
const vdevStUsed = 6

// ErrUSBIPState: a vhci_hcd status file or a usbip attach record did not
// read as the kernel and the usbip tools write it.
var ErrUSBIPState = errors.New("malformed USB/IP state")

// USBIPRole says how a device takes part in USB/IP on this host.
type USBIPRole int

const (
	// NotUSBIP is a device on a local host controller.
	NotUSBIP USBIPRole = iota
	// Imported is a remote host's device, attached here through vhci_hcd.
	Imported
	// Exported is a device of this host bound to usbip-host: a remote
	// host uses it (or may attach it); it is not this host's to open.
	Exported
)

// USBIP is what this host knows of a device's USB/IP link.
type USBIP struct {
	Role USBIPRole
	// Imported: the vhci port (usbip detach -p PORT) and the device's bus
	// and address at the exporting host (0 when the status file had no
	// line for it).
	VHCIPort             int
	RemoteBus, RemoteDev int
	// Imported: the exporting host, usbipd's TCP port and the device's
	// bus ID there, as usbip attach recorded them ("" without a record).
	Host, TCPPort, BusID string
	// Exported: a remote host has it attached (usbip_status 2, SDEV_ST_USED).
	InUse bool
	// Err is what could not be read (a malformed status file or record);
	// the fields above hold what could.
	Err error
}

// String is one phrase for list and diag: "remote: usbip://10.0.0.7:3240/1-2
// on vhci port 0 (remote bus 3 dev 2)", "exported over USB/IP (usbip-host),
// attached by a remote host", or "" for a local device.
func (u USBIP) String() string {
	var s string
	switch u.Role {
	case Imported:
		where := "an unknown host (no usbip attach record)"
		if u.Host != "" {
			where = "usbip://" + hostPort(u.Host, u.TCPPort) + "/" + u.BusID
		}
		s = fmt.Sprintf("remote: %s on vhci port %d", where, u.VHCIPort)
		if u.RemoteBus != 0 {
			s += fmt.Sprintf(" (remote bus %d dev %d)", u.RemoteBus, u.RemoteDev)
		}
	case Exported:
		s = "exported over USB/IP (" + USBIPHostDriver + "), "
		if u.InUse {
			s += "attached by a remote host"
		} else {
			s += "not attached yet"
		}
	default:
		return ""
	}
	if u.Err != nil {
		s += " [" + u.Err.Error() + "]"
	}
	return s
}

func hostPort(host, port string) string {
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if port == "" {
		return host
	}
	return host + ":" + port
}

// deviceDriver is the driver bound to the device itself (not one of its
// interfaces): "usb" (the generic driver) or "usbip-host"; "" if none.
func (s sysfs) deviceDriver(port string) string {
	if s.root == "" {
		return ""
	}
	l, err := os.Readlink(filepath.Join(s.root, port, "driver"))
	if err != nil {
		return ""
	}
	return filepath.Base(l)
}

// usbip reads the USB/IP link of the device at port. No sysfs, or a device
// on a local controller, is NotUSBIP.
func (s sysfs) usbip(port string) USBIP {
	if s.root == "" {
		return USBIP{}
	}
	if s.deviceDriver(port) == USBIPHostDriver {
		return USBIP{Role: Exported, InUse: s.attr(port, "usbip_status") == "2"}
	}
	dev, err := filepath.EvalSymlinks(filepath.Join(s.root, port))
	if err != nil {
		return USBIP{}
	}
	// dev is .../vhci_hcd.N/usbB/PORT: the root hub's parent is the
	// controller.
	hc := filepath.Dir(filepath.Dir(dev))
	if !strings.HasPrefix(filepath.Base(hc), "vhci_hcd.") {
		return USBIP{}
	}
	u := USBIP{Role: Imported, VHCIPort: -1}
	ports, err := readVHCIStatus(filepath.Join(filepath.Dir(hc), "vhci_hcd.0"))
	if err != nil {
		u.Err = err
	}
	for _, p := range ports {
		if p.LocalBusID == port && p.Status == vdevStUsed {
			u.VHCIPort = p.Port
			u.RemoteBus, u.RemoteDev = int(p.DevID>>16), int(p.DevID&0xffff)
		}
	}
	if u.VHCIPort < 0 {
		if u.Err == nil {
			u.Err = fmt.Errorf("vhci_hcd status: %w: no port lists %s", ErrUSBIPState, port)
		}
		return u
	}
	rec, err := readAttachRecord(s.vhciState, u.VHCIPort)
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		u.Err = errors.Join(u.Err, err)
	default:
		u.Host, u.TCPPort, u.BusID = rec.Host, rec.TCPPort, rec.BusID
	}
	return u
}

// VHCIPort is one line of a vhci_hcd status file.
type VHCIPort struct {
	Hub        string // "hs" or "ss"
	Port       int    // the port number usbip detach -p takes
	Status     int    // enum usbip_device_status: 4 free, 6 used
	Speed      int    // enum usb_device_speed of the attached device
	DevID      uint32 // bus<<16 | address at the exporting host
	LocalBusID string // the device's name here ("6-1"), "0-0" when free
}

// readVHCIStatus reads every status file of vhci_hcd.0 (dir), in
// controller order. A malformed line is an error wrapping ErrUSBIPState
// naming the file and line; the lines before it are returned.
func readVHCIStatus(dir string) ([]VHCIPort, error) {
	files, err := filepath.Glob(filepath.Join(dir, "status*"))
	if err != nil || len(files) == 0 {
		return nil, fmt.Errorf("vhci_hcd status in %s: %w: no status file", dir, ErrUSBIPState)
	}
	sort.Slice(files, func(i, j int) bool { return statusIndex(files[i]) < statusIndex(files[j]) })
	var out []VHCIPort
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return out, fmt.Errorf("vhci_hcd status %s: %w", f, err)
		}
		ports, err := ParseVHCIStatus(string(b))
		out = append(out, ports...)
		if err != nil {
			return out, fmt.Errorf("vhci_hcd status %s: %w", f, err)
		}
	}
	return out, nil
}

// statusIndex orders status, status.1, status.2, ..., status.10.
func statusIndex(path string) int {
	_, n, ok := strings.Cut(filepath.Base(path), ".")
	if !ok {
		return 0
	}
	i, err := strconv.Atoi(n)
	if err != nil {
		return 1 << 30
	}
	return i
}

// ParseVHCIStatus parses one vhci_hcd status file (port_show_vhci in
// drivers/usb/usbip/vhci_sysfs.c): a header line, then "HUB PORT STA SPD
// DEVID SOCK LOCAL_BUSID" per port. It returns the ports before the first
// malformed line and an error wrapping ErrUSBIPState naming that line.
func ParseVHCIStatus(s string) ([]VHCIPort, error) {
	var out []VHCIPort
	for n, line := range strings.Split(s, "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || (n == 0 && f[0] == "hub") {
			continue
		}
		bad := func(why string) error {
			return fmt.Errorf("%w: line %d %q: %s", ErrUSBIPState, n+1, line, why)
		}
		if len(f) != 7 {
			return out, bad(fmt.Sprintf("%d fields, want 7 (hub port sta spd dev sockfd local_busid)", len(f)))
		}
		if f[0] != "hs" && f[0] != "ss" {
			return out, bad("hub is not hs or ss")
		}
		port, err1 := strconv.ParseUint(f[1], 10, 16)
		sta, err2 := strconv.ParseUint(f[2], 10, 8)
		spd, err3 := strconv.ParseUint(f[3], 10, 8)
		dev, err4 := strconv.ParseUint(f[4], 16, 32)
		if err := errors.Join(err1, err2, err3, err4); err != nil {
			return out, bad("port, sta and spd are decimal, dev hexadecimal")
		}
		out = append(out, VHCIPort{Hub: f[0], Port: int(port), Status: int(sta), Speed: int(spd), DevID: uint32(dev), LocalBusID: f[6]})
	}
	return out, nil
}

// AttachRecord is what usbip attach wrote for one vhci port.
type AttachRecord struct {
	Host, TCPPort, BusID string
}

// readAttachRecord reads dir/port<N>. A missing record is an error
// wrapping os.ErrNotExist.
func readAttachRecord(dir string, port int) (AttachRecord, error) {
	p := filepath.Join(dir, fmt.Sprintf("port%d", port))
	b, err := os.ReadFile(p)
	if err != nil {
		return AttachRecord{}, fmt.Errorf("usbip attach record: %w", err)
	}
	r, err := ParseAttachRecord(string(b))
	if err != nil {
		return AttachRecord{}, fmt.Errorf("usbip attach record %s: %w", p, err)
	}
	return r, nil
}

// ParseAttachRecord parses a /var/run/vhci_hcd/port<N> file: "HOST
// TCPPORT BUSID" on one line (record_connection in usbip_attach.c).
func ParseAttachRecord(s string) (AttachRecord, error) {
	f := strings.Fields(s)
	if len(f) != 3 || strings.Count(strings.TrimRight(s, "\n"), "\n") != 0 {
		return AttachRecord{}, fmt.Errorf("%w: %q: want one line \"HOST TCPPORT BUSID\"", ErrUSBIPState, s)
	}
	if p, err := strconv.ParseUint(f[1], 10, 16); err != nil || p == 0 {
		return AttachRecord{}, fmt.Errorf("%w: %q: TCP port %q is not a number from 1 to 65535", ErrUSBIPState, s, f[1])
	}
	return AttachRecord{Host: f[0], TCPPort: f[1], BusID: f[2]}, nil
}

// Imports lists the devices attached through vhci_hcd on this host, with
// the records usbip attach left: one USBIP (Role Imported) per used vhci
// port, by port number. It reads sysfs and VHCIStateDir; no vhci_hcd
// (the module not loaded) is an empty list.
func Imports() ([]USBIP, error) {
	return importsIn("/sys/devices/platform/vhci_hcd.0", VHCIStateDir)
}

func importsIn(vhci0, state string) ([]USBIP, error) {
	if _, err := os.Stat(vhci0); errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	ports, err := readVHCIStatus(vhci0)
	var out []USBIP
	for _, p := range ports {
		if p.Status != vdevStUsed {
			continue
		}
		u := USBIP{Role: Imported, VHCIPort: p.Port, RemoteBus: int(p.DevID >> 16), RemoteDev: int(p.DevID & 0xffff)}
		rec, rerr := readAttachRecord(state, p.Port)
		switch {
		case errors.Is(rerr, os.ErrNotExist):
		case rerr != nil:
			u.Err = rerr
		default:
			u.Host, u.TCPPort, u.BusID = rec.Host, rec.TCPPort, rec.BusID
		}
		out = append(out, u)
	}
	return out, err
}
