//go:build !linux

package usbmon

import (
	"context"
	"errors"
	"fmt"
)

// Live is the usbmon live capture; it exists on Linux only.
type Live struct{}

// OpenLive fails: usbmon is a Linux facility.
func OpenLive(bus int, opts LiveOptions) (*Live, error) {
	return nil, fmt.Errorf("usbmon: live capture of bus %d: %w (usbmon is Linux's)", bus, errors.ErrUnsupported)
}

// LiveSupported is false off Linux.
func LiveSupported() bool { return false }

func (*Live) Next(ctx context.Context) ([]byte, error) { return nil, errors.ErrUnsupported }
func (*Live) Dropped() (uint64, error)                 { return 0, errors.ErrUnsupported }
func (*Live) Close() error                             { return nil }
func (*Live) Ring() int                                { return 0 }
