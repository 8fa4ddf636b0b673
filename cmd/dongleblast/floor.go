package main

// The libusb floor: what any driver built on libusb pays per IN transfer
// on this host, with nothing of dongle in the way.
//
// rx -floor receives from a CDC-NCM function with a loop written in C on
// libusb alone: it claims the NCM control interface and the data
// interface its Union descriptor names, selects the data altsetting,
// keeps -rxurbs bulk IN transfers of dwNtbInMaxSize in flight, and in
// each transfer's callback counts the NTB's datagrams and resubmits it,
// on the one thread that handles libusb's events. Nothing is delivered
// anywhere and Go is called only to start, wait for the first frame, and
// end: no cgo callback, no goroutine hand-off, no copy, no sk_buff. Per
// transfer its usbfs work is dongle's (one submit ioctl, from device
// memory; a share of a poll wake-up and of the reap ioctls), so the
// floor's rate against the kernel's driver, same boot, says how much of
// a gap is usbfs's and how much is dongle's own.
//
// It has its own libusb context, not gousb's: gousb's event goroutine
// would handle the events, and every completion would cross into Go,
// which is what the floor leaves out.

/*
#cgo pkg-config: libusb-1.0
#include <libusb.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct floor_rx {
	libusb_context *ctx;
	libusb_device_handle *h;
	struct libusb_transfer **t;
	int nx, inflight, stopping;
	int nifaces, dataif;
	int ifaces[2]; // claimed, in claim order (control, data)
	long long frames, ntbs, bad, first_frames;
	long long first_ns, last_ns;
	int submit_err; // the first failed resubmission's libusb error
	int xfer_err;   // the first transfer that ended otherwise than completed, +1 (its status)
} floor_rx;

static uint32_t floor_le(const unsigned char *p, int w) {
	return w == 2 ? (uint32_t)(p[0] | p[1] << 8)
	              : (uint32_t)(p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24);
}

// floor_count is the datagrams of the NTB b[:n] (NTB16 or NTB32): the
// entries up to the null one in every NDP of the chain. A block that is
// not a well-formed NTB (no NTH, a block length past the transfer, an NDP
// without its signature or outside the block, a datagram outside it, a
// chain longer than the block could hold) counts 0 and once in *bad:
// nothing of it is trusted, so a chain that loops counts nothing twice.
static int floor_count(const unsigned char *b, int n, long long *bad) {
	int w;
	if (n >= 12 && memcmp(b, "NCMH", 4) == 0)
		w = 2;
	else if (n >= 16 && memcmp(b, "ncmh", 4) == 0)
		w = 4;
	else
		goto bad;
	// NTH16: wBlockLength at 8, wNdpIndex at 10; NTH32: dwBlockLength
	// at 8, dwNdpIndex at 12. NDP16 ("NCM0"/"NCM1"): wLength at 4,
	// wNextNdpIndex at 6, entries from 8; NDP32 ("ncm0"/"ncm1"): wLength
	// at 4, dwNextNdpIndex at 8, entries from 16.
	if (floor_le(b + 8, w) > (uint32_t)n)
		goto bad;
	const char *sig = w == 2 ? "NCM" : "ncm";
	int hdr = w == 2 ? 8 : 16;
	uint32_t ndp = floor_le(b + (w == 2 ? 10 : 12), w);
	int frames = 0;
	for (int hops = 0; ndp != 0; hops++) {
		if (hops > n / hdr || ndp > (uint32_t)n - hdr)
			goto bad;
		const unsigned char *p = b + ndp;
		uint32_t len = floor_le(p + 4, 2);
		if (memcmp(p, sig, 3) != 0 || (p[3] != '0' && p[3] != '1') || len < (uint32_t)hdr || len > (uint32_t)n - ndp)
			goto bad;
		for (uint32_t e = hdr; e + 2 * w <= len; e += 2 * w) {
			uint32_t di = floor_le(p + e, w), dl = floor_le(p + e + w, w);
			if (di == 0 || dl == 0)
				break;
			if (di < (uint32_t)(w == 2 ? 12 : 16) || di > (uint32_t)n || dl > (uint32_t)n - di)
				goto bad; // inside the NTH, or past the block
			frames++;
		}
		ndp = floor_le(p + (w == 2 ? 6 : 8), w);
	}
	return frames;
bad:
	(*bad)++;
	return 0;
}

static long long floor_now(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void LIBUSB_CALL floor_cb(struct libusb_transfer *t) {
	floor_rx *f = t->user_data;
	f->inflight--;
	if (t->status != LIBUSB_TRANSFER_COMPLETED) {
		// A stall, an error, an unplug: the floor measures a clean
		// stream, so the run ends (a cancel is floor_close's own).
		if (!f->stopping && f->xfer_err == 0)
			f->xfer_err = t->status + 1;
		return;
	}
	if (t->actual_length > 0) {
		int got = floor_count(t->buffer, t->actual_length, &f->bad);
		f->ntbs++;
		if (got > 0) {
			long long now = floor_now();
			if (f->frames == 0) {
				f->first_ns = now;
				f->first_frames = got;
			}
			f->last_ns = now;
			f->frames += got;
		}
	}
	if (f->stopping)
		return;
	int r = libusb_submit_transfer(t);
	if (r == 0)
		f->inflight++;
	else if (f->submit_err == 0)
		f->submit_err = r;
}

// floor_data is the data interface the CDC Union functional descriptor
// of control interface d names (bSubordinateInterface0; a Union whose
// bControlInterface is not d is not d's), or -1.
static int floor_data(const struct libusb_interface_descriptor *d) {
	const unsigned char *x = d->extra;
	for (int i = 0; i + 2 <= d->extra_length && x[i] >= 2; i += x[i])
		if (x[i] >= 5 && i + 5 <= d->extra_length && x[i + 1] == 0x24 && x[i + 2] == 0x06 &&
		    x[i + 3] == d->bInterfaceNumber)
			return x[i + 4];
	return -1;
}

// floor_open opens the first vid:pid device, finds its first NCM control
// interface and the data interface its Union descriptor names, claims
// the two (detaching the kernel's driver), reads dwNtbInMaxSize
// (GET_NTB_PARAMETERS), selects the data altsetting with the bulk IN
// endpoint and submits nx transfers of that size. 0, or a libusb error
// with *what saying which step failed.
static int floor_open(floor_rx *f, int vid, int pid, int nx, const char **what) {
	int r;
	f->dataif = -1;
	*what = "libusb_init";
	if ((r = libusb_init(&f->ctx)) != 0)
		return r;
	*what = "opening the device (none with that VID:PID, or no permission)";
	f->h = libusb_open_device_with_vid_pid(f->ctx, vid, pid);
	if (!f->h)
		return LIBUSB_ERROR_NOT_FOUND;
	libusb_set_auto_detach_kernel_driver(f->h, 1);
	struct libusb_config_descriptor *cfg;
	*what = "reading the active configuration";
	if ((r = libusb_get_active_config_descriptor(libusb_get_device(f->h), &cfg)) != 0)
		return r;
	int comm = -1, data = -1, alt = -1;
	unsigned char in = 0;
	for (int i = 0; i < cfg->bNumInterfaces && comm < 0; i++) {
		const struct libusb_interface_descriptor *d = &cfg->interface[i].altsetting[0];
		if (d->bInterfaceClass == LIBUSB_CLASS_COMM && d->bInterfaceSubClass == 0x0d) {
			comm = d->bInterfaceNumber;
			data = floor_data(d);
		}
	}
	for (int i = 0; i < cfg->bNumInterfaces && data >= 0 && alt < 0; i++)
		for (int a = 0; a < cfg->interface[i].num_altsetting && alt < 0; a++) {
			const struct libusb_interface_descriptor *d = &cfg->interface[i].altsetting[a];
			if (d->bInterfaceNumber != data || d->bInterfaceClass != LIBUSB_CLASS_DATA)
				continue;
			for (int e = 0; e < d->bNumEndpoints; e++) {
				const struct libusb_endpoint_descriptor *ep = &d->endpoint[e];
				if ((ep->bEndpointAddress & LIBUSB_ENDPOINT_IN) && (ep->bmAttributes & 3) == LIBUSB_TRANSFER_TYPE_BULK) {
					alt = d->bAlternateSetting;
					in = ep->bEndpointAddress;
					break;
				}
			}
		}
	libusb_free_config_descriptor(cfg);
	*what = "finding an NCM control interface, and the data interface its Union descriptor names with a bulk IN endpoint";
	if (comm < 0 || alt < 0)
		return LIBUSB_ERROR_NOT_FOUND;
	*what = "claiming the control interface";
	if ((r = libusb_claim_interface(f->h, comm)) != 0)
		return r;
	f->ifaces[f->nifaces++] = comm;
	*what = "claiming the data interface";
	if ((r = libusb_claim_interface(f->h, data)) != 0)
		return r;
	f->ifaces[f->nifaces++] = data;
	f->dataif = data;
	unsigned char p[28];
	*what = "GET_NTB_PARAMETERS";
	r = libusb_control_transfer(f->h, 0xa1, 0x80, 0, comm, p, sizeof p, 5000);
	if (r < 0)
		return r;
	*what = "GET_NTB_PARAMETERS: shorter than 28 bytes, or a dwNtbInMaxSize under 12 or over 1 MiB";
	int size = r == (int)sizeof p ? (int)floor_le(p + 4, 4) : 0;
	if (size < 12 || size > 1 << 20)
		return LIBUSB_ERROR_IO;
	*what = "selecting the data altsetting";
	libusb_set_interface_alt_setting(f->h, data, 0);
	if ((r = libusb_set_interface_alt_setting(f->h, data, alt)) != 0)
		return r;
	*what = "allocating the transfers";
	f->t = calloc(nx, sizeof *f->t);
	if (!f->t)
		return LIBUSB_ERROR_NO_MEM;
	for (int i = 0; i < nx; i++) {
		struct libusb_transfer *t = libusb_alloc_transfer(0);
		if (!t)
			return LIBUSB_ERROR_NO_MEM;
		f->t[f->nx++] = t;
		unsigned char *b = libusb_dev_mem_alloc(f->h, size);
		if (!b) {
			b = malloc(size);
			t->flags = LIBUSB_TRANSFER_FREE_BUFFER;
		}
		if (!b)
			return LIBUSB_ERROR_NO_MEM;
		libusb_fill_bulk_transfer(t, f->h, in, b, size, floor_cb, f, 0);
	}
	*what = "submitting the transfers";
	for (int i = 0; i < f->nx; i++) {
		if ((r = libusb_submit_transfer(f->t[i])) != 0)
			return r;
		f->inflight++;
	}
	return 0;
}

// floor_wait handles events until f has want frames, until it has any
// (first) or, past that, until idle_ms pass with no new frame; give_up_ms
// bounds it all. A failed resubmission ends it too.
static void floor_wait(floor_rx *f, long long want, int first, int idle_ms, int give_up_ms) {
	long long start = floor_now(), seen = f->frames, since = start;
	while (f->frames < want && !(first && f->frames > 0) && f->submit_err == 0 && f->xfer_err == 0 && f->inflight > 0) {
		struct timeval tv = {0, 100000};
		libusb_handle_events_timeout_completed(f->ctx, &tv, NULL);
		long long now = floor_now();
		if (f->frames != seen) {
			seen = f->frames;
			since = now;
		}
		if (now - start > (long long)give_up_ms * 1000000)
			break;
		if (!first && f->frames > 0 && now - since > (long long)idle_ms * 1000000)
			break;
	}
}

// floor_close cancels what is in flight and waits for it, selects
// altsetting 0 and releases the interfaces in reverse claim order, so
// that libusb re-attaches the kernel's driver to the control interface
// once the data interface it also binds is free again. 1: done; 0: a
// transfer was still in flight after 2 s, and everything is left to the
// process's end (the transfers point at f).
static int floor_close(floor_rx *f) {
	f->stopping = 1;
	for (int i = 0; i < f->nx; i++)
		libusb_cancel_transfer(f->t[i]);
	long long start = floor_now();
	while (f->inflight > 0 && floor_now() - start < 2000000000LL) {
		struct timeval tv = {0, 100000};
		libusb_handle_events_timeout_completed(f->ctx, &tv, NULL);
	}
	if (f->inflight > 0)
		return 0; // still libusb's: leave it all to the process's end
	for (int i = 0; i < f->nx; i++) {
		struct libusb_transfer *t = f->t[i];
		if (t->buffer && !(t->flags & LIBUSB_TRANSFER_FREE_BUFFER))
			libusb_dev_mem_free(f->h, t->buffer, t->length);
		libusb_free_transfer(t);
	}
	free(f->t);
	if (f->h) {
		if (f->dataif >= 0 && f->nifaces > 0)
			libusb_set_interface_alt_setting(f->h, f->dataif, 0);
		for (int i = f->nifaces - 1; i >= 0; i--)
			libusb_release_interface(f->h, f->ifaces[i]);
		libusb_close(f->h);
	}
	if (f->ctx)
		libusb_exit(f->ctx);
	return 1;
}
*/
import "C"

