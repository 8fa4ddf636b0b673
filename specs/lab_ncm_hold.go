package specs

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gleak"

	"dongle/hw"
	"dongle/hw/record"
	"dongle/usbnet"
	"dongle/usbnet/catalog"
)

// Linux f_ncm's held NTB (a finding about the kernel's gadget, 1209:0002).
//
// f_ncm (drivers/usb/gadget/function/f_ncm.c, Linux 6.1) gathers the frames
// its netdev sends into one open NTB and hands it to u_ether when a frame
// does not fit (ncm_wrap_ntb: 16 KB, or TX_MAX_NUM_DPE = 32 entries, one of
// them the zero terminator), or when its flush timer fires
// (TX_TIMEOUT_NSECS = 300 µs). The timer is started only where ncm_wrap_ntb
// opens a new NTB; its callback, ncm_tx_timeout, calls u_ether's
// eth_start_xmit with no skb and returns HRTIMER_NORESTART. eth_start_xmit
// needs a free IN request for that flush: when every request is queued at
// the UDC (dev->tx_reqs empty, the host not reading) it returns
// NETDEV_TX_BUSY, and nothing arms the timer again. Every later frame joins
// the open NTB (eth_start_xmit → ncm_wrap_ntb adds it, the request goes
// back), so it leaves only when 31 datagrams or 16 KB have filled it.
// Neither ncm_set_alt (gether_disconnect, ncm_reset_values) nor a UDC
// unbind (ncm_disable, ncm_unbind cancels the timer) frees it, so the
// frames stay held across SET_INTERFACE and replug: in
// fixtures/finding-f_ncm-held-ntb.pcap an unplug spec's last six frames
// and the frames of eleven specs after it waited three minutes in one
// NTB, and ten frames held before an unplug left after the replug only
// with 21 more (the second spec, when the udc fault's Restore does not
// give f_ncm a fresh start).
//
// The first spec below makes the hold happen on purpose, through the raw
// USB device (no driver: the host reads exactly when the spec says) and
// the gadget's netdev (the iface:gncm0 peer), and asserts it as the
// device's expected failure. The second asserts that the backend's replug
// (udc:ncm) brings the gadget back without a held NTB, as the replug of a
// real device does, so that no spec after an unplug inherits one.

// fNCMNTBSize is f_ncm's NTB size (NTB_DEFAULT_IN_SIZE, 16 KB): one
// bulk IN transfer of that size takes one NTB.
const fNCMNTBSize = 16384

// fNCMMaxDatagrams is how many datagrams f_ncm puts in one NTB at most:
// TX_MAX_NUM_DPE (32) entries, one of them the zero entry that ends the NDP.
const fNCMMaxDatagrams = 31

// holdSeqBase is the first sequence number of the hold spec's frames.
const holdSeqBase = 1 << 28

// ErrNotHeldTail: frames the gadget's netdev sent went missing, and not as
// the tail the held NTB explains (a loss somewhere else).
var ErrNotHeldTail = errors.New("frames missing that a held NTB does not explain")

// heldTail checks what arrived of the frames 0..sent-1 (got[seq]) while
// the host read everything the gadget offered: f_ncm's finding is that a
// tail of them, at most one NTB's worth, is held. It returns the tail's
// length. ErrFindingGone: nothing was held (the gadget flushed the NTB
// whose timer fired with no free request). ErrNotHeldTail: what is missing
// is not such a tail.
func heldTail(sent int, got map[int]bool) (int, error) {
	first := sent
	for first > 0 && !got[first-1] {
		first--
	}
	held := sent - first
	var gaps []int
	for seq := 0; seq < first; seq++ {
		if !got[seq] {
			gaps = append(gaps, seq)
		}
	}
	switch {
	case len(gaps) > 0:
		return held, fmt.Errorf("%w: %d of frames 0..%d missing before the tail (first: %d)", ErrNotHeldTail, len(gaps), first-1, gaps[0])
	case held == 0:
		return 0, fmt.Errorf("%w: Linux f_ncm sent all %d frames once the host read again: it now flushes an NTB whose timer fired while every IN request was queued; drop the held-NTB expectation (specs/lab_ncm_hold.go)", ErrFindingGone, sent)
	case held > fNCMMaxDatagrams:
		return held, fmt.Errorf("%w: the last %d frames are missing, more than one NTB holds (%d)", ErrNotHeldTail, held, fNCMMaxDatagrams)
	}
	return held, nil
}

