package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"dongle/hw/sim"
	"dongle/hw/sim/peer"
	"dongle/hw/vmlab/guest"
)

// wirePeer is the model's wire side under a spec's control (-sock): the
// port at the far end of the model's cable. In echo mode (the start) it
// hands every frame to the echo/ARP peer (hw/sim/peer); in wire mode it
// keeps what the model sends and sends only what the spec injects; in count
// mode it only counts. The faults it offers are the model's own: halting an
// endpoint, holding an OUT endpoint's reads, failing URBs with a status
// (USB/IP), and unplugging the device.
type wirePeer struct {
	end  *sim.End // the wire's far end, where wirePeer is attached
	echo *peer.Peer
	hold func() bool // PAUSE: the model's RX side is full

	mode     atomic.Pointer[guest.PeerMode]
	kept     *sim.Capture
	received atomic.Uint64
	injected atomic.Uint64

	link    func(up bool)
	halt    func(ep uint8) error
	holdOut func(ep uint8, on bool) error             // nil: the path cannot hold an OUT endpoint
	fail    func(ep uint8, status int32, n int) error // nil: the path has no per-URB status
	over    func(extra int)                           // nil: the model sends no NTBs
	gate    func(on bool)                             // nil: the model cannot hold its link-up
	plug    func(on bool) error
	logf    func(string, ...any)
	plugMu  sync.Mutex // one unplug/replug at a time
}

var _ sim.Port = (*wirePeer)(nil)

// newWirePeer attaches itself to end in echo's place.
func newWirePeer(end *sim.End, echo *peer.Peer, hold func() bool) *wirePeer {
	w := &wirePeer{end: end, echo: echo, hold: hold, kept: sim.NewCapture(), logf: func(string, ...any) {}}
	m := guest.PeerEcho
	w.mode.Store(&m)
	end.Attach(w)
	return w
}

// Receive implements sim.Port: a frame the model put on the wire.
func (w *wirePeer) Receive(frame []byte) {
	w.received.Add(1)
	switch *w.mode.Load() {
	case guest.PeerEcho:
		w.echo.Receive(frame)
	case guest.PeerWire:
		w.kept.Receive(frame)
	}
}

// inject sends frame towards the model, waiting while the model's receive
// side asks for PAUSE as the echo peer does.
func (w *wirePeer) inject(ctx context.Context, frame []byte) error {
	if len(frame) < 14 {
		return fmt.Errorf("inject: a %d-byte frame has no Ethernet header", len(frame))
	}
	for w.hold != nil && w.hold() {
		select {
		case <-ctx.Done():
			return fmt.Errorf("inject: the model's receive side stayed full: %w", ctx.Err())
		case <-time.After(200 * time.Microsecond):
		}
	}
	w.injected.Add(1)
	if !w.end.Send(frame) {
		return errors.New("inject: nothing took the frame (no model on the wire)")
	}
	return nil
}

// serve accepts control connections on path until ctx ends.
func (w *wirePeer) serve(ctx context.Context, path string) error {
	os.Remove(path)
	l, err := net.Listen("unix", path)
	if err != nil {
		return fmt.Errorf("-sock: %w", err)
	}
	go func() {
		<-ctx.Done()
		l.Close()
		os.Remove(path)
	}()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go w.conn(ctx, c)
		}
	}()
	return nil
}

func (w *wirePeer) conn(ctx context.Context, c net.Conn) {
	// The connection closes when the client hangs up or ffsmodel stops,
	// whichever is first; the watcher ends with the connection, so a
	// daemon serving one connection per spec keeps no goroutine per spec.
	done := make(chan struct{})
	defer func() { close(done); c.Close() }()
	go func() {
		select {
		case <-ctx.Done():
			c.Close()
		case <-done:
		}
	}()
	sc := bufio.NewScanner(c)
	sc.Buffer(make([]byte, 64<<10), guest.MaxLine)
	for sc.Scan() {
		if _, err := fmt.Fprintf(c, "%s\n", w.command(ctx, strings.TrimSpace(sc.Text()))); err != nil {
			return
		}
	}
}

