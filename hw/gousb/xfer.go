package gousb

/*
#cgo pkg-config: libusb-1.0
#include <libusb.h>
#include <pthread.h>
#include <stdlib.h>

// A dongle_cq is one endpoint's completion queue: libusb's event thread
// (gousb's event-handling goroutine) appends finished transfers from the C
// callback, and the endpoint's reaper takes them all at once. No Go code
// runs in the callback, and the reaper crosses into C once per batch.
typedef struct dongle_xfer dongle_xfer;

typedef struct dongle_cq {
	pthread_mutex_t mu;
	pthread_cond_t cond;
	dongle_xfer *head, *tail; // finished, not yet taken (FIFO)
	int stopped;
} dongle_cq;

struct dongle_xfer {
	struct libusb_transfer *t;
	dongle_xfer *next; // in the cq's list
	dongle_cq *cq;
	int index;
	int cap;    // bytes allocated at t->buffer
	int devmem; // t->buffer is libusb_dev_mem_alloc'd (usbfs mmap), not malloc'd
};

static void LIBUSB_CALL dongle_xfer_cb(struct libusb_transfer *t) {
	dongle_xfer *x = t->user_data;
	dongle_cq *q = x->cq;
	pthread_mutex_lock(&q->mu);
	x->next = NULL;
	if (q->tail)
		q->tail->next = x;
	else
		q->head = x;
	q->tail = x;
	pthread_cond_signal(&q->cond);
	pthread_mutex_unlock(&q->mu);
}

static dongle_cq *dongle_cq_new(void) {
	dongle_cq *q = calloc(1, sizeof *q);
	if (!q)
		return NULL;
	pthread_mutex_init(&q->mu, NULL);
	pthread_cond_init(&q->cond, NULL);
	return q;
}

// dongle_cq_take blocks until a transfer finished or the queue is stopped,
// and returns every finished transfer (linked by next), or NULL once
// stopped and empty.
static dongle_xfer *dongle_cq_take(dongle_cq *q) {
	pthread_mutex_lock(&q->mu);
	while (!q->head && !q->stopped)
		pthread_cond_wait(&q->cond, &q->mu);
	dongle_xfer *x = q->head;
	q->head = q->tail = NULL;
	pthread_mutex_unlock(&q->mu);
	return x;
}

static void dongle_cq_stop(dongle_cq *q) {
	pthread_mutex_lock(&q->mu);
	q->stopped = 1;
	pthread_cond_broadcast(&q->cond);
	pthread_mutex_unlock(&q->mu);
}

static void dongle_cq_free(dongle_cq *q) {
	pthread_cond_destroy(&q->cond);
	pthread_mutex_destroy(&q->mu);
	free(q);
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
static dongle_xfer *dongle_xfer_new(dongle_cq *q, libusb_device_handle *h, unsigned char ep,
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
	x->cq = q;
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
// to pin). Completions come through a C callback into the endpoint's
// dongle_cq; libusb runs the callback on gousb's event-handling
// goroutine, which already polls the context's file descriptors.
//
// Steady state, a transfer costs one cgo call to submit
// (libusb_submit_transfer: one USBDEVFS_SUBMITURB ioctl) and a share of
// one cgo call per batch of completions, and allocates nothing on either
// side.
type libusbXfers struct {
	q    *C.dongle_cq
	x    []*C.dongle_xfer
	bufs [][]byte // the Go buffer each submitted transfer carries
	in   bool
}

// newLibusbXfers allocates n transfers of bufSize bytes for endpoint ep
// on handle h.
func newLibusbXfers(h *C.libusb_device_handle, ep hw.EndpointDesc, n, bufSize int) (*libusbXfers, error) {
	q := C.dongle_cq_new()
	if q == nil {
		return nil, libusb.ErrorNoMem
	}
	r := &libusbXfers{q: q, x: make([]*C.dongle_xfer, n), bufs: make([][]byte, n), in: ep.In()}
	for i := range r.x {
		x := C.dongle_xfer_new(q, h, C.uchar(ep.Address), C.uchar(ep.Type()), C.int(i), C.int(bufSize))
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

func (r *libusbXfers) reap(out []xferDone) (int, bool) {
	x := C.dongle_cq_take(r.q)
	if x == nil {
		return 0, false
	}
	k := 0
	for ; x != nil; k++ {
		next := x.next // read before the transfer can be resubmitted
		i, t := int(x.index), x.t
		n := int(t.actual_length)
		var err error
		if t.status != C.LIBUSB_TRANSFER_COMPLETED {
			err = libusb.TransferStatus(t.status)
		}
		if r.in && n > 0 {
			copy(r.bufs[i][:n], unsafe.Slice((*byte)(unsafe.Pointer(t.buffer)), n))
		}
		r.bufs[i] = nil
		out[k] = xferDone{i: i, n: n, err: err}
		x = next
	}
	return k, true
}

func (r *libusbXfers) stop() { C.dongle_cq_stop(r.q) }

func (r *libusbXfers) free() {
	for i, x := range r.x {
		if x != nil {
			C.dongle_xfer_free(x)
			r.x[i] = nil
		}
	}
	if r.q != nil {
		C.dongle_cq_free(r.q)
		r.q = nil
	}
}
