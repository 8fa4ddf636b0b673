package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"dongle/hw"
	"dongle/hw/ffs"
	"dongle/hw/sim/peer"
	"dongle/hw/usbip"
	"dongle/usbnet/catalog"
)

// runUSBIP serves the model through vhci_hcd (-usbip) until ctx ends: the
// same wire, socket, capture and request log as the FunctionFS path.
func runUSBIP(ctx context.Context, c config, ch *catalog.Instance, wp *wirePeer, p *peer.Peer) error {
	modprobe("vhci-hcd")
	dd, err := hw.ReadDeviceDescriptor(ctx, ch.Dev)
	if err != nil {
		return err
	}
	capt := ffs.NewCapture()
	logf := func(string, ...any) {}
	if c.verbose {
		logf = func(f string, a ...any) { fmt.Printf(f+"\n", a...) }
	}
	opts := usbip.Options{Super: c.super, Recorder: capt, Logf: logf}
	sctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// The server of the current attachment: an unplug detaches the port
	// (the kernel closes its end, Serve returns), a replug attaches the
	// same model again with a new socket and server.
	var (
		mu     sync.Mutex
		srv    *usbip.Server
		served chan error
	)
	attach := func() (*hostDev, error) {
		s, err := usbip.Attach(ch.Dev, opts)
		if err != nil {
			return nil, err
		}
		done := make(chan error, 1)
		go func() { done <- s.Serve(sctx) }()
		mu.Lock()
		srv, served = s, done
		mu.Unlock()
		fmt.Printf("ffsmodel: %s (%04x:%04x) attached to vhci_hcd port %d\n", c.model, dd.Vendor, dd.Product, s.Port())
		deadline := time.Now().Add(15 * time.Second)
		for time.Now().Before(deadline) && ctx.Err() == nil {
			if h, ok := findHost(dd.Vendor, dd.Product); ok {
				capt.SetAddress(h.bus, h.dev)
				return h, nil
			}
			time.Sleep(20 * time.Millisecond)
		}
		s.Detach()
		return nil, fmt.Errorf("%04x:%04x: the host did not enumerate the device on vhci_hcd within 15 s", dd.Vendor, dd.Product)
	}
	detach := func() error {
		mu.Lock()
		s, done := srv, served
		srv = nil
		mu.Unlock()
		if s == nil {
			return nil
		}
		if err := s.Detach(); err != nil {
			return fmt.Errorf("unplug: detach port %d: %w", s.Port(), err)
		}
		select {
		case err := <-done:
			if err != nil {
				return fmt.Errorf("unplug: %w", err)
			}
		case <-time.After(5 * time.Second):
			return fmt.Errorf("unplug: the USB/IP server of port %d did not stop within 5 s", s.Port())
		}
		deadline := time.Now().Add(10 * time.Second)
		for time.Now().Before(deadline) {
			if _, there := findHost(dd.Vendor, dd.Product); !there {
				return nil
			}
			time.Sleep(20 * time.Millisecond)
		}
		return fmt.Errorf("unplug: %04x:%04x still on the host bus 10 s after detaching", dd.Vendor, dd.Product)
	}
	host, err := attach()
	if err != nil {
		return err
	}
	capt.Enumeration(host.devDesc, host.cfgDesc)
	fmt.Printf("ffsmodel: host %s bus %d dev %d speed %s over USB/IP\n", host.name, host.bus, host.dev, host.speed)
	if c.ctl != "" {
		go linkControl(ctx, c.ctl, ch.SetLink)
	}
	if c.sock != "" {
		// A halt is the engine's: the endpoint answers the host's URBs
		// with a STALL until CLEAR_FEATURE(ENDPOINT_HALT), as a chip's.
		wp.halt = func(ep uint8) error {
			ch.Dev.Stall(ep)
			return nil
		}
		wp.plug = func(on bool) error {
			if !on {
				return detach()
			}
			_, err := attach()
			return err
		}
		if err := wp.serve(ctx, c.sock); err != nil {
			detach()
			return err
		}
	}
	current := func() *usbip.Server {
		mu.Lock()
		defer mu.Unlock()
		return srv
	}
	wp.fail = func(ep uint8, status int32, n int) error {
		s := current()
		if s == nil {
			return errors.New("fail: the model is unplugged")
		}
		return s.FailNext(ep, status, n)
	}
	if c.statsEvery > 0 {
		go func() {
			t := time.NewTicker(c.statsEvery)
			defer t.Stop()
			last := ""
			for {
				select {
				case <-ctx.Done():
					return
				case <-t.C:
				}
				if s := usbipStats(ch, current(), p); s != last {
					fmt.Printf("ffsmodel: %s\n", s)
					last = s
				}
			}
		}()
	}
	if c.ready != "" {
		os.WriteFile(c.ready, []byte(host.name+"\n"), 0o644)
	}
	<-ctx.Done()
	fmt.Printf("ffsmodel: stopping; %s\n", usbipStats(ch, current(), p))
	var errs []error
	if c.capture != "" {
		errs = append(errs, writeCapture(c.capture, capt))
	}
	if c.requests != "" {
		errs = append(errs, writeRequests(c.requests, ch.Requests()))
	}
	errs = append(errs, detach())
	return errors.Join(errs...)
}

func usbipStats(ch *catalog.Instance, srv *usbip.Server, p *peer.Peer) string {
	ps := p.Stats()
	s := "usbip: detached; "
	if srv != nil {
		st := &srv.Stats
		s = fmt.Sprintf("usbip: port %d submits %d controls %d stalls %d unlinks %d dropped %d errors %d faults %d; ",
			srv.Port(), st.Submits.Load(), st.Controls.Load(), st.Stalls.Load(), st.Unlinks.Load(), st.Dropped.Load(), st.Errors.Load(), st.Faults.Load())
	}
	s += fmt.Sprintf("peer: received %d arp-replies %d echo-replies %d echoed %d ignored %d dropped %d",
		ps.Received.Load(), ps.ARPReplies.Load(), ps.EchoReplies.Load(), ps.Echoed.Load(), ps.Ignored.Load(), ps.Dropped.Load())
	if ch.Stats != nil {
		s += "; model: " + ch.Stats()
	}
	return s
}
