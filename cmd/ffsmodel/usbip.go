package main

import (
	"context"
	"errors"
	"fmt"
	"os"
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
	srv, err := usbip.Attach(ch.Dev, usbip.Options{Super: c.super, Recorder: capt, Logf: logf})
	if err != nil {
		return err
	}
	sctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	served := make(chan error, 1)
	go func() { served <- srv.Serve(sctx) }()
	fmt.Printf("ffsmodel: %s (%04x:%04x) attached to vhci_hcd port %d\n", c.model, dd.Vendor, dd.Product, srv.Port())
	var host *hostDev
	deadline := time.Now().Add(15 * time.Second)
	for host == nil && time.Now().Before(deadline) && ctx.Err() == nil {
		if h, ok := findHost(dd.Vendor, dd.Product); ok {
			host = h
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if host == nil {
		srv.Detach()
		return fmt.Errorf("%04x:%04x: the host did not enumerate the device on vhci_hcd within 15 s", dd.Vendor, dd.Product)
	}
	capt.SetAddress(host.bus, host.dev)
	capt.Enumeration(host.devDesc, host.cfgDesc)
	fmt.Printf("ffsmodel: host %s bus %d dev %d speed %s over USB/IP\n", host.name, host.bus, host.dev, host.speed)
	if c.ctl != "" {
		go linkControl(ctx, c.ctl, ch.SetLink)
	}
	if c.sock != "" {
		wp.halt = func(ep uint8) error {
			ch.Dev.Stall(ep)
			return nil
		}
		wp.plug = func(on bool) error {
			return errors.New("unplug/replug: not offered over USB/IP (a detached vhci port takes a new socket and a new server)")
		}
		if err := wp.serve(ctx, c.sock); err != nil {
			return err
		}
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
				if s := usbipStats(ch, srv, p); s != last {
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
	fmt.Printf("ffsmodel: stopping; %s\n", usbipStats(ch, srv, p))
	var errs []error
	if c.capture != "" {
		errs = append(errs, writeCapture(c.capture, capt))
	}
	if c.requests != "" {
		errs = append(errs, writeRequests(c.requests, ch.Requests()))
	}
	srv.Detach()
	cancel()
	select {
	case err := <-served:
		errs = append(errs, err)
	case <-time.After(3 * time.Second):
		fmt.Println("ffsmodel: USB/IP server did not stop within 3 s")
	}
	return errors.Join(errs...)
}

func usbipStats(ch *catalog.Instance, srv *usbip.Server, p *peer.Peer) string {
	st, ps := &srv.Stats, p.Stats()
	s := fmt.Sprintf("usbip: submits %d controls %d stalls %d unlinks %d dropped %d errors %d; "+
		"peer: received %d arp-replies %d echo-replies %d echoed %d ignored %d dropped %d",
		st.Submits.Load(), st.Controls.Load(), st.Stalls.Load(), st.Unlinks.Load(), st.Dropped.Load(), st.Errors.Load(),
		ps.Received.Load(), ps.ARPReplies.Load(), ps.EchoReplies.Load(), ps.Echoed.Load(), ps.Ignored.Load(), ps.Dropped.Load())
	if ch.Stats != nil {
		s += "; model: " + ch.Stats()
	}
	return s
}
