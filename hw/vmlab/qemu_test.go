package vmlab

import (
	"context"
	"os"
	"strings"
	"testing"
)

func TestVMArgs(t *testing.T) {
	vm := &VM{
		Kernel: "/k/vmlinuz", Initrd: "/k/initrd.gz", Append: "console=ttyS0 lab.run=run.sh",
		Console: "/r/console.log", USBNet: true, NetLocal: "/s/qemu.sock", NetRemote: "/s/host.sock",
		USBNetPcap: "/r/usbnet.pcap", Shares: []Share{{Tag: "lab", Path: "/r/share"}, {Tag: "host", Path: "/src", ReadOnly: true}},
		Control: "/s/ctl.sock", Monitor: "/s/qmp.sock",
	}
	args, err := vm.Args()
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(args, " ")
	for _, want := range []string{
		"-accel tcg", "-m 1024", "-smp 2", "-nic none", "-bios /usr/share/qemu/qboot.rom", "-no-reboot", "-display none",
		"-kernel /k/vmlinuz", "-initrd /k/initrd.gz",
		"-serial file:/r/console.log -serial stdio -chardev socket,id=peerctl,path=/s/ctl.sock -serial chardev:peerctl",
		"-device qemu-xhci,id=xhci",
		"-netdev dgram,id=n0,local.type=unix,local.path=/s/qemu.sock,remote.type=unix,remote.path=/s/host.sock",
		"-device usb-net,id=usbnet0,bus=xhci.0,netdev=n0,pcap=/r/usbnet.pcap",
		"-qmp unix:/s/qmp.sock,server=on,wait=off",
		"-virtfs local,path=/r/share,mount_tag=lab,security_model=none",
		"-virtfs local,path=/src,mount_tag=host,security_model=none,readonly=on",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("argv lacks %q:\n%s", want, got)
		}
	}
	// The command line is one argument, not split at spaces.
	for i, a := range args {
		if a == "-append" && args[i+1] != vm.Append {
			t.Errorf("-append %q, want %q", args[i+1], vm.Append)
		}
	}
	if strings.Contains(got, "enable-kvm") || strings.Contains(got, "-netdev user") || strings.Contains(got, "virtio-net") {
		t.Errorf("unexpected options: %s", got)
	}
	// The guest NIC is the cable's other end: its socket paths swapped.
	vm.GuestNIC = true
	args, _ = vm.Args()
	got = strings.Join(args, " ")
	for _, want := range []string{
		"-netdev dgram,id=n0,local.type=unix,local.path=/s/qemu.sock,remote.type=unix,remote.path=/s/host.sock",
		"-netdev dgram,id=n1,local.type=unix,local.path=/s/host.sock,remote.type=unix,remote.path=/s/qemu.sock -device virtio-net-pci,netdev=n1,mac=" + GuestNICMAC,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("with GuestNIC, argv lacks %q:\n%s", want, got)
		}
	}
	vm.GuestNIC = false

	vm.NetLocal, vm.NetRemote, vm.Accel, vm.USBNetPcap = "", "", "kvm", ""
	args, _ = vm.Args()
	got = strings.Join(args, " ")
	for _, want := range []string{"-accel kvm -cpu host", "-netdev user,id=n0,restrict=on", "usb-net,id=usbnet0,bus=xhci.0,netdev=n0 "} {
		if !strings.Contains(got+" ", want) {
			t.Errorf("argv lacks %q:\n%s", want, got)
		}
	}
	vm.USBNet = false
	args, _ = vm.Args()
	if got := strings.Join(args, " "); strings.Contains(got, "usb-net") || strings.Contains(got, "-netdev") {
		t.Errorf("usb-net left out, but argv has it: %s", got)
	}
}

