package gousb

/*
#cgo pkg-config: libusb-1.0
#include <libusb.h>
#include <stdint.h>
#include <sched.h>
#include <stdlib.h>

// The transfer callback does not call Go for each finished transfer: it
// records the completion in its endpoint's ring (dongle_done_ring) and
// calls into Go (dongleXfersWake, callback.go) only when the Go side has
// armed the ring, that is, when it has reaped everything and waits for more.
// The Go side reaps the ring itself, without a cgo call, on whatever
// goroutine waits for the endpoint:
//
//	callback: e[tail] = {index, status, n}; seq = tail+1  ┐ at most one call into Go
//	          if exchange(armed, 0): dongleXfersWake(h)    ┘ per batch
//	Go (endpoint lock): while e[head].seq == head+1: complete it; head++
//	                    when nothing is left: armed = 1, then look once more
//
// armed is set after the consumer's last look and cleared by a callback
// after its entry is published, both sequentially consistent, so either
// the consumer's second look sees the entry or the callback sees armed:
// no completion is left unreaped with no call to reap it.
extern void dongleXfersWake(uintptr_t h);

// dongle_done is one completion. seq is the ring position plus one once
// the entry is written (0, or an older position, before).
typedef struct dongle_done {
	unsigned seq;
	int index;
	int status;
	int n;
} dongle_done;

// dongle_done_ring is one endpoint's completion ring. It holds at most
// one entry per transfer (a transfer goes back out only once reaped), so
// mask+1, a power of two at least the number of transfers, never fills.
// Callbacks are serialised by libusb's event handling, but take their
// position with an atomic add all the same, so the ring does not depend
// on it.
typedef struct dongle_done_ring {
	unsigned tail;   // the next position a callback takes
	int armed;       // 1: the next completion calls dongleXfersWake
	int active;      // callbacks between their first and last access
	unsigned mask;
	uintptr_t h;     // the libusbXfers' cgo.Handle
	dongle_done *e;
} dongle_done_ring;

typedef struct dongle_xfer {
	struct libusb_transfer *t;
	dongle_done_ring *ring;
	int index;
	int cap;    // bytes allocated at t->buffer
	int devmem; // t->buffer is libusb_dev_mem_alloc'd (usbfs mmap), not malloc'd
} dongle_xfer;

// dongle_xfer_cb must not touch x once the entry is published: Go may
// reap it, the endpoint close and free the transfer at once. The ring
// itself stays until active is back to 0 (dongle_ring_free waits).
static void LIBUSB_CALL dongle_xfer_cb(struct libusb_transfer *t) {
	dongle_xfer *x = t->user_data;
	dongle_done_ring *r = x->ring;
	__atomic_add_fetch(&r->active, 1, __ATOMIC_SEQ_CST);
	unsigned pos = __atomic_fetch_add(&r->tail, 1, __ATOMIC_SEQ_CST);
	dongle_done *d = &r->e[pos & r->mask];
	d->index = x->index;
	d->status = t->status;
	d->n = t->actual_length;
	__atomic_store_n(&d->seq, pos + 1, __ATOMIC_SEQ_CST);
	if (__atomic_exchange_n(&r->armed, 0, __ATOMIC_SEQ_CST))
		dongleXfersWake(r->h);
	__atomic_sub_fetch(&r->active, 1, __ATOMIC_SEQ_CST);
}

// dongle_ring_new makes a ring for n transfers, armed (nothing reaped
// yet, so the first completion must call). NULL: out of memory.
static dongle_done_ring *dongle_ring_new(uintptr_t h, int n) {
	unsigned size = 1;
	while (size < (unsigned)n)
		size <<= 1;
	dongle_done_ring *r = calloc(1, sizeof *r);
	if (!r)
		return NULL;
	r->e = calloc(size, sizeof *r->e);
	if (!r->e) {
		free(r);
		return NULL;
	}
	r->mask = size - 1;
	r->h = h;
	r->armed = 1;
	return r;
}

// dongle_ring_free frees r once no callback is inside it. The caller has
// reaped every completion, so a callback still inside has published its
// entry and has at most its wake-up left to make.
static void dongle_ring_free(dongle_done_ring *r) {
	while (__atomic_load_n(&r->active, __ATOMIC_SEQ_CST) != 0)
		sched_yield();
	free(r->e);
	free(r);
}

// dongle_buf_alloc returns a size-byte buffer: device memory (usbfs maps
// it, so the kernel neither allocates a bounce buffer on each submit nor
// copies the data on each completion) where the kernel offers it, else
// malloc; *devmem says which. NULL: out of memory. It touches no transfer,
// so a failed allocation leaves the caller's buffer as it was.
static unsigned char *dongle_buf_alloc(libusb_device_handle *h, int size, int *devmem) {
	unsigned char *b = libusb_dev_mem_alloc(h, (size_t)size);
	if (b) {
		*devmem = 1;
		return b;
	}
	*devmem = 0;
	return malloc(size);
}

static void dongle_buf_free(dongle_xfer *x) {
	if (!x->t->buffer)
		return;
	if (x->devmem)
		libusb_dev_mem_free(x->t->dev_handle, x->t->buffer, (size_t)x->cap);
	else
		free(x->t->buffer);
	x->t->buffer = NULL;
}

// dongle_buf_set frees x's buffer (none yet right after
// libusb_alloc_transfer, which zeroes the transfer) and gives it b.
static void dongle_buf_set(dongle_xfer *x, unsigned char *b, int devmem, int size) {
	dongle_buf_free(x);
	x->t->buffer = b;
	x->devmem = devmem;
	x->cap = size;
}

// dongle_xfer_new allocates a bulk or interrupt transfer on endpoint ep
// with no timeout (libusb then arms no timer and reads no clock for it;
// the endpoint queue cancels instead) and a cap-byte buffer.
static dongle_xfer *dongle_xfer_new(dongle_done_ring *ring, libusb_device_handle *h, unsigned char ep,
                                    unsigned char type, int index, int cap) {
	dongle_xfer *x = calloc(1, sizeof *x);
	if (!x)
		return NULL;
	x->t = libusb_alloc_transfer(0);
	if (!x->t) {
		free(x);
		return NULL;
	}
	x->t->dev_handle = h;
	int size = cap > 0 ? cap : 1, devmem;
	unsigned char *b = dongle_buf_alloc(h, size, &devmem);
	if (!b) {
		libusb_free_transfer(x->t);
		free(x);
		return NULL;
	}
	dongle_buf_set(x, b, devmem, size);
	x->ring = ring;
	x->index = index;
	x->t->endpoint = ep;
	x->t->type = type;
	x->t->timeout = 0;
	x->t->callback = dongle_xfer_cb;
	x->t->user_data = x;
	return x;
}

// dongle_xfer_grow makes the buffer at least size bytes (the transfer is
// idle). 0: done; -1: out of memory, the old buffer is kept.
static int dongle_xfer_grow(dongle_xfer *x, int size) {
	int devmem;
	unsigned char *b = dongle_buf_alloc(x->t->dev_handle, size, &devmem);
	if (!b)
		return -1;
	dongle_buf_set(x, b, devmem, size);
	return 0;
}

static void dongle_xfer_free(dongle_xfer *x) {
	dongle_buf_free(x);
	libusb_free_transfer(x->t);
	free(x);
}
*/
import "C"

