package usbmon

import "unsafe"

// The usbmon binary API's ioctls (drivers/usb/mon/mon_bin.c), magic 0x92:
//
//	MON_IOCG_STATS     _IOR(0x92, 3, struct mon_bin_stats)   queued, dropped (read and reset)
//	MON_IOCT_RING_SIZE _IO(0x92, 4)                          set the ring size (flushes it)
//	MON_IOCQ_RING_SIZE _IO(0x92, 5)                          the ring size, as the return value
//	MON_IOCX_GETX      _IOW(0x92, 10, struct mon_bin_get)    one event: 64-byte header + data
//
// The numbers are computed with the asm-generic _IOC encoding (direction in
// bits 30-31, argument size in bits 16-29, magic in 8-15, number in 0-7),
// which x86, arm, arm64, riscv and loong64 use. powerpc, mips and sparc
// encode differently; LiveSupported says whether this GOARCH is one of the
// generic ones. MON_IOCX_GETX's size is sizeof(struct mon_bin_get), which
// depends on the pointer size (24 on 64-bit, 12 on 32-bit), so it is
// computed from the Go mirror of the struct rather than written down.
const (
	monIOCMagic = 0x92

	iocNone  = 0
	iocWrite = 1
	iocRead  = 2
)

// ioc is the kernel's _IOC(dir, type, nr, size) (include/uapi/asm-generic/ioctl.h).
func ioc(dir, typ, nr, size uintptr) uintptr {
	return dir<<30 | size<<16 | typ<<8 | nr
}

// monBinGet mirrors struct mon_bin_get: where MON_IOCX_GETX copies the
// event's header (64 bytes for GETX, 48 for the old GET) and up to alloc
// bytes of its data.
type monBinGet struct {
	hdr   unsafe.Pointer // struct mon_bin_hdr __user *
	data  unsafe.Pointer // void __user *
	alloc uintptr        // size_t
}

// monBinStats mirrors struct mon_bin_stats.
type monBinStats struct {
	queued  uint32 // events in the ring now
	dropped uint32 // events lost since the last MON_IOCG_STATS (the kernel zeroes cnt_lost on read)
}

var (
	monIOCGStats    = ioc(iocRead, monIOCMagic, 3, unsafe.Sizeof(monBinStats{}))
	monIOCTRingSize = ioc(iocNone, monIOCMagic, 4, 0)
	monIOCQRingSize = ioc(iocNone, monIOCMagic, 5, 0)
	monIOCXGetX     = ioc(iocWrite, monIOCMagic, 10, unsafe.Sizeof(monBinGet{}))
)

// Ring sizes MON_IOCT_RING_SIZE accepts (mon_bin.c BUFF_MIN, BUFF_MAX,
// each rounded up to a page by the kernel).
const (
	RingMin = 8 * 1024
	RingMax = 1200 * 1024
)

// maxEventData is the most data one event can carry in a ring of size
// ring: mon_bin_event cuts an URB's data to a fifth of the ring and adds at
// most ISODESC_MAX 16-byte iso descriptors before it.
func maxEventData(ring int) int { return ring/5 + maxIsoDesc*IsoDescLen }