func TestVMArgsErrors(t *testing.T) {
	for name, vm := range map[string]VM{
		"no kernel":   {Initrd: "i", Console: "c"},
		"no console":  {Kernel: "k", Initrd: "i"},
		"comma path":  {Kernel: "k", Initrd: "i", Console: "/a,b"},
		"bad accel":   {Kernel: "k", Initrd: "i", Console: "c", Accel: "hvf"},
		"half dgram":  {Kernel: "k", Initrd: "i", Console: "c", USBNet: true, NetLocal: "/q"},
		"slirp NIC":   {Kernel: "k", Initrd: "i", Console: "c", USBNet: true, GuestNIC: true},
		"share comma": {Kernel: "k", Initrd: "i", Console: "c", Shares: []Share{{Tag: "x", Path: "/a,b"}}},
	} {
		if _, err := vm.Args(); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestRunScript(t *testing.T) {
	s := runScript(RunConfig{
		Script:   "/mnt/lab/test.bin '-test.run=A B'",
		Env:      []string{"DONGLE_BACKEND=usb", "X=it's", "BAD KEY=1"},
		HostRoot: "/work/main", Dir: "/work/main/specs",
	})
	for _, want := range []string{
		"exec >/dev/ttyS1 2>&1\n", "export DONGLE_LAB=1\n", "export DONGLE_BACKEND=usb\n", `export X='it'\''s'` + "\n",
		"mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000 host /work/main",
		"cd /work/main/specs || exit 97\n", "/mnt/lab/test.bin '-test.run=A B'\n",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("run.sh lacks %q:\n%s", want, s)
		}
	}
	if strings.Contains(s, "BAD KEY") {
		t.Errorf("run.sh exports an invalid name:\n%s", s)
	}
}

func TestQuote(t *testing.T) {
	for in, want := range map[string]string{
		"plain": "plain", "-test.v=true": "-test.v=true", "": "''", "a b": "'a b'", "it's": `'it'\''s'`, "$HOME": "'$HOME'",
	} {
		if got := Quote(in); got != want {
			t.Errorf("Quote(%q) = %s, want %s", in, got, want)
		}
	}
}

func TestParseLdd(t *testing.T) {
	out := "\tlinux-vdso.so.1 (0x00007ffd)\n\tlibusb-1.0.so.0 => /lib/x86_64-linux-gnu/libusb-1.0.so.0 (0x00007f)\n" +
		"\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f)\n\t/lib64/ld-linux-x86-64.so.2 (0x00007f)\n"
	got, err := parseLdd([]byte(out))
	if err != nil {
		t.Fatal(err)
	}
	want := "/lib/x86_64-linux-gnu/libusb-1.0.so.0 /lib/x86_64-linux-gnu/libc.so.6 /lib64/ld-linux-x86-64.so.2"
	if strings.Join(got, " ") != want {
		t.Errorf("got %v, want %s", got, want)
	}
	if _, err := parseLdd([]byte("\tlibudev.so.1 => not found\n")); err == nil || !strings.Contains(err.Error(), "libudev") {
		t.Errorf("missing library: %v", err)
	}
}

func TestParseKernelDepends(t *testing.T) {
	out := "linux-image-amd64\n  Depends: linux-image-6.1.0-56-amd64\n"
	if got, err := parseKernelDepends([]byte(out)); err != nil || got != "linux-image-6.1.0-56-amd64" {
		t.Errorf("got %q %v", got, err)
	}
	if _, err := parseKernelDepends([]byte("linux-image-amd64\n  Depends: linux-image-amd64-signed-template\n")); err == nil {
		t.Error("no versioned dependency: no error")
	}
}

func TestExecTimeoutAndEnv(t *testing.T) {
	if d := execTimeout(nil, []string{"-test.v", "-test.timeout=3m0s"}); d.Minutes() != 5 {
		t.Errorf("timeout from -test.timeout=3m: %v, want 5m", d)
	}
	if d := execTimeout([]string{EnvTimeout + "=42s"}, []string{"-test.timeout=3m0s"}); d.Seconds() != 42 {
		t.Errorf("timeout from env: %v", d)
	}
	env := passEnv([]string{"DONGLE_BACKEND=usb", "HOME=/root", "GOTRACEBACK=all", EnvDir + "=/x", EnvPass + "=FOO", "FOO=1", EnvUSBNetPeer + "=guest"})
	if got := strings.Join(env, " "); got != "DONGLE_BACKEND=usb GOTRACEBACK=all FOO=1" {
		t.Errorf("passed env %q", got)
	}
}

func TestExecUSBNetPeer(t *testing.T) {
	bin, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	for v, want := range map[string]bool{"": false, "host": false, "guest": true} {
		cfg, err := execConfig(context.Background(), ExecConfig{Bin: bin, Env: []string{EnvUSBNetPeer + "=" + v}})
		if err != nil || cfg.USBNetToGuest != want {
			t.Errorf("%s=%q: USBNetToGuest %v, %v; want %v", EnvUSBNetPeer, v, cfg.USBNetToGuest, err, want)
		}
	}
	if _, err := execConfig(context.Background(), ExecConfig{Bin: bin, Env: []string{EnvUSBNetPeer + "=slirp"}}); err == nil {
		t.Errorf("%s=slirp: no error", EnvUSBNetPeer)
	}
}

func TestDriverChanges(t *testing.T) {
	before := "1-1 0525:a4a2 bus 1 addr 2 12M cfg 1: 1-1:1.0 02/06 cdc_ether [usb0], 1-1:1.1 0a/00 cdc_ether"
	r := &Result{USBBefore: before, USBAfter: strings.ReplaceAll(before, "[usb0]", "[usb1]")}
	if ch := r.DriverChanges(); len(ch) != 0 {
		t.Errorf("same drivers: changes %v", ch)
	}
	r.USBAfter = "1-1 0525:a4a2 bus 1 addr 2 12M cfg 1: 1-1:1.0 02/06 - , 1-1:1.1 0a/00 usbfs"
	ch := r.DriverChanges()
	if len(ch) != 2 || !strings.Contains(ch[0], "1-1:1.0: cdc_ether before, - after") {
		t.Errorf("changes %v", ch)
	}
	// Another device on the same port (a guest setup took the gadget's
	// UDC): nothing was left detached.
	r.USBAfter = "1-1 0b95:772b bus 1 addr 3 480M cfg 1: 1-1:1.0 ff/ff -"
	if ch := r.DriverChanges(); len(ch) != 0 {
		t.Errorf("device replaced on the port: changes %v", ch)
	}
}