import (
	"fmt"
	"runtime/cgo"
	"sync/atomic"
	"unsafe"

	libusb "github.com/google/gousb"

	"dongle/hw"
)

// libusbXfers implements xfers with n libusb_transfer objects allocated
// once per open endpoint, each with a C buffer (usbfs device memory from
// libusb_dev_mem_alloc where the kernel has it, which spares the kernel a
// buffer allocation and a copy per transfer, else malloc'd; grown when a
// larger hw.Transfer comes; cgo forbids C keeping Go pointers, so data is
// copied in on OUT and out on IN, 1514 bytes being cheaper to copy than
// to pin).
//
// libusb runs the C callback on the thread handling its events (gousb's
// event goroutine, or a synchronous control transfer's caller). The
// callback only records the completion in the endpoint's C ring; the
// endpoint reaps the ring from Go (reap reads C memory with atomic loads,
// no cgo call), and the callback calls into Go (wake) only when the
// endpoint has armed it, having reaped everything. Why: a call from C into
// Go on the event thread, which sits in a long cgo call whose P the
// scheduler has handed on, has to get a P back, and under the lab's TCG
// that costs more than everything usbfs does for the transfer. One call
// per batch instead of one per transfer is the difference.
//
// Steady state, a transfer costs one cgo call to submit
// (libusb_submit_transfer: one USBDEVFS_SUBMITURB ioctl) and a share of
// one call into Go per batch to wake the reaper, and allocates nothing on either
// side.
type libusbXfers struct {
	x    []*C.dongle_xfer
	bufs [][]byte // the Go buffer each submitted transfer carries
	in   bool
	wake func()
	h    cgo.Handle // how the callback finds r

	ring  *C.dongle_done_ring
	e     []C.dongle_done // ring.e
	mask  uint32          // ring.mask, read once: the callback writes that line
	armed *int32          // &ring.armed
	head  uint32          // the next position reap reads; the endpoint's lock
}

