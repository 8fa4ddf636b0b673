//go:build !linux

package progress

// isTerminal is false off Linux: dongle's commands print no progress line
// there rather than guess.
func isTerminal(fd uintptr) bool { return false }
