// Package cpio writes and reads the "newc" (SVR4, magic 070701) cpio format,
// the one format the Linux kernel unpacks as an initramfs
// (init/initramfs.c, Documentation/driver-api/early-userspace/buffer-format.rst).
//
// Every member is a 110-byte ASCII-hex header, the NUL-terminated name padded
// to a multiple of 4 bytes (counted from the start of the header), and the
// file data padded to a multiple of 4:
//
//	+--------+------+----------+-----------+------+--------+-----------+
//	| 070701 | ino  | mode ... | namesize  | name | pad 0-3| data pad  |
//	+--------+------+----------+-----------+------+--------+-----------+
//	  6 B      8 B    11 x 8 B hex fields    namesize       filesize
//
// The archive ends with a member named "TRAILER!!!". The kernel (like
// `cpio -i`) creates directories, regular files and symlinks in archive order,
// so a parent directory must come before its children; Writer does not reorder.
//
// Writer is the small subset an initramfs needs (directories, regular files,
// symlinks, device nodes; no hard links: every member gets its own inode
// number, nlink is 1 for files and 2 for directories). Reader exists so that
// archives can be checked in tests and by tools; it accepts any newc archive,
// including the CRC variant (070702), and reports malformed input as errors.
package cpio