// releaseAfter is how many more frames the gadget's netdev must send for
// an NTB holding held datagrams to leave: the ones that fill it to
// fNCMMaxDatagrams, and the one that does not fit (ncm_wrap_ntb packages
// the full NTB when that one arrives, and opens the next with it).
func releaseAfter(held int) int { return fNCMMaxDatagrams - held + 1 }

// FNCMHeldNTB is the finding the spec asserts.
const FNCMHeldNTB = "Linux f_ncm holds the frames of an NTB whose flush timer fired while every IN request was queued (ncm_tx_timeout → eth_start_xmit(NULL) returns NETDEV_TX_BUSY, HRTIMER_NORESTART, and only ncm_wrap_ntb opening a new NTB starts the timer): they leave only when later frames fill the NTB"

// ntbArrival is a test frame the host read out of an NTB.
type ntbArrival struct {
	seq int
	at  time.Time
}

// rawNCMReader reads f_ncm's bulk IN endpoint without a driver: one
// transfer on request (readOne) or continuously (start/stop), parsing each
// NTB with cdc_ncm's Reader and passing this run's test frames on.
//
// Invariants: at most one reading goroutine, started by start and ended by
// stop (which reaps every transfer, so the endpoint can close); frames
// reach arrivals in the order the gadget sent them.
type rawNCMReader struct {
	ep       hw.Endpoint
	r        usbnet.RxUnframer // cdc_ncm's, through the catalog
	arrivals chan ntbArrival
	foreign  atomic.Int64 // datagrams that were not this run's test frames
	stale    atomic.Int64 // this run's test frames numbered below base: sent before
	base     int
	ntbs     atomic.Int64

	mu   sync.Mutex
	errs []error

	stopping atomic.Bool
	done     chan struct{}
}

func newRawNCMReader(ep hw.Endpoint, base int, r usbnet.RxUnframer) *rawNCMReader {
	return &rawNCMReader{ep: ep, base: base, arrivals: make(chan ntbArrival, 4096), r: r}
}

func (x *rawNCMReader) fail(err error) {
	x.mu.Lock()
	x.errs = append(x.errs, err)
	x.mu.Unlock()
}

// err is every error reading met so far.
func (x *rawNCMReader) err() error {
	x.mu.Lock()
	defer x.mu.Unlock()
	return errors.Join(x.errs...)
}

// parse passes on the test frames of one completed transfer.
func (x *rawNCMReader) parse(t *hw.Transfer) {
	switch {
	case errors.Is(t.Err, hw.ErrCancelled):
		if t.N == 0 {
			return
		}
	case t.Err != nil:
		x.fail(fmt.Errorf("bulk IN: %w", t.Err))
		return
	}
	now := time.Now()
	p := t.Data()
	x.ntbs.Add(1)
	if _, err := x.r.Rx(p, len(p), func(f []byte, _ int) {
		if !IsTestFrame(f) {
			x.foreign.Add(1)
			return
		}
		if FrameSeq(f) < x.base {
			x.stale.Add(1) // a frame sent before, held until now
			return
		}
		select {
		case x.arrivals <- ntbArrival{seq: FrameSeq(f), at: now}:
		default:
			x.fail(errors.New("arrival queue full"))
		}
	}); err != nil {
		x.fail(fmt.Errorf("NTB %d: %w", x.ntbs.Load(), err))
	}
}

func newNTBTransfer() *hw.Transfer {
	return &hw.Transfer{Buf: make([]byte, fNCMNTBSize)}
}

// readOne reads exactly one transfer: the host takes one NTB and no more.
func (x *rawNCMReader) readOne(ctx context.Context) error {
	t := newNTBTransfer()
	if err := x.ep.Submit(t); err != nil {
		return err
	}
	wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	got, err := x.ep.Wait(wctx)
	if err != nil {
		x.ep.Cancel()
		_, _ = x.ep.Wait(context.Background())
		return fmt.Errorf("one bulk IN transfer: %w", err)
	}
	x.parse(got)
	return got.Err
}