// command runs one request of the protocol guest/wire.go describes.
func (w *wirePeer) command(ctx context.Context, line string) string {
	f := strings.Fields(line)
	if len(f) == 0 {
		return "err empty command"
	}
	ok := func(err error) string {
		if err != nil {
			return "err " + err.Error()
		}
		return "ok"
	}
	switch {
	case f[0] == "ping" && len(f) == 1:
		return "ok pong"
	case f[0] == "mode" && len(f) == 2:
		m := guest.PeerMode(f[1])
		switch m {
		case guest.PeerEcho, guest.PeerWire, guest.PeerCount:
			w.mode.Store(&m)
			w.logf("ffsmodel: wire peer mode %s", m)
			return "ok"
		}
		return fmt.Sprintf("err mode %q: want echo, wire or count", f[1])
	case f[0] == "reset" && len(f) == 1:
		w.kept.Reset()
		return "ok"
	case f[0] == "stats" && len(f) == 1:
		return fmt.Sprintf("ok received=%d injected=%d kept=%d", w.received.Load(), w.injected.Load(), w.kept.Len())
	case f[0] == "inject" && len(f) == 2:
		fr, err := guest.DecodeFrame(f[1])
		if err != nil {
			return "err " + err.Error()
		}
		ictx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		return ok(w.inject(ictx, fr))
	case f[0] == "frames" && len(f) == 3:
		n, err1 := strconv.Atoi(f[1])
		ms, err2 := strconv.Atoi(f[2])
		if errors.Join(err1, err2) != nil || n < 0 || ms < 0 {
			return fmt.Sprintf("err frames %s %s: want a count and a timeout in ms", f[1], f[2])
		}
		fctx, cancel := context.WithTimeout(ctx, time.Duration(ms)*time.Millisecond)
		defer cancel()
		got, _ := w.kept.WaitFor(fctx, n) // fewer than n: the client says so
		return "ok " + guest.FramesAnswer(got)
	case f[0] == "link" && len(f) == 2 && (f[1] == "up" || f[1] == "down"):
		w.link(f[1] == "up")
		w.logf("ffsmodel: cable %s", map[bool]string{true: "plugged", false: "unplugged"}[f[1] == "up"])
		return "ok"
	case f[0] == "stall" && len(f) == 2:
		ep, err := guest.ParseEndpoint(f[1])
		if err != nil {
			return "err stall: " + err.Error()
		}
		err = w.halt(ep)
		w.logf("ffsmodel: stall %#02x: %v", ep, err)
		return ok(err)
	case (f[0] == "hold" || f[0] == "release") && len(f) == 2:
		ep, err := guest.ParseEndpoint(f[1])
		if err != nil {
			return "err " + f[0] + ": " + err.Error()
		}
		if w.holdOut == nil {
			return "err " + f[0] + ": this model's path cannot hold an endpoint's reads"
		}
		err = w.holdOut(ep, f[0] == "hold")
		w.logf("ffsmodel: %s %#02x: %v", f[0], ep, err)
		return ok(err)
	case f[0] == "fail" && len(f) == 4:
		ep, err := guest.ParseEndpoint(f[1])
		st, err2 := strconv.ParseInt(f[2], 10, 32)
		n, err3 := strconv.Atoi(f[3])
		if errors.Join(err, err2, err3) != nil {
			return fmt.Sprintf("err fail %s %s %s: want an endpoint, a negative errno and a count", f[1], f[2], f[3])
		}
		if w.fail == nil {
			return "err fail: this model's path cannot fail URBs (FunctionFS has no per-URB status; serve it with -usbip)"
		}
		err = w.fail(ep, int32(st), n)
		w.logf("ffsmodel: fail %#02x with %d x%d: %v", ep, st, n, err)
		return ok(err)
	case f[0] == "oversize" && len(f) == 2:
		n, err := strconv.Atoi(f[1])
		if err != nil || n < 1 || n > maxOversize {
			return fmt.Sprintf("err oversize %s: want a count of bytes above the negotiated NTB size, 1..%d", f[1], maxOversize)
		}
		if w.over == nil {
			return "err oversize: this model sends no NTBs"
		}
		w.over(n)
		w.logf("ffsmodel: the next NTB %d bytes over the negotiated size", n)
		return "ok"
	case f[0] == "linkgate" && len(f) == 2 && (f[1] == "on" || f[1] == "off"):
		if w.gate == nil {
			return "err linkgate: this model cannot hold its link-up notification"
		}
		w.gate(f[1] == "on")
		w.logf("ffsmodel: link-up held until a packet filter: %s", f[1])
		return "ok"
	case (f[0] == "unplug" || f[0] == "replug") && len(f) == 1:
		w.plugMu.Lock()
		defer w.plugMu.Unlock()
		err := w.plug(f[0] == "replug")
		w.logf("ffsmodel: %s: %v", f[0], err)
		return ok(err)
	}
	return fmt.Sprintf("err unknown command %q (want ping, mode, reset, stats, inject, frames, link, stall, hold, release, fail, oversize, linkgate, unplug, replug)", shortLine(line))
}

func shortLine(s string) string {
	if len(s) > 60 {
		return s[:60] + "..."
	}
	return s
}

// maxOversize is the most "oversize N" asks for: the NCM model caps an
// NTB's excess there too (hw/sim/ncm MaxOversize, reached through the
// catalog), so a command cannot make it pad without end.
const maxOversize = 1 << 16