import (
	"flag"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unsafe"

	libusb "github.com/google/gousb"

	"dongle/hw/vmlab/guest"
)

// floorCount is floor_count on a copy of b in C memory of exactly its
// length, as a transfer's buffer is (for the tests): the datagrams
// counted, and 1 if b is not a well-formed NTB.
func floorCount(b []byte) (frames, bad int) {
	if len(b) == 0 {
		return 0, 1
	}
	c := C.CBytes(b)
	defer C.free(c)
	var nb C.longlong
	n := C.floor_count((*C.uchar)(c), C.int(len(b)), &nb)
	return int(n), int(nb)
}

// floorTakes are the flags rx -floor honours (-size is the sender's,
// which the bench passes to every rx run); any other set flag is an
// error rather than silently left out.
var floorTakes = map[string]bool{"floor": true, "dev": true, "n": true, "size": true, "rxurbs": true,
	"from": true, "timeout": true, "cpuprofile": true, "procs": true}

// floorFlags refuses a flag set in fs that rx -floor does not honour.
func floorFlags(fs *flag.FlagSet) error {
	var bad []string
	fs.Visit(func(f *flag.Flag) {
		if !floorTakes[f.Name] {
			bad = append(bad, "-"+f.Name)
		}
	})
	if len(bad) > 0 {
		return fmt.Errorf("floor: %s: not for the floor, which is no driver (it takes -dev, -n, -rxurbs, -from none, -timeout, -cpuprofile, -procs)", strings.Join(bad, " "))
	}
	return nil
}