// start keeps n transfers in flight until stop.
func (x *rawNCMReader) start(n int) {
	GinkgoHelper()
	x.stopping.Store(false)
	x.done = make(chan struct{})
	for i := 0; i < n; i++ {
		Expect(x.ep.Submit(newNTBTransfer())).To(Succeed())
	}
	go func() {
		defer close(x.done)
		out := make([]*hw.Transfer, n)
		for x.ep.InFlight() > 0 {
			k, err := x.ep.WaitBatch(context.Background(), out)
			if err != nil {
				x.fail(err)
				return
			}
			for _, t := range out[:k] {
				x.parse(t)
				if x.stopping.Load() {
					continue
				}
				t.N, t.Err = 0, nil
				if err := x.ep.Submit(t); err != nil {
					x.fail(err)
				}
			}
		}
	}()
}

// stop ends continuous reading: nothing is resubmitted, what is in flight
// is cancelled and reaped.
func (x *rawNCMReader) stop() {
	GinkgoHelper()
	x.stopping.Store(true)
	for {
		x.ep.Cancel()
		select {
		case <-x.done:
			Expect(x.ep.InFlight()).To(BeZero())
			return
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// collect gathers arrivals until d has passed with none, or max elapsed.
func (x *rawNCMReader) collect(got map[int]ntbArrival, quiet, max time.Duration) {
	end := time.After(max)
	for {
		select {
		case a := <-x.arrivals:
			if _, dup := got[a.seq]; dup {
				x.fail(fmt.Errorf("frame %d arrived twice", a.seq))
			}
			got[a.seq] = a
		case <-time.After(quiet):
			return
		case <-end:
			return
		}
	}
}

// quietIPv6 turns IPv6 off on ifname for the spec (its addrconf sends
// router solicitations, MLD reports and DAD probes whenever the link comes
// up, which would join the NTBs the spec counts) and restores it after.
func quietIPv6(ifname string) {
	GinkgoHelper()
	p := filepath.Join("/proc/sys/net/ipv6/conf", ifname, "disable_ipv6")
	old, err := os.ReadFile(p)
	if errors.Is(err, os.ErrNotExist) {
		return // no IPv6 in this kernel: quiet already
	}
	Expect(err).NotTo(HaveOccurred())
	Expect(os.WriteFile(p, []byte("1"), 0o644)).To(Succeed())
	DeferCleanup(func() { Expect(os.WriteFile(p, old, 0o644)).To(Succeed()) })
}

// gadgetQueueLen is u_ether's qlen for the function at high speed: qmult
// (configfs) times DEFAULT_QLEN (2) IN requests.
func gadgetQueueLen(fn string) int {
	GinkgoHelper()
	b, err := os.ReadFile(filepath.Join(fn, "qmult"))
	Expect(err).NotTo(HaveOccurred())
	q, err := strconv.Atoi(strings.TrimSpace(string(b)))
	Expect(err).NotTo(HaveOccurred())
	return 2 * q
}

// ncmRig is one opening of the f_ncm gadget for the hold specs: the raw
// device (recorded), both interfaces claimed, the data interface at alt 1,
// the bulk IN endpoint and its reader, and the gadget's netdev as sender.
type ncmRig struct {
	d                 *labDev
	t                 *Target
	rec               *record.Device
	h                 *Harness
	fn                usbnet.Endpoints // the NCM function's interfaces and endpoints
	unframer          usbnet.RxUnframer
	ep                hw.Endpoint
	x                 *rawNCMReader
	host              []byte // the MAC the gadget announces: the frames' destination
	base              int    // the rig's first sequence number
	seq               int
	got               map[int]ntbArrival
	devClosed, closed bool
}

// openNCMRig opens be for a hold spec, its frames numbered from base; it
// skips without a peer on the gadget's own netdev. Closing is registered
// (close, idempotent).
func openNCMRig(ctx context.Context, d *labDev, be Backend, base int) *ncmRig {
	GinkgoHelper()
	if !has(be, CapPeer) {
		Skip(fmt.Sprintf("%s: %s", CapPeer, be.Why(CapPeer)))
	}
	t, err := be.Open(ctx)
	Expect(err).NotTo(HaveOccurred(), "open %s", be.Name())
	if p, ok := t.Peer.(*ifacePeer); !ok || p.name != d.gadgetNetdev {
		t.Close()
		Skip(fmt.Sprintf("the spec sends from the gadget's own netdev: it needs DONGLE_PEER=iface:%s", d.gadgetNetdev))
	}
	f, err := os.CreateTemp("", "dongle-spec-*.pcap")
	Expect(err).NotTo(HaveOccurred())
	f.Close()
	rec, err := record.Create(t.HW, f.Name(), record.Options{})
	Expect(err).NotTo(HaveOccurred())
	r := &ncmRig{d: d, t: t, rec: rec, h: &Harness{B: be, T: t, rec: rec, tracePath: f.Name()},
		base: base, seq: base, got: map[int]ntbArrival{}}
	DeferCleanup(r.close)
	cfg, err := hw.ReadConfig(ctx, rec, 0)
	Expect(err).NotTo(HaveOccurred())
	// The NCM function, as cdc_ncm (through the catalog) reads it.
	ent, ok := catalog.Lookup("cdc_ncm")
	Expect(ok).To(BeTrue(), "cdc_ncm in the catalog")
	drv := ent.New()
	loc, ok1 := drv.(usbnet.EndpointLocator)
	unf, ok2 := drv.(usbnet.Unframer)
	Expect(ok1 && ok2).To(BeTrue(), "cdc_ncm locates endpoints and unframes offline")
	found := false
	for _, i := range cfg.Interfaces {
		if r.fn, err = loc.TraceEndpoints(cfg, i.Number); err == nil {
			found = true
			break
		}
	}
	Expect(found).To(BeTrue(), "the NCM function of %s", be.Name())
	// f_ncm's defaults (alt 1 resets them): NTB16 and 16 KB NTBs; the
	// unframer takes either format, as the header says.
	r.unframer = unf.RxUnframer(&usbnet.Capture{Config: cfg, Intf: uint8(r.fn.CtrlIface)})
	Expect(rec.Claim(r.fn.CtrlIface)).To(Succeed())
	Expect(rec.Claim(r.fn.DataIface)).To(Succeed())
	// Alt 1 connects f_ncm to u_ether (gether_connect: qlen fresh IN
	// requests, carrier on), with its defaults: NTB16, 16 KB NTBs.
	Expect(rec.SetAlt(r.fn.DataIface, 0)).To(Succeed())
	Expect(rec.SetAlt(r.fn.DataIface, r.fn.DataAlt)).To(Succeed())
	r.ep, err = rec.OpenEndpoint(r.fn.In.Address)
	Expect(err).NotTo(HaveOccurred())
	r.x = newRawNCMReader(r.ep, base, r.unframer)
	r.host, err = readMAC(filepath.Join(d.gadgetFunc, "host_addr"))
	Expect(err).NotTo(HaveOccurred())
	return r
}

// closeDevice undoes what openNCMRig did to the device (once): reading
// stopped, alt 0, interfaces released (the kernel's cdc_ncm is bound
// again), the device closed.
func (r *ncmRig) closeDevice() {
	GinkgoHelper()
	if r.devClosed {
		return
	}
	r.devClosed = true
	if r.x.done != nil && !r.x.stopping.Load() {
		r.x.stop()
	}
	Expect(r.ep.Close()).To(Succeed(), "closing bulk IN")
	Expect(r.rec.SetAlt(r.fn.DataIface, 0)).To(Succeed(), "alt 0")
	Expect(r.rec.Release(r.fn.DataIface)).To(Succeed(), "release the data interface")
	Expect(r.rec.Release(r.fn.CtrlIface)).To(Succeed(), "release the control interface")
	Expect(r.rec.Close()).To(Succeed(), "closing the device")
}

// close undoes openNCMRig (once): closeDevice, then the target's Close
// (after an unplug it plugs the gadget back in and waits for the kernel's
// driver), and the trace kept where it is evidence.
func (r *ncmRig) close() {
	GinkgoHelper()
	if r.closed {
		return
	}
	r.closed = true
	r.closeDevice()
	if err := r.t.Close(); err != nil && !isAlreadyClosed(err) {
		Fail(fmt.Sprintf("closing %s: %v", r.h.B.Name(), err))
	}
	r.h.keepTrace()
}

// send sends the rig's next frame from the gadget's netdev.
func (r *ncmRig) send() int {
	GinkgoHelper()
	Expect(r.t.Peer.Inject(Frame(r.host, PeerMAC, MinFrame, r.seq))).To(Succeed(), "frame %d from %s", r.seq, r.d.gadgetNetdev)
	r.seq++
	return r.seq - 1
}

// prime makes a known start: the host reads, and a frame sent now leaves
// on its own NTB's timer. An NTB left held from before (by an earlier
// spec, or before an unplug) takes this frame too: it is filled until it
// goes. It returns how many more frames that took, and leaves the host not
// reading.
func (r *ncmRig) prime() int {
	GinkgoHelper()
	r.x.start(4)
	probe := r.send()
	r.x.collect(r.got, time.Second, 2*time.Second)
	stale := 0
	for ; !hasSeq(r.got, probe) && stale < fNCMMaxDatagrams; stale++ {
		r.send()
		r.x.collect(r.got, 200*time.Millisecond, time.Second)
	}
	r.x.collect(r.got, 500*time.Millisecond, 2*time.Second)
	for s := r.base; s < r.seq; s++ {
		Expect(hasSeq(r.got, s)).To(BeTrue(), "frame %d of the start (%d frames were needed to release an NTB held from before)", s, stale)
	}
	if stale > 0 || r.x.stale.Load() > 0 {
		AddReportEntry("stale-held-ntb", fmt.Sprintf("an NTB held from before, with %d frames sent before, took %d more frames to leave", r.x.stale.Load(), stale))
	}
	r.x.stop()
	Expect(r.x.err()).NotTo(HaveOccurred())
	return stale
}

// hold makes f_ncm hold an NTB (steps 1-3 below), the host reading again
// at the end. It returns the frames sent (from start to sent-1), how
// many of the last are held, and when the host read again.
func (r *ncmRig) hold(ctx context.Context) (start, sent, held int, readAt time.Time) {
	GinkgoHelper()
	qlen := gadgetQueueLen(r.d.gadgetFunc)
	// 1. The host stops reading. One frame at a time, 20 ms apart: each
	// on its own NTB, which its timer flushes into an IN request, until
	// all qlen requests are queued at the UDC; u_ether then stops the
	// queue, and gncm0's qdisc keeps the rest: more than one NTB's
	// worth (31 datagrams) and less than two. (Should a timer fire
	// late and two frames share an NTB, the qdisc keeps one frame
	// less: still in that range.)
	start = r.seq
	for i := 0; i < qlen+fNCMMaxDatagrams+10; i++ {
		r.send()
		time.Sleep(20 * time.Millisecond)
	}
	sent = r.seq
	time.Sleep(200 * time.Millisecond)

	// 2. The host reads one NTB: one request comes back, u_ether wakes
	// the queue, and the backlog goes to ncm_wrap_ntb in one softirq.
	// The frame that does not fit the full NTB sends it with that one
	// request and opens the next NTB, whose timer, 300 µs later, finds
	// no free request.
	Expect(r.x.readOne(ctx)).To(Succeed())
	readAt = time.Now()
	var first ntbArrival
	Eventually(r.x.arrivals).Should(Receive(&first), "a test frame in the NTB the host read")
	r.got[first.seq] = first
	Expect(first.seq).To(Equal(start), "the first NTB the host read starts with the first frame sent")
	time.Sleep(200 * time.Millisecond)

	// 3. The host reads everything again, for 2 s: all but a tail.
	r.x.start(4)
	r.x.collect(r.got, 2*time.Second, 5*time.Second)
	Expect(r.x.err()).NotTo(HaveOccurred())
	Expect(r.x.foreign.Load()).To(BeZero(), "frames of %s's own in the NTBs (the counts assume a quiet netdev)", r.d.gadgetNetdev)
	arrived := map[int]bool{}
	for s := start; s < sent; s++ {
		arrived[s-start] = hasSeq(r.got, s)
	}
	held, err := heldTail(sent-start, arrived)
	if errors.Is(err, ErrFindingGone) {
		Fail(err.Error())
	}
	Expect(err).NotTo(HaveOccurred())
	By(fmt.Sprintf("%d of %d frames held after %v of reading (qlen %d)", held, sent-start, time.Since(readAt).Round(time.Millisecond), qlen))
	return start, sent, held, readAt
}

func labNCMHoldSpec(d *labDev, b func() Backend) {
	It("shows f_ncm holding an NTB whose flush timer fired while every IN request was queued, until later frames fill it", Label(string(CapPeer)), func(ctx SpecContext) {
		before := gleak.Goroutines()
		DeferCleanup(func() {
			Eventually(gleak.Goroutines).WithTimeout(3*time.Second).ShouldNot(gleak.HaveLeaked(before), "goroutines after teardown")
		})
		r := openNCMRig(ctx, d, b(), holdSeqBase)
		quietIPv6(d.gadgetNetdev)
		r.prime()
		start, sent, held, readAt := r.hold(ctx)
		firstHeld := sent - held

		// 4. Later frames join the held NTB while the host reads: it leaves
		// exactly when the frame that does not fit it arrives.
		need := releaseAfter(held)
		for i := 0; i < need-1; i++ {
			r.send()
			time.Sleep(10 * time.Millisecond)
		}
		r.x.collect(r.got, time.Second, 3*time.Second)
		for s := firstHeld; s < r.seq; s++ {
			Expect(hasSeq(r.got, s)).To(BeFalse(), "frame %d left before the NTB was full (%d of %d more frames sent)", s, need-1, need)
		}
		last := r.send()
		r.x.collect(r.got, time.Second, 5*time.Second)
		r.x.stop()
		Expect(r.x.err()).NotTo(HaveOccurred())
		for s := firstHeld; s <= last; s++ {
			Expect(hasSeq(r.got, s)).To(BeTrue(), "frame %d after the %d frames that fill the held NTB", s, need)
		}
		heldFor := r.got[firstHeld].at.Sub(readAt)
		prev := time.Time{}
		for s := r.base; s <= last; s++ {
			Expect(r.got[s].at.Before(prev)).To(BeFalse(), "frame %d arrived before frame %d", s, s-1)
			prev = r.got[s].at
		}
		r.h.sawFinding(FNCMHeldNTB,
			fmt.Sprintf("measured: %d IN requests (qlen), the last %d of %d frames held while the host read for %v, until %d later frames had filled their NTB to %d datagrams; %d NTBs read",
				gadgetQueueLen(d.gadgetFunc), held, sent-start, heldFor.Round(time.Millisecond), need, fNCMMaxDatagrams, r.x.ntbs.Load()),
			"fixtures/finding-f_ncm-held-ntb.pcap (a CI run: an unplugged spec's last six frames and eleven specs' frames in one NTB), fixtures/finding-f_ncm-held-ntb-trigger.pcap (this spec's trace from a lab run); drivers/usb/gadget/function/f_ncm.c ncm_wrap_ntb, ncm_tx_timeout, package_for_tx; u_ether.c eth_start_xmit")
	}, SpecTimeout(2*time.Minute))

	// The backend's part: f_ncm keeps a held NTB across a UDC unbind (the
	// CI capture), and the udc fault's Restore must bring the gadget back
	// without it, as the replug of a real (bus-powered) device does.
	It("gets f_ncm back from an unplug without the NTB it held", Label(string(CapPeer), string(CapUnplug)), func(ctx SpecContext) {
		be := b()
		if !has(be, CapUnplug) {
			Skip(fmt.Sprintf("%s: %s", CapUnplug, be.Why(CapUnplug)))
		}
		before := gleak.Goroutines()
		DeferCleanup(func() {
			Eventually(gleak.Goroutines).WithTimeout(3*time.Second).ShouldNot(gleak.HaveLeaked(before), "goroutines after teardown")
		})
		r := openNCMRig(ctx, d, be, holdSeqBase)
		quietIPv6(d.gadgetNetdev)
		r.prime()
		_, _, held, _ := r.hold(ctx)
		Expect(held).To(BeNumerically(">", 0))
		// The device is given back first (the kernel's cdc_ncm binds it
		// again, alt 0 and 1: the NTB stays held), then unplugged, and
		// plugged back in by the target's Close (Restore).
		r.closeDevice()
		Expect(r.t.Faults.Unplug()).To(Succeed())
		r.close()

		// A new opening: the first frame must leave on its own NTB, and
		// none of the frames held before the unplug may come with it.
		r2 := openNCMRig(ctx, d, be, holdSeqBase+1<<20)
		Expect(r2.prime()).To(BeZero(), "frames needed to release an NTB held from before the unplug")
		Expect(r2.x.stale.Load()).To(BeZero(), "frames held before the unplug that arrived after it")
	}, SpecTimeout(2*time.Minute))
}

func hasSeq(got map[int]ntbArrival, seq int) bool {
	_, ok := got[seq]
	return ok
}
