package specs

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/onsi/ginkgo/v2"

	"dongle/fixtures"
	"dongle/hw"
	"dongle/hw/replay"
	"dongle/hw/usbmon"
	"dongle/usbnet/decode"
)

// Sidecar is a fixture's machine-readable expectations (<name>.json next
// to <name>.pcap). README's "Adding a dongle's trace" says how to write one.
type Sidecar struct {
	Replay    bool   `json:"replay"`     // the suite replays this trace
	Driver    string `json:"driver"`     // minidriver that must bind
	Vendor    string `json:"vendor"`     // hex VID
	Product   string `json:"product"`    // hex PID
	MAC       string `json:"mac"`        // the adapter's MAC
	Speed     string `json:"speed"`      // full, high, super
	MaxPacket int    `json:"max_packet"` // bulk OUT wMaxPacketSize
	RxFrames  int    `json:"rx_frames"`  // frames on bulk IN the replay delivers (-1: not checked)
	LinkMbps  int    `json:"link_mbps"`  // link speed the driver must report (0: not checked)
	RxHalts   int    `json:"rx_halts"`   // bulk IN stalls recorded (model replay replays them): each must be cleared
}

// Expect converts the sidecar, naming the field that is wrong.
func (s Sidecar) Expectations() (Expectations, error) {
	e := Expectations{Driver: s.Driver, MaxPacket: s.MaxPacket, RxFrames: s.RxFrames, LinkMbps: s.LinkMbps, RxHalts: s.RxHalts}
	if s.RxHalts < 0 {
		return e, fmt.Errorf("rx_halts %d: a count, 0 or more", s.RxHalts)
	}
	v, err := strconv.ParseUint(s.Vendor, 16, 16)
	if err != nil {
		return e, fmt.Errorf("vendor %q: %w", s.Vendor, err)
	}
	p, err := strconv.ParseUint(s.Product, 16, 16)
	if err != nil {
		return e, fmt.Errorf("product %q: %w", s.Product, err)
	}
	e.Vendor, e.Product = uint16(v), uint16(p)
	if e.MAC, err = net.ParseMAC(s.MAC); err != nil {
		return e, fmt.Errorf("mac: %w", err)
	}
	switch s.Speed {
	case "full":
		e.USBSpeed = hw.SpeedFull
	case "high":
		e.USBSpeed = hw.SpeedHigh
	case "super":
		e.USBSpeed = hw.SpeedSuper
	default:
		return e, fmt.Errorf("speed %q: want full, high or super", s.Speed)
	}
	return e, nil
}

// traceBackend is a model replay (hw/replay) of a usbmon capture: a
// recording become a device. It can be bound and read, and it delivers the
// frames it recorded on bulk IN, but it cannot be sent new traffic, faulted
// or unplugged.
type traceBackend struct {
	name   string
	recs   []usbmon.Record
	expect Expectations
}

func (b *traceBackend) Name() string         { return b.name }
func (b *traceBackend) Expect() Expectations { return b.expect }
func (b *traceBackend) Caps() []Cap {
	if b.expect.RxFrames >= 0 {
		return []Cap{CapTraceFrames}
	}
	return nil
}

func (b *traceBackend) Why(c Cap) string {
	switch c {
	case CapTraceFrames:
		return "its sidecar does not count the frames on bulk IN (rx_frames -1)"
	case CapLinkControl:
		return "a recording's link events are what was recorded; they cannot be asked for"
	case CapFaults, CapStallIn, CapStallOut, CapTimeout, CapUnplug:
		return "a recording cannot be stalled or unplugged on demand"
	}
	return "a recording answers with what it recorded: it cannot carry new traffic"
}

func (b *traceBackend) Open(ctx context.Context) (*Target, error) {
	dev, err := replay.New(b.recs, replay.ModelOptions{Name: b.name, Logf: func(f string, a ...any) {
		fmt.Fprintf(ginkgo.GinkgoWriter, "replay: "+f+"\n", a...)
	}})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", b.name, err)
	}
	return &Target{HW: dev, Close: dev.Close}, nil
}

// newTraceBackend reads a capture and its sidecar.
func newTraceBackend(name string, pcap, sidecar []byte) (*traceBackend, bool, error) {
	var sc Sidecar
	if err := json.Unmarshal(sidecar, &sc); err != nil {
		return nil, false, fmt.Errorf("%s: sidecar: %w", name, err)
	}
	if !sc.Replay {
		return nil, false, nil
	}
	e, err := sc.Expectations()
	if err != nil {
		return nil, false, fmt.Errorf("%s: sidecar: %w", name, err)
	}
	recs, lt, err := usbmon.ReadAll(bytes.NewReader(pcap))
	if err != nil {
		return nil, false, fmt.Errorf("%s: %w", name, err)
	}
	// A capture of a busy bus: the replay serves the adapter decode finds.
	tr, err := decode.Decode(recs, lt, decode.Options{})
	if err != nil {
		return nil, false, fmt.Errorf("%s: %w", name, err)
	}
	recs = replay.Only(recs, replay.DeviceAddr{Bus: tr.Bus, Address: tr.Address})
	return &traceBackend{name: "trace:" + name, recs: recs, expect: e}, true, nil
}

// FixtureBackends are the traces in fixtures/ whose sidecar says to replay
// them (embedded in the binary).
func FixtureBackends() ([]Backend, error) {
	names, err := fs.Glob(fixtures.FS, "*.json")
	if err != nil {
		return nil, err
	}
	var out []Backend
	for _, sc := range names {
		base := strings.TrimSuffix(sc, ".json")
		side, err := fixtures.FS.ReadFile(sc)
		if err != nil {
			return nil, err
		}
		pcap, err := fixtures.FS.ReadFile(base + ".pcap")
		if err != nil {
			return nil, fmt.Errorf("fixtures: sidecar %s has no %s.pcap: %w", sc, base, err)
		}
		b, ok, err := newTraceBackend(base+".pcap", pcap, side)
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, b)
		}
	}
	return out, nil
}

// TraceBackend replays a user's capture; its sidecar is FILE with .json for
// .pcap/.pcapng, and without one only the trace's own descriptors are
// checked.
func TraceBackend(path string) (Backend, error) {
	pcap, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("trace backend: %w", err)
	}
	side, err := os.ReadFile(strings.TrimSuffix(path, filepath.Ext(path)) + ".json")
	if err != nil {
		if !os.IsNotExist(err) {
			return nil, fmt.Errorf("trace backend: %w", err)
		}
		side = []byte(`{"replay": true, "vendor": "0", "product": "0", "mac": "00:00:00:00:00:00", "speed": "full", "rx_frames": -1}`)
	}
	b, _, err := newTraceBackend(filepath.Base(path), pcap, side)
	if err != nil {
		return nil, err
	}
	b.name = "trace:" + path
	return b, nil
}
