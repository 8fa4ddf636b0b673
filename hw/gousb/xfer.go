package gousb

/*
#cgo pkg-config: libusb-1.0
#include <libusb.h>
#include <stdint.h>
#include <stdlib.h>

// The transfer callback hands each finished transfer straight to Go
// (dongleXferDone, callback.go) on the thread that handles libusb's events
// (gousb's event goroutine, or a synchronous control transfer's caller):
// the endpoint completes it there and resubmits whatever waits, as libusb
// allows from a callback, so no other thread has to be woken for it.
extern void dongleXferDone(uintptr_t h, int index, int status, int n);

typedef struct dongle_xfer {
	struct libusb_transfer *t;
	uintptr_t h; // the libusbXfers' cgo.Handle
	int index;
	int cap;    // bytes allocated at t->buffer
	int devmem; // t->buffer is libusb_dev_mem_alloc'd (usbfs mmap), not malloc'd
} dongle_xfer;

// dongle_xfer_cb must not touch x once Go has it: the endpoint may free
// the transfer as soon as it has recorded the completion.
static void LIBUSB_CALL dongle_xfer_cb(struct libusb_transfer *t) {
	dongle_xfer *x = t->user_data;
	dongleXferDone(x->h, x->index, t->status, t->actual_length);
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
static dongle_xfer *dongle_xfer_new(uintptr_t handle, libusb_device_handle *h, unsigned char ep,
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
	x->h = handle;
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
// to pin). libusb runs the C callback on the thread handling its events
// (gousb's event goroutine, which already polls the context's file
// descriptors, or a synchronous control transfer's caller); the callback
// calls done through one cgo callback.
//
// Steady state, a transfer costs one cgo call to submit
// (libusb_submit_transfer: one USBDEVFS_SUBMITURB ioctl) and one callback
// into Go to complete, and allocates nothing on either side.
type libusbXfers struct {
	x    []*C.dongle_xfer
	bufs [][]byte // the Go buffer each submitted transfer carries
	in   bool
	done func(xferDone)
	h    cgo.Handle // how the callback finds r
}

var _ xfers = (*libusbXfers)(nil)

// newLibusbXfers allocates n transfers of bufSize bytes for endpoint ep
// on handle h, which report to done.
func newLibusbXfers(h *C.libusb_device_handle, ep hw.EndpointDesc, n, bufSize int, done func(xferDone)) (*libusbXfers, error) {
	r := &libusbXfers{x: make([]*C.dongle_xfer, n), bufs: make([][]byte, n), in: ep.In(), done: done}
	r.h = cgo.NewHandle(r)
	for i := range r.x {
		x := C.dongle_xfer_new(C.uintptr_t(r.h), h, C.uchar(ep.Address), C.uchar(ep.Type()), C.int(i), C.int(bufSize))
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

// completed is transfer i's callback: status and n are the
// libusb_transfer's status and actual_length.
func (r *libusbXfers) completed(i, status, n int) {
	var err error
	if status != C.LIBUSB_TRANSFER_COMPLETED {
		err = libusb.TransferStatus(status)
	}
	if r.in && n > 0 {
		copy(r.bufs[i][:n], unsafe.Slice((*byte)(unsafe.Pointer(r.x[i].t.buffer)), n))
	}
	r.bufs[i] = nil
	r.done(xferDone{i: i, n: n, err: err})
}

func (r *libusbXfers) free() {
	for i, x := range r.x {
		if x != nil {
			C.dongle_xfer_free(x)
			r.x[i] = nil
		}
	}
	if r.h != 0 {
		r.h.Delete()
		r.h = 0
	}
}
