package replay

import (
	"fmt"
	"path/filepath"

	"dongle/hw"
	"dongle/hw/record"
	"dongle/hw/usbmon"
)

// Open reads a capture file and returns a strict replay if dongle's
// recorder wrote it (every URB id carries record.IDTag) and a model replay
// otherwise. opts applies to the model replay; Name defaults to the file's
// base name.
func Open(path string, opts ModelOptions) (hw.Device, error) {
	recs, _, err := usbmon.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("replay: %w", err)
	}
	if opts.Name == "" {
		opts.Name = filepath.Base(path)
	}
	return New(recs, opts)
}

// New is Open for records already read.
func New(recs []usbmon.Record, opts ModelOptions) (hw.Device, error) {
	if record.Recorded(recs) {
		return NewStrict(recs, StrictOptions{Name: opts.Name})
	}
	return NewModel(recs, opts)
}
