package specs

import (
	"context"
	"encoding/binary"
	"errors"
	"slices"
	"testing"
	"time"

	"dongle/hw/gousb"
)

func TestParsePeer(t *testing.T) {
	s, arg, err := ParsePeer("echo")
	if err != nil || s.Name != "echo" || !s.Echo || s.Open != nil || arg != "" {
		t.Fatalf("echo: %+v %q %v", s, arg, err)
	}
	s, arg, err = ParsePeer("iface:eth1")
	if err != nil || s.Name != "iface" || s.Open == nil || !s.Link || arg != "eth1" {
		t.Fatalf("iface:eth1: %q %q %v", s.Name, arg, err)
	}
	if _, _, err := ParsePeer("carrier-pigeon:coop"); !errors.Is(err, ErrUnknownPeer) || !errors.Is(err, ErrPeer) {
		t.Fatalf("unknown scheme: %v, want ErrUnknownPeer", err)
	}
}

func TestRegisterPeerMisuse(t *testing.T) {
	for name, s := range map[string]PeerScheme{
		"empty name":    {Echo: true},
		"colon in name": {Name: "a:b", Echo: true},
		"does nothing":  {Name: "nothing"},
		"link, no open": {Name: "linkonly", Echo: true, Link: true},
		"twice":         {Name: "echo", Echo: true},
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: RegisterPeer did not panic", name)
				}
			}()
			RegisterPeer(s)
		}()
	}
}

// fakePeer is a PeerConn with link control, for the backend's wiring.
type fakePeer struct {
	*PeerCapture
	link   []bool
	closed int
}

func (p *fakePeer) Inject([]byte) error { return nil }
func (p *fakePeer) Received(ctx context.Context, n int) ([][]byte, error) {
	return p.WaitFor(ctx, n)
}
func (p *fakePeer) SetLink(up bool) error { p.link = append(p.link, up); return nil }
func (p *fakePeer) Close() error          { p.closed++; return nil }

var (
	_ PeerConn = (*fakePeer)(nil)
	_ PeerLink = (*fakePeer)(nil)
)

func TestUSBBackendPeerCaps(t *testing.T) {
	stubEnumerate(t, func(string) (gousb.Candidate, bool) { return gousb.Candidate{}, false })
	t.Setenv("DONGLE_LINK_CMD", "")
	defer func(old string) { *peerFlag = old }(*peerFlag)
	*peerFlag = ""
	peerMu.Lock()
	peerSchemes["fake"] = PeerScheme{Name: "fake", Link: true, Open: func(context.Context, string) (PeerConn, error) {
		return &fakePeer{PeerCapture: NewPeerCapture()}, nil
	}}
	peerSchemes["fakenolink"] = PeerScheme{Name: "fakenolink", Open: func(context.Context, string) (PeerConn, error) {
		return &fakePeer{PeerCapture: NewPeerCapture()}, nil
	}}
	peerMu.Unlock()
	t.Cleanup(func() {
		peerMu.Lock()
		delete(peerSchemes, "fake")
		delete(peerSchemes, "fakenolink")
		peerMu.Unlock()
	})
	for _, c := range []struct {
		spec     string
		has, not []Cap
	}{
		{"", nil, []Cap{CapPeer, CapEcho, CapLinkControl}},
		{"echo", []Cap{CapEcho}, []Cap{CapPeer, CapLinkControl}},
		{"fake:x", []Cap{CapPeer, CapLinkControl}, []Cap{CapEcho}},
		{"fakenolink", []Cap{CapPeer}, []Cap{CapEcho, CapLinkControl}},
	} {
		t.Setenv("DONGLE_PEER", c.spec)
		b, err := USBBackend("usb:0b95:1790")
		if err != nil {
			t.Fatalf("DONGLE_PEER=%q: %v", c.spec, err)
		}
		for _, x := range c.has {
			if !has(b, x) {
				t.Errorf("DONGLE_PEER=%q: no %s (caps %v)", c.spec, x, b.Caps())
			}
		}
		for _, x := range c.not {
			if has(b, x) {
				t.Errorf("DONGLE_PEER=%q: has %s (caps %v)", c.spec, x, b.Caps())
			}
		}
	}
	*peerFlag = "nope"
	if _, err := USBBackend("usb:0b95:1790"); !errors.Is(err, ErrUnknownPeer) {
		t.Errorf("--peer=nope (the flag wins over DONGLE_PEER=fakenolink): %v, want ErrUnknownPeer", err)
	}
}

func TestFrameIsTagged(t *testing.T) {
	f := Frame(PeerMAC, PeerMAC, 60, 7)
	if !IsTestFrame(f) || FrameSeq(f) != 7 {
		t.Fatalf("Frame is not this run's test frame 7: % x", f[:MinFrame])
	}
	other := slices.Clone(f)
	binary.BigEndian.PutUint32(other[tagOffset:], RunTag()+1)
	lldp := slices.Clone(f)
	binary.BigEndian.PutUint16(lldp[12:], 0x88cc)
	for name, g := range map[string][]byte{"another run's": other, "LLDP": lldp, "short": f[:MinFrame-1]} {
		if IsTestFrame(g) {
			t.Errorf("%s frame taken for a test frame", name)
		}
	}
}

func TestPeerCapture(t *testing.T) {
	c := NewPeerCapture()
	other := Frame(PeerMAC, PeerMAC, 60, 1)
	binary.BigEndian.PutUint32(other[tagOffset:], RunTag()^1)
	want := Frame(PeerMAC, PeerMAC, 100, 2)
	if c.Offer(other) || !c.Offer(want) || c.Offer([]byte{1, 2, 3}) {
		t.Fatal("Offer kept the wrong frames")
	}
	want[30] ^= 0xff // the capture must have copied
	got, err := c.WaitFor(context.Background(), 1)
	if err != nil || len(got) != 1 || FrameSeq(got[0]) != 2 || got[0][30] == want[30] {
		t.Fatalf("WaitFor(1): %d frames, %v", len(got), err)
	}
	if c.Ignored() != 2 {
		t.Errorf("ignored %d, want 2", c.Ignored())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if got, err := c.WaitFor(ctx, 2); !errors.Is(err, context.DeadlineExceeded) || len(got) != 1 {
		t.Errorf("WaitFor(2) with one frame: %d, %v; want 1 and the deadline", len(got), err)
	}
	c.Reset()
	if c.Ignored() != 2 {
		t.Errorf("Reset cleared the ignored count")
	}
	go func() {
		time.Sleep(10 * time.Millisecond)
		c.Offer(Frame(PeerMAC, PeerMAC, 60, 3))
	}()
	if got, err := c.WaitFor(context.Background(), 1); err != nil || len(got) != 1 || FrameSeq(got[0]) != 3 {
		t.Errorf("WaitFor after Reset: %d frames, %v", len(got), err)
	}
	c.End(ErrPeerClosed)
	if _, err := c.WaitFor(context.Background(), 5); !errors.Is(err, ErrPeerClosed) {
		t.Errorf("WaitFor after End: %v, want ErrPeerClosed", err)
	}
}
