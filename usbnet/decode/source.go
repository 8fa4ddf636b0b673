package decode

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"dongle/hw/usbmon"
)

// source is one pass over a trace's records, in file order. Records may be
// zero-copy (valid until the next call); idx is the record's number (the
// container packet's, tshark's frame number - 1).
type source interface {
	next(rec *usbmon.Record) (idx int, err error)
	pos() int64
}

// opener starts a pass.
type opener func() (source, func(), error)

type sliceSource struct {
	recs []usbmon.Record
	i    int
}

func (s *sliceSource) next(rec *usbmon.Record) (int, error) {
	if s.i >= len(s.recs) {
		return 0, io.EOF
	}
	*rec = s.recs[s.i]
	s.i++
	return s.i - 1, nil
}

func (s *sliceSource) pos() int64 { return int64(s.i) }

type readerSource struct{ r *usbmon.Reader }

func (s readerSource) next(rec *usbmon.Record) (int, error) {
	if err := s.r.NextZeroCopy(rec); err != nil {
		return 0, err
	}
	return s.r.Index(), nil
}

func (s readerSource) pos() int64 { return s.r.Pos() }

// fileOpener reads path in tolerant mode; damage is what the first pass's
// Reader found.
func fileOpener(path string, damage *[]*usbmon.RecordError, ndamage *int, lt *usbmon.LinkType) opener {
	first := true
	return func() (source, func(), error) {
		r, f, err := usbmon.OpenOptions(path, usbmon.ReadOptions{Tolerant: true})
		if err != nil {
			return nil, nil, err
		}
		*lt = r.LinkType()
		done := func() { f.Close() }
		if first {
			first = false
			done = func() {
				*damage, *ndamage = r.Damage(), r.DamageCount()
				f.Close()
			}
		}
		return readerSource{r}, done, nil
	}
}

// ReadFile decodes a capture file in two streaming passes (the first finds
// the devices, their descriptors, control requests and configurations; the
// second decodes the chosen device's data), so memory is bounded by what
// is in flight and by the control requests, not by the file's size.
// Damaged records are skipped and reported (Trace.Damage); a file that is
// not a capture fails with usbmon's error naming it.
func ReadFile(path string, opts Options) (*Trace, error) {
	var damage []*usbmon.RecordError
	var ndamage int
	var lt usbmon.LinkType
	t, err := run(fileOpener(path, &damage, &ndamage, &lt), &lt, opts, func(t *Trace) {
		t.Stats.Damaged = ndamage
		for _, d := range damage {
			t.Damage = append(t.Damage, fmt.Sprintf("record %d at byte %d: %v", d.Index+1, d.Offset, d.Err))
		}
	})
	var re *usbmon.RecordError
	if err != nil && !errors.As(err, &re) && !strings.Contains(err.Error(), path) {
		err = fmt.Errorf("%s: %w", path, err)
	}
	if err != nil {
		return nil, err
	}
	return t, nil
}

// Decode decodes records already read (record i is number i).
func Decode(recs []usbmon.Record, lt usbmon.LinkType, opts Options) (*Trace, error) {
	open := func() (source, func(), error) { return &sliceSource{recs: recs}, func() {}, nil }
	return run(open, &lt, opts, nil)
}
