package usbmon

import "fmt"

// TruncatedError is a record shorter than its own fields say it is.
type TruncatedError struct {
	What   string // the field or part that did not fit: "header", "data", "iso descriptors"
	Offset int    // byte offset within the record where the part starts
	Need   int    // bytes the part needs
	Have   int    // bytes there were (-1: unknown, the file ended)
}

func (e *TruncatedError) Error() string {
	if e.Have < 0 {
		return fmt.Sprintf("truncated usbmon record: %s at byte %d needs %d bytes, the file ends first", e.What, e.Offset, e.Need)
	}
	return fmt.Sprintf("truncated usbmon record: %s at byte %d needs %d bytes, have %d", e.What, e.Offset, e.Need, e.Have)
}

// FieldError is a record whose field holds an impossible value.
type FieldError struct {
	Field  string
	Offset int // byte offset of the field within the record
	Reason string
}

func (e *FieldError) Error() string {
	return fmt.Sprintf("bad usbmon record: %s at byte %d: %s", e.Field, e.Offset, e.Reason)
}

// RecordError locates a failure in a capture file: record Index (0-based,
// the same numbering as Reader.Index; tshark's frame number is Index+1) that
// starts at byte Offset of the file. Err is a *TruncatedError, a *FieldError
// or the container's own error.
type RecordError struct {
	File   string // file name, if known
	Index  int
	Offset int64
	Err    error
}

func (e *RecordError) Error() string {
	f := e.File
	if f != "" {
		f += ": "
	}
	return fmt.Sprintf("%susbmon record %d at byte %d: %v", f, e.Index, e.Offset, e.Err)
}

func (e *RecordError) Unwrap() error { return e.Err }
