package progress

import "golang.org/x/sys/unix"

// isTerminal is isatty: TCGETS succeeds only on a terminal.
func isTerminal(fd uintptr) bool {
	_, err := unix.IoctlGetTermios(int(fd), unix.TCGETS)
	return err == nil
}
