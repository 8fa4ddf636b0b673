package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"dongle/hw/sim"
	"dongle/hw/sim/peer"
	"dongle/hw/vmlab/guest"
)

// TestWirePeer drives the model's wire side as a spec does, through
// guest.DialWire: a Capture stands where the model would be (end A).
func TestWirePeer(t *testing.T) {
	wire := sim.NewWire()
	model := sim.NewCapture()
	wire.A().Attach(model)
	echo := peer.New(wire.B(), nil, nil)
	echo.Echo = peer.EchoEtherType
	defer echo.Close()
	wp := newWirePeer(wire.B(), echo, nil)
	var links []bool
	var halted []uint8
	var plugs []bool
	wp.link = func(up bool) { links = append(links, up) }
	wp.halt = func(ep uint8) error {
		if ep == 0x03 {
			return errors.New("OUT refused")
		}
		halted = append(halted, ep)
		return nil
	}
	wp.plug = func(on bool) error { plugs = append(plugs, on); return nil }

	dir, err := os.MkdirTemp("", "wire")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sock := filepath.Join(dir, "ffsmodel.sock")
	if err := wp.serve(ctx, sock); err != nil {
		t.Fatal(err)
	}
	c, err := guest.DialWire(sock)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	frame := func(b byte) []byte {
		f := append(bytes.Repeat([]byte{b}, 12), 0x88, 0xb5)
		return append(f, bytes.Repeat([]byte{b}, 60)...)
	}
	// Echo mode (the start): the echo peer sends the frame back.
	wire.A().Send(frame(1))
	if got, err := model.WaitFor(timeout(t), 1); err != nil || !bytes.Equal(got[0], frame(1)) {
		t.Fatalf("echo mode: the model got %d frames (%v), want its frame back", len(got), err)
	}
	// Wire mode: kept, not echoed.
	if err := c.SetMode(guest.PeerWire); err != nil {
		t.Fatal(err)
	}
	wire.A().Send(frame(2))
	wire.A().Send(frame(3))
	got, err := c.Frames(2, 2*time.Second)
	if err != nil || len(got) != 2 || !bytes.Equal(got[0], frame(2)) || !bytes.Equal(got[1], frame(3)) {
		t.Fatalf("wire mode: kept %d frames (%v), want the 2 sent, in order", len(got), err)
	}
	time.Sleep(20 * time.Millisecond)
	if model.Len() != 1 {
		t.Fatalf("wire mode echoed: the model has %d frames, want 1 (from echo mode)", model.Len())
	}
	if err := c.Reset(); err != nil {
		t.Fatal(err)
	}
	if got, err := c.Frames(1, 20*time.Millisecond); !errors.Is(err, guest.ErrShort) || len(got) != 0 {
		t.Fatalf("after reset: %d frames, %v", len(got), err)
	}
	// Inject reaches the model.
	if err := c.Inject(frame(4)); err != nil {
		t.Fatal(err)
	}
	if got := model.Frames(); len(got) != 2 || !bytes.Equal(got[1], frame(4)) {
		t.Fatalf("inject: the model has %d frames, want the injected one second", len(got))
	}
	if err := c.Inject([]byte{1, 2}); !errors.Is(err, guest.ErrRefused) {
		t.Fatalf("inject of 2 bytes: %v, want ErrRefused", err)
	}
	// Link, stall, plug reach their hooks.
	if err := errors.Join(c.SetLink(false), c.SetLink(true), c.Stall(0x82), c.Unplug(), c.Replug()); err != nil {
		t.Fatal(err)
	}
	if err := c.Stall(0x03); !errors.Is(err, guest.ErrRefused) {
		t.Fatalf("stall refused by the bridge: %v, want ErrRefused", err)
	}
	if fmt.Sprint(links, halted, plugs) != "[false true] [130] [false true]" {
		t.Fatalf("hooks saw links %v halts %v plugs %v", links, halted, plugs)
	}
}

