package record

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"

	"dongle/hw/usbmon"
)

// pcap framing: a 24-byte file header, then records of a 16-byte header
// (ts_sec, ts_usec, incl_len, orig_len) and incl_len bytes.
const (
	pcapFileHeaderLen   = 24
	pcapRecordHeaderLen = 16
	pcapMagicLE         = 0xa1b2c3d4
)

var (
	// ErrRingTooSmall: a Ring was asked for less room than one record can
	// take, or one record is larger than the whole ring.
	ErrRingTooSmall = errors.New("record ring: too small")
	// ErrRingFormat: what was written to a Ring is not a pcap stream.
	ErrRingFormat = errors.New("record ring: not a pcap stream")
)

// MinRingBytes is the smallest Ring: room for one record of the largest
// size the usbmon writer emits (its snaplen plus the record header).
const MinRingBytes = usbmon.MaxRecordLen + pcapRecordHeaderLen

// Ring is an io.Writer for a pcap stream (what New writes) that keeps only
// the file header and the newest whole records that fit in its capacity: a
// flight recorder for a run too long to trace to disk. WriteTo writes what
// it holds as a valid pcap file. Records evicted to make room are counted
// (Evicted).
//
// Invariants: buf holds, from start, size bytes: complete records (their
// lengths queued in recs, oldest first) followed by the part of the record
// being written (part bytes). Nothing is allocated per record once recs has
// grown to the most records the ring held at once.
//
// Several recorders may write one Ring in turn (Stream): each stream's file
// header after the first is dropped, so the ring stays one file. They must
// not write at the same time, and each must stop at a record boundary
// (record.Device flushes whole records on Close).
type Ring struct {
	mu      sync.Mutex
	hdr     [pcapFileHeaderLen]byte
	nhdr    int
	order   binary.ByteOrder
	buf     []byte
	start   int
	size    int
	recs    []int // ring of complete record lengths
	rhead   int
	rcount  int
	part    int // bytes of the current record written so far
	need    int // its full length; 0 until its header is complete
	rhdr    [pcapRecordHeaderLen]byte
	evicted uint64
	err     error
}

// NewRing returns a ring holding at most capacity bytes of records
// (capacity >= MinRingBytes, else ErrRingTooSmall).
func NewRing(capacity int) (*Ring, error) {
	if capacity < MinRingBytes {
		return nil, fmt.Errorf("%w: %d bytes (want at least %d)", ErrRingTooSmall, capacity, MinRingBytes)
	}
	return &Ring{buf: make([]byte, capacity), recs: make([]int, 1024)}, nil
}

// Stream returns a writer for one more recorder's pcap stream: its file
// header is kept if it is the ring's first, else dropped.
func (r *Ring) Stream() io.Writer { return &ringStream{r: r} }

type ringStream struct {
	r    *Ring
	skip int // file header bytes of this stream seen
}

func (s *ringStream) Write(p []byte) (int, error) {
	n := len(p)
	if s.skip < pcapFileHeaderLen {
		k := min(pcapFileHeaderLen-s.skip, len(p))
		s.r.mu.Lock()
		first := s.r.nhdr < pcapFileHeaderLen
		if first {
			s.r.nhdr += copy(s.r.hdr[s.r.nhdr:], p[:k])
		}
		s.r.mu.Unlock()
		s.skip += k
		p = p[k:]
	}
	if len(p) == 0 {
		return n, nil
	}
	if _, err := s.r.write(p); err != nil {
		return 0, err
	}
	return n, nil
}

// Write takes the stream's bytes: the file header first, then records.
func (r *Ring) Write(p []byte) (int, error) {
	n := len(p)
	r.mu.Lock()
	if r.nhdr < pcapFileHeaderLen {
		k := copy(r.hdr[r.nhdr:], p)
		r.nhdr += k
		p = p[k:]
	}
	r.mu.Unlock()
	if _, err := r.write(p); err != nil {
		return 0, err
	}
	return n, nil
}

func (r *Ring) write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err != nil {
		return 0, r.err
	}
	if len(p) > 0 && r.order == nil {
		if r.nhdr < pcapFileHeaderLen {
			r.err = fmt.Errorf("%w: records before a whole file header", ErrRingFormat)
			return 0, r.err
		}
		switch {
		case binary.LittleEndian.Uint32(r.hdr[:]) == pcapMagicLE:
			r.order = binary.LittleEndian
		case binary.BigEndian.Uint32(r.hdr[:]) == pcapMagicLE:
			r.order = binary.BigEndian
		default:
			r.err = fmt.Errorf("%w: file header magic %#08x", ErrRingFormat, binary.LittleEndian.Uint32(r.hdr[:]))
			return 0, r.err
		}
	}
	n := len(p)
	for len(p) > 0 {
		if r.need == 0 {
			k := copy(r.rhdr[r.part:], p)
			r.put(p[:k])
			r.part += k
			p = p[k:]
			if r.part < pcapRecordHeaderLen {
				continue
			}
			r.need = pcapRecordHeaderLen + int(r.order.Uint32(r.rhdr[8:]))
			if r.need > len(r.buf) {
				r.err = fmt.Errorf("%w: a %d-byte record in a %d-byte ring", ErrRingTooSmall, r.need, len(r.buf))
				return 0, r.err
			}
		}
		k := min(len(p), r.need-r.part)
		r.put(p[:k])
		r.part += k
		p = p[k:]
		if r.part == r.need {
			r.pushRecord(r.need)
			r.part, r.need = 0, 0
		}
	}
	return n, nil
}

// put appends b to the ring, evicting the oldest whole records for room.
// The current record never exceeds the ring (checked once its length is
// known; its header alone always fits), so eviction always makes room.
func (r *Ring) put(b []byte) {
	for len(r.buf)-r.size < len(b) && r.rcount > 0 {
		l := r.recs[r.rhead]
		r.rhead = (r.rhead + 1) % len(r.recs)
		r.rcount--
		r.start = (r.start + l) % len(r.buf)
		r.size -= l
		r.evicted++
	}
	end := (r.start + r.size) % len(r.buf)
	k := copy(r.buf[end:], b)
	copy(r.buf, b[k:])
	r.size += len(b)
}

func (r *Ring) pushRecord(l int) {
	if r.rcount == len(r.recs) {
		grown := make([]int, 2*len(r.recs))
		for i := 0; i < r.rcount; i++ {
			grown[i] = r.recs[(r.rhead+i)%len(r.recs)]
		}
		r.recs, r.rhead = grown, 0
	}
	r.recs[(r.rhead+r.rcount)%len(r.recs)] = l
	r.rcount++
}

// Records is the number of whole records held.
func (r *Ring) Records() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.rcount
}

// Evicted is the number of records dropped to make room.
func (r *Ring) Evicted() uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.evicted
}

// WriteTo writes the file header and every whole record held, oldest
// first: a pcap file of the newest records. A record still being written
// is left out. Flush the recorders writing to the ring first.
func (r *Ring) WriteTo(w io.Writer) (int64, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.nhdr < pcapFileHeaderLen {
		return 0, fmt.Errorf("%w: nothing written yet", ErrRingFormat)
	}
	n, err := w.Write(r.hdr[:])
	total := int64(n)
	if err != nil {
		return total, err
	}
	whole := r.size - r.part
	first := min(whole, len(r.buf)-r.start)
	n, err = w.Write(r.buf[r.start : r.start+first])
	total += int64(n)
	if err != nil || first == whole {
		return total, err
	}
	n, err = w.Write(r.buf[:whole-first])
	return total + int64(n), err
}