// parseVIDPID reads "vvvv:pppp" (hex): the only selector the floor takes,
// since it opens the device without hw/gousb.
func parseVIDPID(sel string) (vid, pid uint16, err error) {
	v, p, ok := strings.Cut(sel, ":")
	if ok {
		var a, b uint64
		if a, err = strconv.ParseUint(v, 16, 16); err == nil {
			if b, err = strconv.ParseUint(p, 16, 16); err == nil {
				return uint16(a), uint16(b), nil
			}
		}
	}
	return 0, 0, fmt.Errorf("floor: -dev %q: want VID:PID in hex (the floor opens the first such device itself)", sel)
}

// floorRX is rx -floor: it counts n datagrams through the C loop, with
// the rx line and its CPU figures as rx prints them (guest.FloorMark says
// whose they are). from is "none" (another process sends once "ready" is
// out) or "" (the frames come by themselves); the rest of rx's ways to
// make traffic need dongle's driver.
func floorRX(sel string, n, xfers int, from string, timeout time.Duration) error {
	if from != "none" && from != "" {
		return fmt.Errorf("floor: -from %q: the floor only counts (-from none, with a sender of its own)", from)
	}
	vid, pid, err := parseVIDPID(sel)
	if err != nil {
		return err
	}
	if xfers <= 0 {
		xfers = 16
	}
	f := (*C.floor_rx)(C.calloc(1, C.sizeof_floor_rx))
	if f == nil {
		return fmt.Errorf("floor: %04x:%04x: %w", vid, pid, libusb.ErrorNoMem)
	}
	defer func() {
		// Transfers libusb still holds point at f: then it stays.
		if C.floor_close(f) != 0 {
			C.free(unsafe.Pointer(f))
		}
	}()
	var what *C.char
	if r := C.floor_open(f, C.int(vid), C.int(pid), C.int(xfers), &what); r != 0 {
		return fmt.Errorf("floor: %04x:%04x: %s: %w", vid, pid, C.GoString(what), libusb.Error(r))
	}
	fmt.Println("DONGLEBLAST rx ready")
	ms := C.int(timeout.Milliseconds())
	C.floor_wait(f, C.longlong(n), 1, 1000, ms)
	tk0, ru0 := busyTicks(), cpuTime()
	C.floor_wait(f, C.longlong(n), 0, 1000, ms)
	tk, ru := ticksSince(tk0), cpuTime()
	got := uint64(f.frames)
	var iv uint64
	if got > uint64(f.first_frames) {
		iv = got - uint64(f.first_frames)
	}
	per := func(ns int64) float64 { return float64(ns) / 1e3 / float64(max(got, 1)) }
	report("rx", got, n, iv, time.Duration(f.last_ns-f.first_ns), blastResult{}, fmt.Sprintf(
		"guest_ticks=%d rx_errors=%d rx_dropped=0 cpu_us_per_frame=%.1f (user %.1f sys %.1f) %s ntbs=%d",
		tk, int64(f.bad), per(ru[0]-ru0[0]+ru[1]-ru0[1]), per(ru[0]-ru0[0]), per(ru[1]-ru0[1]), guest.FloorMark, int64(f.ntbs)))
	if f.xfer_err != 0 {
		return fmt.Errorf("floor: %04x:%04x: a bulk IN transfer ended %w", vid, pid, libusb.TransferStatus(f.xfer_err-1))
	}
	if f.submit_err != 0 {
		return fmt.Errorf("floor: %04x:%04x: resubmitting a bulk IN transfer: %w", vid, pid, libusb.Error(f.submit_err))
	}
	if f.bad != 0 {
		return fmt.Errorf("floor: %04x:%04x: %d of %d transfers were no well-formed NTB (their datagrams not counted)", vid, pid, int64(f.bad), int64(f.ntbs))
	}
	return nil
}