var _ xfers = (*libusbXfers)(nil)

// newLibusbXfers allocates n transfers of bufSize bytes for endpoint ep
// on handle h, whose completions call wake as the seam says.
func newLibusbXfers(h *C.libusb_device_handle, ep hw.EndpointDesc, n, bufSize int, wake func()) (*libusbXfers, error) {
	r := &libusbXfers{x: make([]*C.dongle_xfer, n), bufs: make([][]byte, n), in: ep.In(), wake: wake}
	r.h = cgo.NewHandle(r)
	r.ring = C.dongle_ring_new(C.uintptr_t(r.h), C.int(n))
	if r.ring == nil {
		r.free()
		return nil, fmt.Errorf("%w: allocating the completion ring for %d transfers", libusb.ErrorNoMem, n)
	}
	r.mask = uint32(r.ring.mask)
	r.e = unsafe.Slice(r.ring.e, int(r.mask)+1)
	r.armed = (*int32)(unsafe.Pointer(&r.ring.armed))
	for i := range r.x {
		x := C.dongle_xfer_new(r.ring, h, C.uchar(ep.Address), C.uchar(ep.Type()), C.int(i), C.int(bufSize))
		if x == nil {
			r.free()
			return nil, fmt.Errorf("%w: allocating transfer %d of %d", libusb.ErrorNoMem, i, n)
		}
		r.x[i] = x
	}
	return r, nil
}

func (r *libusbXfers) submit(i int, buf []byte) error {
	x := r.x[i]
	if len(buf) > int(x.cap) && C.dongle_xfer_grow(x, C.int(len(buf))) != 0 {
		return libusb.ErrorNoMem
	}
	t := x.t
	if !r.in && len(buf) > 0 {
		copy(unsafe.Slice((*byte)(unsafe.Pointer(t.buffer)), len(buf)), buf)
	}
	t.length = C.int(len(buf))
	r.bufs[i] = buf
	if rc := C.libusb_submit_transfer(t); rc != 0 {
		r.bufs[i] = nil
		return libusb.Error(rc)
	}
	return nil
}

func (r *libusbXfers) cancel(i int) {
	C.libusb_cancel_transfer(r.x[i].t) // NOT_FOUND: finished already
}

// seq is the address of the sequence word of the entry at position pos.
func (r *libusbXfers) seq(pos uint32) *uint32 {
	return (*uint32)(unsafe.Pointer(&r.e[pos&r.mask].seq))
}

// reap hands every completion the callback has published to done, in the
// order published; the entry's fields are read after its sequence word,
// which the callback writes last.
func (r *libusbXfers) reap(done func(xferDone)) {
	for atomic.LoadUint32(r.seq(r.head)) == r.head+1 {
		d := &r.e[r.head&r.mask]
		i, status, n := int(d.index), int(d.status), int(d.n)
		r.head++
		var err error
		if status != C.LIBUSB_TRANSFER_COMPLETED {
			err = libusb.TransferStatus(status)
		}
		if r.in && n > 0 {
			copy(r.bufs[i][:n], unsafe.Slice((*byte)(unsafe.Pointer(r.x[i].t.buffer)), n))
		}
		r.bufs[i] = nil
		done(xferDone{i: i, n: n, err: err})
	}
}

// arm asks the callback to call wake for the next completion; it is
// false if one was published before the ring was armed (reap again).
func (r *libusbXfers) arm() bool {
	atomic.StoreInt32(r.armed, 1)
	return atomic.LoadUint32(r.seq(r.head)) != r.head+1
}

func (r *libusbXfers) free() {
	for i, x := range r.x {
		if x != nil {
			C.dongle_xfer_free(x)
			r.x[i] = nil
		}
	}
	if r.ring != nil {
		C.dongle_ring_free(r.ring) // waits out a callback's last wake-up
		r.ring, r.e, r.armed = nil, nil, nil
	}
	if r.h != 0 {
		r.h.Delete()
		r.h = 0
	}
}
