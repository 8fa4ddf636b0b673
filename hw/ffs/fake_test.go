package ffs_test

import (
	"encoding/binary"
	"errors"
	"sync"

	"dongle/hw"
	"dongle/hw/ffs"
)

var errClosed = errors.New("fake: closed")

// op is one call a fake file saw.
type op struct {
	write bool
	data  []byte // written bytes, or for a read the buffer length in n
	n     int
}

// fakeEP0 is ep0: Read hands out queued events (or, during a SETUP's data
// stage, queued OUT data); every call is logged.
type fakeEP0 struct {
	mu     sync.Mutex
	ops    []op
	events chan []byte
	data   chan []byte
	done   chan struct{}
	once   sync.Once
	acked  chan op // every zero-length read or write, and every answer write
	fail   chan error
}

func newEP0() *fakeEP0 {
	return &fakeEP0{events: make(chan []byte, 16), data: make(chan []byte, 16), done: make(chan struct{}), acked: make(chan op, 64), fail: make(chan error, 4)}
}

func (f *fakeEP0) Read(p []byte) (int, error) {
	f.mu.Lock()
	f.ops = append(f.ops, op{n: len(p)})
	f.mu.Unlock()
	if len(p) == 0 {
		f.acked <- op{n: 0}
		return 0, nil
	}
	if len(p)%ffs.EventSize == 0 && len(p) >= 4*ffs.EventSize {
		select {
		case err := <-f.fail:
			return 0, err
		default:
		}
		select {
		case e := <-f.events:
			return copy(p, e), nil
		case <-f.done:
			return 0, errClosed
		}
	}
	select {
	case d := <-f.data:
		n := copy(p, d)
		f.acked <- op{n: n}
		return n, nil
	case <-f.done:
		return 0, errClosed
	}
}

func (f *fakeEP0) Write(p []byte) (int, error) {
	f.mu.Lock()
	f.ops = append(f.ops, op{write: true, data: append([]byte{}, p...)})
	f.mu.Unlock()
	f.acked <- op{write: true, data: append([]byte{}, p...)}
	return len(p), nil
}

func (f *fakeEP0) Close() error { f.once.Do(func() { close(f.done) }); return nil }

func (f *fakeEP0) setup(s hw.Setup) {
	b := make([]byte, ffs.EventSize)
	sb := s.Bytes()
	copy(b, sb[:])
	b[8] = byte(ffs.EventSetup)
	f.events <- b
}

func (f *fakeEP0) event(t ffs.EventType) {
	b := make([]byte, ffs.EventSize)
	b[8] = byte(t)
	f.events <- b
}

// fakeEP is an endpoint file: for IN, Write delivers to host; for OUT, Read
// takes from host.
type fakeEP struct {
	fail  chan error // errors the next writes return (a disabled endpoint)
	short chan int   // byte counts the next writes report (the host took less)
	host  chan []byte
	done  chan struct{}
	once  sync.Once
	addr  uint8
	mps   int // wMaxPacketSize at the connected speed (MaxPacket); 0: unknown

	mu    sync.Mutex
	rest  []byte // what the last read request left of the host's transfer
	reads []int
}

// Read is a FunctionFS read request of len(p) bytes: it takes the host's
// transfer up to len(p) bytes, and the rest goes to the next request (a
// request ends at a short packet or when full). Every request size is
// recorded.
func (f *fakeEP) Read(p []byte) (int, error) {
	f.mu.Lock()
	f.reads = append(f.reads, len(p))
	rest := f.rest
	f.mu.Unlock()
	if rest == nil {
		select {
		case rest = <-f.host:
		case <-f.done:
			return 0, errClosed
		}
	}
	n := copy(p, rest)
	f.mu.Lock()
	if f.rest = rest[n:]; len(f.rest) == 0 {
		f.rest = nil
	}
	f.mu.Unlock()
	return n, nil
}

// readSizes is the length of every read request so far.
func (f *fakeEP) readSizes() []int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]int(nil), f.reads...)
}

func (f *fakeEP) Write(p []byte) (int, error) {
	select {
	case err := <-f.fail:
		return 0, err
	default:
	}
	n := len(p)
	select {
	case n = <-f.short:
	default:
	}
	select {
	case f.host <- append([]byte(nil), p[:n]...):
		return n, nil
	case <-f.done:
		return 0, errClosed
	}
}

func (f *fakeEP) Close() error { f.once.Do(func() { close(f.done) }); return nil }

func (f *fakeEP) HostAddress() (uint8, error) { return f.addr, nil }

func (f *fakeEP) MaxPacket() (int, error) {
	if f.mps == 0 {
		return 0, errors.New("fake: speed unknown")
	}
	return f.mps, nil
}

// hostAddrs are the addresses the fake "UDC" gives ep1..ep3 (renumbered,
// as dummy_hcd's autoconfig does).
var hostAddrs = map[int]uint8{1: 0x85, 2: 0x92, 3: 0x04}

// fakeFunction is a FunctionFS instance whose ep files exist once ep0 got
// the descriptors and the strings.
type fakeFunction struct {
	ep0 *fakeEP0
	eps map[int]*fakeEP
	mps map[int]int // the connected speed's packet size of epK, if the file tells it
}

func newFunction() *fakeFunction { return &fakeFunction{ep0: newEP0(), eps: map[int]*fakeEP{}} }

func (f *fakeFunction) EP0() (ffs.File, error) { return f.ep0, nil }

func (f *fakeFunction) Endpoint(k int) (ffs.File, error) {
	f.ep0.mu.Lock()
	written := 0
	for _, o := range f.ep0.ops {
		if o.write && len(o.data) >= 4 && (binary.LittleEndian.Uint32(o.data) == 3 || binary.LittleEndian.Uint32(o.data) == 2) {
			written++
		}
	}
	f.ep0.mu.Unlock()
	if written < 2 {
		return nil, errors.New("fake: endpoint files exist only after descriptors and strings")
	}
	e := &fakeEP{fail: make(chan error, 4), short: make(chan int, 4), host: make(chan []byte, 64), done: make(chan struct{}), addr: hostAddrs[k], mps: f.mps[k]}
	f.eps[k] = e
	return e, nil
}

func (f *fakeFunction) closeAll() {
	f.ep0.Close()
	for _, e := range f.eps {
		e.Close()
	}
}