func timeout(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// TestHoldAndSend: "hold EP" / "release EP" reach the bridge's hold hook
// with the endpoint and direction, through -send as a fixture script uses
// it and through guest.Peer.HoldOut; a path without the hook (USB/IP)
// refuses, and so does a bad endpoint.
func TestHoldAndSend(t *testing.T) {
	wire := sim.NewWire()
	wp := newWirePeer(wire.B(), peer.New(wire.B(), nil, nil), nil)
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sock := filepath.Join(dir, "ffsmodel.sock")
	if err := wp.serve(ctx, sock); err != nil {
		t.Fatal(err)
	}
	var out, errw bytes.Buffer
	if rc := send(sock, "hold 0x02", &out, &errw); rc != 1 || !strings.Contains(errw.String(), "cannot hold") {
		t.Fatalf("hold without a hook: exit %d, stderr %q; want 1 and the reason", rc, errw.String())
	}
	var holds []string
	wp.holdOut = func(ep uint8, on bool) error {
		if ep == 0x81 {
			return errors.New("an IN endpoint")
		}
		holds = append(holds, fmt.Sprintf("%#02x:%v", ep, on))
		return nil
	}
	out.Reset()
	if rc := send(sock, "hold 0x02", &out, &errw); rc != 0 || out.String() != "ok\n" {
		t.Fatalf("hold 0x02: exit %d, out %q", rc, out.String())
	}
	if rc := send(sock, "release 2", &out, &errw); rc != 0 {
		t.Fatalf("release 2: exit %d", rc)
	}
	errw.Reset()
	if rc := send(sock, "hold 0x81", &out, &errw); rc != 1 || !strings.Contains(errw.String(), "an IN endpoint") {
		t.Fatalf("hold refused by the bridge: exit %d, stderr %q", rc, errw.String())
	}
	if rc := send(sock, "hold x", &out, &errw); rc != 1 {
		t.Fatalf("hold x: exit %d, want 1", rc)
	}
	c, err := guest.DialWire(sock)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := errors.Join(c.HoldOut(0x03, true), c.HoldOut(0x03, false)); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(holds) != "[0x02:true 0x02:false 0x03:true 0x03:false]" {
		t.Fatalf("hold hook saw %v", holds)
	}
	if rc := send("", "hold 2", &out, &errw); rc != 2 {
		t.Fatalf("-send without -sock: exit %d, want 2", rc)
	}
	if rc := send(filepath.Join(dir, "none.sock"), "ping", &out, &errw); rc != 1 {
		t.Fatalf("-send to no model: exit %d, want 1", rc)
	}
}

// TestFailCommand: "fail EP STATUS N" reaches the fail hook with its
// arguments parsed; a path without it (FunctionFS) and malformed
// arguments are refused.
func TestFailCommand(t *testing.T) {
	wire := sim.NewWire()
	wp := newWirePeer(wire.B(), peer.New(wire.B(), nil, nil), nil)
	ctx := context.Background()
	if a := wp.command(ctx, "fail 0x81 -71 20"); !strings.HasPrefix(a, "err fail: this model's path cannot") {
		t.Fatalf("without a hook: %q", a)
	}
	var got []string
	wp.fail = func(ep uint8, status int32, n int) error {
		got = append(got, fmt.Sprintf("%#02x %d %d", ep, status, n))
		return nil
	}
	for _, c := range []string{"fail 0x81 -71 20", "fail 0 -110 3"} {
		if a := wp.command(ctx, c); a != "ok" {
			t.Fatalf("%q: %q", c, a)
		}
	}
	for _, c := range []string{"fail 0x81 x 2", "fail 0x81 -71", "fail zz -71 1", "fail 0x81 -71 n"} {
		if a := wp.command(ctx, c); !strings.HasPrefix(a, "err") {
			t.Fatalf("%q: %q, want an error", c, a)
		}
	}
	if fmt.Sprint(got) != "[0x81 -71 20 0x00 -110 3]" {
		t.Fatalf("fail hook saw %v", got)
	}
}

// TestOversizeCommand: "oversize N" reaches the model's hook; a model
// without NTBs and a bad count are refused.
func TestOversizeCommand(t *testing.T) {
	wire := sim.NewWire()
	wp := newWirePeer(wire.B(), peer.New(wire.B(), nil, nil), nil)
	ctx := context.Background()
	if a := wp.command(ctx, "oversize 100"); a != "err oversize: this model sends no NTBs" {
		t.Fatalf("without a hook: %q", a)
	}
	var got []int
	wp.over = func(n int) { got = append(got, n) }
	if a := wp.command(ctx, "oversize 700"); a != "ok" {
		t.Fatalf("oversize 700: %q", a)
	}
	for _, c := range []string{"oversize 0", "oversize -3", "oversize x", fmt.Sprint("oversize ", maxOversize+1)} {
		if a := wp.command(ctx, c); !strings.HasPrefix(a, "err") {
			t.Fatalf("%q: %q", c, a)
		}
	}
	if fmt.Sprint(got) != "[700]" {
		t.Fatalf("hook saw %v", got)
	}
}

// TestLinkGateCommand: "linkgate on|off" reaches the model's hook; a model
// without it and other words are refused.
func TestLinkGateCommand(t *testing.T) {
	wire := sim.NewWire()
	wp := newWirePeer(wire.B(), peer.New(wire.B(), nil, nil), nil)
	ctx := context.Background()
	if a := wp.command(ctx, "linkgate on"); !strings.HasPrefix(a, "err linkgate:") {
		t.Fatalf("without a hook: %q", a)
	}
	var got []bool
	wp.gate = func(on bool) { got = append(got, on) }
	for _, c := range []string{"linkgate on", "linkgate off"} {
		if a := wp.command(ctx, c); a != "ok" {
			t.Fatalf("%q: %q", c, a)
		}
	}
	if a := wp.command(ctx, "linkgate maybe"); !strings.HasPrefix(a, "err unknown command") {
		t.Fatalf("linkgate maybe: %q", a)
	}
	if fmt.Sprint(got) != "[true false]" {
		t.Fatalf("hook saw %v", got)
	}
}
