package vmlab

import (
	"os"
	"strings"

	"golang.org/x/sys/unix"
)

// EnvAccel forces the accelerator: "tcg" or "kvm".
const EnvAccel = "DONGLE_LAB_ACCEL"

// kvmGetAPIVersion is _IO(KVMIO, 0x00); KVM_API_VERSION is 12 since 2.6.22.
const kvmGetAPIVersion = 0xAE00

// Accel picks the accelerator: TCG unless KVM is clearly usable, because a
// half-working KVM is worse than slow emulation. On the machines this was
// written on, /dev/kvm exists but belongs to kvm_pvm, the CPU shows neither
// vmx nor svm, and a KVM guest never gets out of the kernel decompressor,
// while TCG boots in about 2 s. So "clearly usable" means all of: /dev/kvm
// opens read-write and answers KVM_GET_API_VERSION with 12, /proc/cpuinfo
// has vmx or svm, and the module is not kvm_pvm.
func Accel() string {
	if a := os.Getenv(EnvAccel); a != "" {
		return a
	}
	if kvmUsable() {
		return "kvm"
	}
	return "tcg"
}

func kvmUsable() bool {
	if _, err := os.Stat("/sys/module/kvm_pvm"); err == nil {
		return false
	}
	cpu, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return false
	}
	hasVirt := false
	for _, line := range strings.Split(string(cpu), "\n") {
		if strings.HasPrefix(line, "flags") {
			f := " " + line + " "
			hasVirt = strings.Contains(f, " vmx ") || strings.Contains(f, " svm ")
			break
		}
	}
	if !hasVirt {
		return false
	}
	fd, err := unix.Open("/dev/kvm", unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return false
	}
	defer unix.Close(fd)
	v, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), kvmGetAPIVersion, 0)
	return errno == 0 && v == 12
}
