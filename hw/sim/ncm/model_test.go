package ncm_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"testing"
	"time"

	"dongle/hw"
	"dongle/hw/sim"
	"dongle/hw/sim/ncm"
)

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// rig is an NCM device with both interfaces claimed, the data interface at
// alt 1, and a capture on the far end of its wire.
type rig struct {
	d                    *sim.Device
	m                    *ncm.Model
	w                    *sim.Wire
	peer                 *sim.Capture
	in, out, status      hw.Endpoint
	statusOpen, dataOpen bool
}

func newRig(t *testing.T, o ncm.Options) *rig {
	t.Helper()
	r := &rig{}
	r.d, r.m = ncm.NewDevice(o)
	r.w = sim.NewWire()
	r.m.Connect(r.w.A())
	r.peer = sim.NewCapture()
	r.w.B().Attach(r.peer)
	for _, i := range []int{0, 1} {
		if err := r.d.Claim(i); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		for _, ep := range []hw.Endpoint{r.in, r.out, r.status} {
			if ep == nil {
				continue
			}
			ep.Cancel()
			for ep.InFlight() > 0 {
				if _, err := ep.Wait(context.Background()); err != nil {
					break
				}
			}
			if err := ep.Close(); err != nil {
				t.Error(err)
			}
		}
		_ = r.d.Release(0)
		_ = r.d.Release(1)
		if err := r.d.Close(); err != nil {
			t.Error(err)
		}
	})
	var err error
	if r.status, err = r.d.OpenEndpoint(ncm.EpStatus); err != nil {
		t.Fatal(err)
	}
	return r
}

// open selects data alt 1 and opens the bulk endpoints.
func (r *rig) open(t *testing.T) {
	t.Helper()
	if err := r.d.SetAlt(ncm.DataIface, ncm.DataAltOn); err != nil {
		t.Fatal(err)
	}
	var err error
	if r.in, err = r.d.OpenEndpoint(ncm.EpIn); err != nil {
		t.Fatal(err)
	}
	if r.out, err = r.d.OpenEndpoint(ncm.EpOut); err != nil {
		t.Fatal(err)
	}
}

func (r *rig) ctrl(t *testing.T, req uint8, value uint16, data []byte) error {
	t.Helper()
	rt := hw.DirOut | hw.TypeClass | hw.RecipInterface
	_, err := r.d.Control(ctxT(t), hw.Setup{RequestType: rt, Request: req, Value: value, Index: ncm.CtrlIface}, data)
	return err
}

func (r *rig) ctrlIn(t *testing.T, req uint8, n int) ([]byte, error) {
	t.Helper()
	buf := make([]byte, n)
	rt := hw.DirIn | hw.TypeClass | hw.RecipInterface
	got, err := r.d.Control(ctxT(t), hw.Setup{RequestType: rt, Request: req, Index: ncm.CtrlIface}, buf)
	return buf[:got], err
}

// read returns the next transfer on ep (a buffer of n bytes), or nil if
// none comes within wait.
func read(t *testing.T, ep hw.Endpoint, n int, wait time.Duration) []byte {
	t.Helper()
	tr := &hw.Transfer{Buf: make([]byte, n)}
	if err := ep.Submit(tr); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if _, err := ep.Wait(ctx); err != nil {
		ep.Cancel()
		_, _ = ep.Wait(context.Background())
		return nil
	}
	if tr.Err != nil {
		t.Fatalf("transfer on %v: %v", ep.Desc(), tr.Err)
	}
	return tr.Data()
}

func (r *rig) send(t *testing.T, ntb []byte) {
	t.Helper()
	tr := &hw.Transfer{Buf: ntb}
	if err := r.out.Submit(tr); err != nil {
		t.Fatal(err)
	}
	if _, err := r.out.Wait(ctxT(t)); err != nil || tr.Err != nil {
		t.Fatal(err, tr.Err)
	}
}

// frame is an Ethernet frame of n bytes to dst with a recognisable body.
func frame(dst [6]byte, n int, tag byte) []byte {
	f := make([]byte, n)
	copy(f, dst[:])
	copy(f[6:], []byte{0x02, 0, 0, 0, 0, 9, 0x88, 0xb5})
	for i := 14; i < n; i++ {
		f[i] = byte(i) ^ tag
	}
	return f
}

var bcast = [6]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}

// parsed is an NTB read by the test's own parser (not the model's).
type parsed struct {
	format int
	seq    uint16
	ndps   int
	frames [][]byte
	spans  [][2]int
}

// parseNTB reads an NTB16 or NTB32 strictly, following the NDP chain.
func parseNTB(b []byte) (*parsed, error) {
	le := binary.LittleEndian
	if len(b) < 12 {
		return nil, fmt.Errorf("%d bytes", len(b))
	}
	p := &parsed{seq: le.Uint16(b[6:])}
	var block, ndp int
	w := 2
	switch le.Uint32(b) {
	case 0x484d434e:
		if le.Uint16(b[4:]) != 12 {
			return nil, errors.New("NTH16 length")
		}
		block, ndp = int(le.Uint16(b[8:])), int(le.Uint16(b[10:]))
	case 0x686d636e:
		if len(b) < 16 || le.Uint16(b[4:]) != 16 {
			return nil, errors.New("NTH32 length")
		}
		p.format, w = 1, 4
		block, ndp = int(le.Uint32(b[8:])), int(le.Uint32(b[12:]))
	default:
		return nil, fmt.Errorf("signature %#x", le.Uint32(b))
	}
	if block != len(b) {
		return nil, fmt.Errorf("block %d, transfer %d", block, len(b))
	}
	rd := func(off int) int {
		if w == 2 {
			return int(le.Uint16(b[off:]))
		}
		return int(le.Uint32(b[off:]))
	}
	for ndp != 0 {
		if ndp%4 != 0 || ndp+16 > len(b) || p.ndps > 4 {
			return nil, fmt.Errorf("NDP at %d", ndp)
		}
		p.ndps++
		hdr, next := 8, rd(ndp+6)
		sig := uint32(0x304d434e)
		if w == 4 {
			hdr, next, sig = 16, rd(ndp+8), 0x306d636e
		}
		if le.Uint32(b[ndp:]) != sig {
			return nil, errors.New("NDP signature")
		}
		end := ndp + int(le.Uint16(b[ndp+4:]))
		for e := ndp + hdr; ; e += 2 * w {
			if e+2*w > end {
				return nil, errors.New("no terminator")
			}
			idx, n := rd(e), rd(e+w)
			if idx == 0 && n == 0 {
				break
			}
			if idx < 12 || idx+n > len(b) || n < 14 {
				return nil, fmt.Errorf("datagram %d+%d", idx, n)
			}
			for _, f := range p.spans {
				if idx < f[1] && f[0] < idx+n {
					return nil, fmt.Errorf("datagram %d+%d overlaps %v", idx, n, f)
				}
			}
			p.spans = append(p.spans, [2]int{idx, idx + n})
			p.frames = append(p.frames, b[idx:idx+n])
		}
		ndp = next
	}
	return p, nil
}

// buildNTB16 makes a host NTB16 in Linux cdc_ncm's default layout: NTH,
// the NDP right after it, then the datagrams with their payloads (after
// the 14-byte header) at 4-byte alignment, padded to pad bytes (0: none).
func buildNTB16(frames [][]byte, pad int) []byte {
	le := binary.LittleEndian
	ndpLen := 8 + 4*(len(frames)+1)
	b := make([]byte, 12+ndpLen)
	le.PutUint32(b, 0x484d434e)
	le.PutUint16(b[4:], 12)
	le.PutUint16(b[10:], 12)
	le.PutUint32(b[12:], 0x304d434e)
	le.PutUint16(b[16:], uint16(ndpLen))
	for i, f := range frames {
		for (len(b)+14)%4 != 0 {
			b = append(b, 0)
		}
		le.PutUint16(b[12+8+4*i:], uint16(len(b)))
		le.PutUint16(b[12+8+4*i+2:], uint16(len(f)))
		b = append(b, f...)
	}
	for len(b) < pad {
		b = append(b, 0)
	}
	le.PutUint16(b[8:], uint16(len(b)))
	return b
}

// buildNTB32 is buildNTB16 for NTB32.
func buildNTB32(frames [][]byte) []byte {
	le := binary.LittleEndian
	ndpLen := 16 + 8*(len(frames)+1)
	b := make([]byte, 16+ndpLen)
	le.PutUint32(b, 0x686d636e)
	le.PutUint16(b[4:], 16)
	le.PutUint32(b[12:], 16)
	le.PutUint32(b[16:], 0x306d636e)
	le.PutUint16(b[20:], uint16(ndpLen))
	for i, f := range frames {
		for (len(b)+14)%4 != 0 {
			b = append(b, 0)
		}
		le.PutUint32(b[16+16+8*i:], uint32(len(b)))
		le.PutUint32(b[16+16+8*i+4:], uint32(len(f)))
		b = append(b, f...)
	}
	le.PutUint32(b[8:], uint32(len(b)))
	return b
}

func TestDescriptors(t *testing.T) {
	for _, c := range []struct {
		speed hw.Speed
		bulk  uint16
	}{{hw.SpeedHigh, 512}, {hw.SpeedSuper, 1024}} {
		t.Run(c.speed.String(), func(t *testing.T) {
			d, m := ncm.NewDevice(ncm.Options{Speed: c.speed})
			ctx := ctxT(t)
			dd, err := hw.ReadDeviceDescriptor(ctx, d)
			if err != nil || dd.Vendor != ncm.Vendor || dd.Product != ncm.Product {
				t.Fatalf("%v %+v", err, dd)
			}
			if d.Info().Speed != c.speed {
				t.Errorf("speed %v", d.Info().Speed)
			}
			cfg, err := hw.ReadConfig(ctx, d, 0)
			if err != nil {
				t.Fatal(err)
			}
			ctl := cfg.Interface(ncm.CtrlIface)
			if ctl == nil || ctl.Alts[0].Class != 0x02 || ctl.Alts[0].SubClass != 0x0d {
				t.Fatalf("control interface %+v", ctl)
			}
			parts, err := hw.Descriptors(ctl.Alts[0].Extra)
			if err != nil {
				t.Fatal(err)
			}
			sub := map[byte][]byte{}
			for _, p := range parts {
				if p[1] == hw.DescCSInterface {
					sub[p[2]] = p
				}
			}
			if u := sub[0x06]; u == nil || u[3] != ncm.CtrlIface || u[4] != ncm.DataIface {
				t.Errorf("union %x", u)
			}
			eth := sub[0x0f]
			if eth == nil || binary.LittleEndian.Uint16(eth[8:]) != 1514 || binary.LittleEndian.Uint16(eth[10:]) != 16 {
				t.Errorf("ethernet %x", eth)
			}
			if s, err := hw.ReadString(ctx, d, eth[3]); err != nil || s != ncm.DefaultMAC {
				t.Errorf("iMACAddress %q %v", s, err)
			}
			if n := sub[0x1a]; n == nil || binary.LittleEndian.Uint16(n[3:]) != 0x0100 || n[5] != ncm.CapPacketFilter|ncm.CapMaxDatagramSize {
				t.Errorf("NCM functional %x", n)
			}
			data := cfg.Interface(ncm.DataIface)
			if data == nil || len(data.Alts) != 2 || len(data.Alts[0].Endpoints) != 0 || data.Alts[1].Protocol != 0x01 {
				t.Fatalf("data interface %+v", data)
			}
			for _, ep := range data.Alts[1].Endpoints {
				if ep.MaxPacketSize != c.bulk || ep.Type() != hw.XferBulk {
					t.Errorf("bulk %+v", ep)
				}
			}
			if a := m.MAC(); a != [6]byte{0x02, 0x11, 0x22, 0x0a, 0x00, 0x04} {
				t.Errorf("MAC %x", a)
			}
		})
	}
}

func TestBulkEndpointsOnlyAtAlt1(t *testing.T) {
	r := newRig(t, ncm.Options{})
	if _, err := r.d.OpenEndpoint(ncm.EpIn); !errors.Is(err, hw.ErrNotFound) {
		t.Fatalf("bulk IN at alt 0: %v", err)
	}
	r.open(t)
}

func TestNTBParametersAndRequests(t *testing.T) {
	r := newRig(t, ncm.Options{OutMaxDatagrams: 40})
	p, err := r.ctrlIn(t, ncm.ReqGetNTBParameters, 28)
	if err != nil {
		t.Fatal(err)
	}
	le := binary.LittleEndian
	want := []int{28, 3, 16384, 4, 0, 4, 0, 16384, 4, 0, 4, 40}
	got := []int{int(le.Uint16(p)), int(le.Uint16(p[2:])), int(le.Uint32(p[4:])), int(le.Uint16(p[8:])), int(le.Uint16(p[10:])),
		int(le.Uint16(p[12:])), int(le.Uint16(p[14:])), int(le.Uint32(p[16:])), int(le.Uint16(p[20:])), int(le.Uint16(p[22:])),
		int(le.Uint16(p[24:])), int(le.Uint16(p[26:]))}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("NTB parameters %v, want %v", got, want)
	}
	if err := r.ctrl(t, ncm.ReqSetNTBFormat, ncm.FormatNTB32, nil); err != nil {
		t.Fatal(err)
	}
	if f, err := r.ctrlIn(t, ncm.ReqGetNTBFormat, 2); err != nil || le.Uint16(f) != 1 {
		t.Errorf("format %x %v", f, err)
	}
	if err := r.ctrl(t, ncm.ReqSetNTBFormat, 2, nil); !errors.Is(err, hw.ErrStall) {
		t.Errorf("format 2: %v", err)
	}
	size := func(n uint32) []byte { return le.AppendUint32(nil, n) }
	for _, bad := range [][]byte{size(2047), size(16385), {0, 8}, append(size(4096), 1, 0, 0, 0)} {
		if err := r.ctrl(t, ncm.ReqSetNTBInputSize, 0, bad); !errors.Is(err, hw.ErrStall) {
			t.Errorf("input size %x: %v", bad, err)
		}
	}
	if err := r.ctrl(t, ncm.ReqSetNTBInputSize, 0, size(4096)); err != nil {
		t.Fatal(err)
	}
	if s, err := r.ctrlIn(t, ncm.ReqGetNTBInputSize, 8); err != nil || !bytes.Equal(s, size(4096)) {
		t.Errorf("input size read back %x %v (4 bytes without InputSize8)", s, err)
	}
	u16 := func(v uint16) []byte { return le.AppendUint16(nil, v) }
	for _, bad := range []uint16{1513, 1515} {
		if err := r.ctrl(t, ncm.ReqSetMaxDatagramSize, 0, u16(bad)); !errors.Is(err, hw.ErrStall) {
			t.Errorf("datagram size %d: %v", bad, err)
		}
	}
	if d, err := r.ctrlIn(t, ncm.ReqGetMaxDatagramSize, 2); err != nil || le.Uint16(d) != 1514 {
		t.Errorf("datagram size %x %v", d, err)
	}
	if err := r.ctrl(t, ncm.ReqSetMulticastFilters, 17, make([]byte, 17*6)); !errors.Is(err, hw.ErrStall) {
		t.Errorf("17 multicast filters on a device with 16: %v", err)
	}
	if err := r.ctrl(t, ncm.ReqGetStatistic, 0, nil); !errors.Is(err, hw.ErrStall) {
		t.Errorf("GET_ETHERNET_STATISTIC (bmEthernetStatistics 0): %v", err)
	}
	if err := r.ctrl(t, ncm.ReqSetCRCMode, 1, nil); !errors.Is(err, hw.ErrStall) {
		t.Errorf("SET_CRC_MODE without the capability: %v", err)
	}
	f, in, _, dg := r.m.Negotiated()
	if f != ncm.FormatNTB32 || in != 4096 || dg != 1514 {
		t.Errorf("negotiated %d %d %d", f, in, dg)
	}
	reqs := r.m.Requests()
	if len(reqs) != 16 || reqs[0].Setup.Request != ncm.ReqGetNTBParameters || reqs[2].Stalled() || !reqs[3].Stalled() {
		t.Errorf("request log of %d entries: %+v", len(reqs), reqs)
	}
	// Data alt 0 returns the settings to their defaults (NCM 1.0 §7.2).
	r.open(t)
	r.in.Close()
	r.out.Close()
	if err := r.d.SetAlt(ncm.DataIface, 0); err != nil {
		t.Fatal(err)
	}
	r.in, r.out = nil, nil
	if f, in, _, _ := r.m.Negotiated(); f != ncm.FormatNTB16 || in != 16384 {
		t.Errorf("after alt 0: format %d input size %d", f, in)
	}
}

func TestInputSize8AndNTB16Only(t *testing.T) {
	r := newRig(t, ncm.Options{InputSize8: true, NoNTB32: true})
	le := binary.LittleEndian
	if err := r.ctrl(t, ncm.ReqSetNTBFormat, ncm.FormatNTB32, nil); !errors.Is(err, hw.ErrStall) {
		t.Errorf("NTB32 on an NTB16-only device: %v", err)
	}
	p, _ := r.ctrlIn(t, ncm.ReqGetNTBParameters, 28)
	if le.Uint16(p[2:]) != 1 {
		t.Errorf("bmNtbFormatsSupported %#x", le.Uint16(p[2:]))
	}
	if err := r.ctrl(t, ncm.ReqSetNTBInputSize, 0, le.AppendUint32(nil, 4096)); !errors.Is(err, hw.ErrStall) {
		t.Errorf("4-byte input size where 8 were announced: %v", err)
	}
	in := append(le.AppendUint32(nil, 8192), 3, 0, 0, 0)
	if err := r.ctrl(t, ncm.ReqSetNTBInputSize, 0, in); err != nil {
		t.Fatal(err)
	}
	if got, err := r.ctrlIn(t, ncm.ReqGetNTBInputSize, 8); err != nil || !bytes.Equal(got, in) {
		t.Errorf("read back %x %v", got, err)
	}
	if _, size, maxDg, _ := r.m.Negotiated(); size != 8192 || maxDg != 3 {
		t.Errorf("negotiated %d %d", size, maxDg)
	}
}

// notification reads one interrupt transfer and decodes it.
func notification(t *testing.T, r *rig) (code uint8, value uint16, rate uint32) {
	t.Helper()
	b := read(t, r.status, 16, time.Second)
	if len(b) < 8 || b[0] != 0xa1 || binary.LittleEndian.Uint16(b[4:]) != ncm.CtrlIface {
		t.Fatalf("notification %x", b)
	}
	if b[1] == ncm.NotifySpeedChange {
		if len(b) != 16 {
			t.Fatalf("speed change of %d bytes", len(b))
		}
		return b[1], 0, binary.LittleEndian.Uint32(b[8:])
	}
	return b[1], binary.LittleEndian.Uint16(b[2:]), 0
}

func TestNotifications(t *testing.T) {
	r := newRig(t, ncm.Options{})
	if b := read(t, r.status, 16, 20*time.Millisecond); b != nil {
		t.Fatalf("notification before data alt 1: %x", b)
	}
	r.open(t)
	if c, _, rate := notification(t, r); c != ncm.NotifySpeedChange || rate != 1000000000 {
		t.Errorf("first: %#x rate %d", c, rate)
	}
	if c, v, _ := notification(t, r); c != ncm.NotifyNetworkConnection || v != 1 {
		t.Errorf("second: %#x %d", c, v)
	}
	if b := read(t, r.status, 16, 20*time.Millisecond); b != nil {
		t.Fatalf("a third notification: %x", b)
	}
	// While nobody polls, the link flaps: the host then reads the state
	// as it is (down), not one notification per change.
	r.m.SetLink(false)
	r.m.SetLink(true)
	r.m.SetLink(false)
	if q := r.d.Host().Queued(ncm.EpStatus); q != 1 {
		t.Errorf("%d notifications queued at the device, want 1 in flight", q)
	}
	var got []string
	for b := read(t, r.status, 16, 20*time.Millisecond); b != nil; b = read(t, r.status, 16, 20*time.Millisecond) {
		got = append(got, fmt.Sprintf("%02x:%d", b[1], binary.LittleEndian.Uint16(b[2:])))
	}
	if fmt.Sprint(got) != "[2a:0 2a:0 00:0]" {
		t.Errorf("after down/up/down: %v, want the queued speed change, then speed and connection 0", got)
	}
}

func TestReceiveAggregates(t *testing.T) {
	for _, format := range []int{ncm.FormatNTB16, ncm.FormatNTB32} {
		t.Run(fmt.Sprint("format", format), func(t *testing.T) {
			r := newRig(t, ncm.Options{ManualFlush: true})
			if err := r.ctrl(t, ncm.ReqSetNTBFormat, uint16(format), nil); err != nil {
				t.Fatal(err)
			}
			r.open(t)
			mac := r.m.MAC()
			var sent [][]byte
			for i, n := range []int{60, 1514, 333} {
				f := frame(mac, n, byte(i))
				sent = append(sent, f)
				r.w.B().Send(f)
			}
			if b := read(t, r.in, 16384, 20*time.Millisecond); b != nil {
				t.Fatalf("an NTB before Flush: %d bytes", len(b))
			}
			r.m.Flush()
			p, err := parseNTB(read(t, r.in, 16384, time.Second))
			if err != nil {
				t.Fatal(err)
			}
			if p.format != format || len(p.frames) != 3 {
				t.Fatalf("format %d, %d frames", p.format, len(p.frames))
			}
			for i := range sent {
				if !bytes.Equal(p.frames[i], sent[i]) {
					t.Errorf("frame %d differs", i)
				}
			}
			r.w.B().Send(sent[0])
			r.m.Flush()
			if q, err := parseNTB(read(t, r.in, 16384, time.Second)); err != nil || q.seq != p.seq+1 {
				t.Errorf("next NTB: %v, sequence %d after %d", err, q.seq, p.seq)
			}
			if s := r.m.Stats(); s.RxFrames != 4 || s.RxNTBs != 2 {
				t.Errorf("stats %+v", s)
			}
		})
	}
}

func TestReceiveRespectsInputSizeAndZLPRule(t *testing.T) {
	r := newRig(t, ncm.Options{ManualFlush: true})
	if err := r.ctrl(t, ncm.ReqSetNTBInputSize, 0, binary.LittleEndian.AppendUint32(nil, 2048)); err != nil {
		t.Fatal(err)
	}
	r.open(t)
	mac := r.m.MAC()
	// 1000 + 1014 bytes fill 2048 exactly (NTH 12, 2 bytes to align the
	// first payload, 1000 + 1014, NDP16 of 20):
	// sent at once, with no ZLP (the host's 2048-byte transfer is full).
	zlps := r.d.Stats(ncm.EpIn).ZLPs
	r.w.B().Send(frame(mac, 1000, 1))
	r.w.B().Send(frame(mac, 1014, 2))
	b := read(t, r.in, 2048, time.Second)
	if len(b) != 2048 {
		t.Fatalf("full NTB of %d bytes", len(b))
	}
	if p, err := parseNTB(b); err != nil || len(p.frames) != 2 {
		t.Fatalf("%v", err)
	}
	if z := r.d.Stats(ncm.EpIn).ZLPs - zlps; z != 0 {
		t.Errorf("%d ZLPs after a full-size NTB", z)
	}
	// Three 1000-byte frames: two fit, the third starts the next NTB.
	for i := 0; i < 3; i++ {
		r.w.B().Send(frame(mac, 1000, byte(i)))
	}
	b = read(t, r.in, 2048, time.Second)
	if p, err := parseNTB(b); err != nil || len(p.frames) != 2 || len(b) > 2048 {
		t.Fatalf("%d bytes: %v", len(b), err)
	}
	r.m.Flush()
	if p, err := parseNTB(read(t, r.in, 2048, time.Second)); err != nil || len(p.frames) != 1 {
		t.Fatalf("the third frame's NTB: %v", err)
	}
	// A 482-byte frame makes a 512-byte NTB: one full packet, then a ZLP
	// ends the host's transfer (which had room for more).
	zlps = r.d.Stats(ncm.EpIn).ZLPs
	r.w.B().Send(frame(mac, 482, 3))
	r.m.Flush()
	if b := read(t, r.in, 2048, time.Second); len(b) != 512 {
		t.Fatalf("NTB of %d bytes", len(b))
	}
	if z := r.d.Stats(ncm.EpIn).ZLPs - zlps; z != 1 {
		t.Errorf("%d ZLPs after a 512-byte NTB, want 1", z)
	}
}

func TestReceiveDatagramCapAndTimer(t *testing.T) {
	r := newRig(t, ncm.Options{MaxInDatagrams: 4, FlushDelay: time.Millisecond})
	r.open(t)
	for i := 0; i < 10; i++ {
		r.w.B().Send(frame(r.m.MAC(), 100, byte(i)))
	}
	var counts []int
	for i := 0; i < 3; i++ {
		p, err := parseNTB(read(t, r.in, 16384, time.Second))
		if err != nil {
			t.Fatal(err)
		}
		counts = append(counts, len(p.frames))
	}
	if fmt.Sprint(counts) != "[4 4 2]" {
		t.Errorf("datagrams per NTB %v, want [4 4 2] (the last sent by the timer)", counts)
	}
}

func TestReceiveFilter(t *testing.T) {
	r := newRig(t, ncm.Options{ManualFlush: true})
	r.open(t)
	me := r.m.MAC()
	other := [6]byte{0x02, 9, 9, 9, 9, 9}
	group := [6]byte{0x01, 0x00, 0x5e, 0, 0, 1}
	group2 := [6]byte{0x01, 0x00, 0x5e, 0, 0, 2}
	passed := func(dst [6]byte) bool {
		t.Helper()
		r.w.B().Send(frame(dst, 64, 0))
		r.m.Flush()
		return read(t, r.in, 16384, 10*time.Millisecond) != nil
	}
	for _, c := range []struct {
		filter uint16
		mc     [][6]byte
		pass   map[[6]byte]bool
	}{
		{ncm.DefaultFilter, nil, map[[6]byte]bool{me: true, other: false, bcast: true, group: true}},
		{ncm.FilterDirected | ncm.FilterBroadcast, nil, map[[6]byte]bool{me: true, other: false, bcast: true, group: false}},
		{ncm.FilterDirected | ncm.FilterMulticast, [][6]byte{group}, map[[6]byte]bool{me: true, bcast: false, group: true, group2: false}},
		{ncm.FilterPromiscuous, nil, map[[6]byte]bool{other: true, group2: true}},
		{0, nil, map[[6]byte]bool{me: false, bcast: false}},
	} {
		if c.filter != ncm.DefaultFilter {
			if err := r.ctrl(t, ncm.ReqSetPacketFilter, c.filter, nil); err != nil {
				t.Fatal(err)
			}
		}
		var list []byte
		for _, a := range c.mc {
			list = append(list, a[:]...)
		}
		if err := r.ctrl(t, ncm.ReqSetMulticastFilters, uint16(len(c.mc)), list); err != nil {
			t.Fatal(err)
		}
		for dst, want := range c.pass {
			if got := passed(dst); got != want {
				t.Errorf("filter %#x, destination %x: passed %v, want %v", c.filter, dst, got, want)
			}
		}
	}
}

func TestTransmitGoodNTBs(t *testing.T) {
	r := newRig(t, ncm.Options{})
	r.open(t)
	a, b := frame(bcast, 60, 1), frame(bcast, 1514, 2)
	r.send(t, buildNTB16([][]byte{a, b}, 0))
	got := r.peer.Frames()
	if len(got) != 2 || !bytes.Equal(got[0], a) || !bytes.Equal(got[1], b) {
		t.Fatalf("wire got %d frames", len(got))
	}
	// A full-size NTB ending on a packet boundary, with no ZLP, is one
	// NTB (the model ends the transfer at dwNtbOutMaxSize).
	var many [][]byte
	for i := 0; i < 10; i++ {
		many = append(many, frame(bcast, 1514, byte(i)))
	}
	full := buildNTB16(many, 16384)
	r.send(t, full)
	if n := r.peer.Len(); n != 12 {
		t.Errorf("%d frames after the full-size NTB, want 12", n)
	}
	if err := r.ctrl(t, ncm.ReqSetNTBFormat, ncm.FormatNTB32, nil); err != nil {
		t.Fatal(err)
	}
	r.send(t, buildNTB32([][]byte{a}))
	if n := r.peer.Len(); n != 13 {
		t.Errorf("%d frames after an NTB32, want 13", n)
	}
	// An NTB16 on an NTB32 link is refused.
	r.send(t, buildNTB16([][]byte{a}, 0))
	if s := r.m.Stats(); s.TxNTBs != 4 || s.TxBadNTBs != 1 || s.TxFrames != 13 || r.m.ViolationCount(ncm.VNTHSignature) != 1 {
		t.Errorf("stats %+v violations %v", s, r.m.Violations())
	}
}

// TestTransmitViolations: each edit of a good NTB16 is counted under its
// name, and the NTB is dropped whole.
func TestTransmitViolations(t *testing.T) {
	le := binary.LittleEndian
	a, b := frame(bcast, 100, 1), frame(bcast, 200, 2)
	// Good layout: NTH 0..12, NDP 12..32 (3 entries), a at 34..134, b at 134..334.
	for _, c := range []struct {
		v    ncm.Violation
		edit func(n []byte) []byte
	}{
		{ncm.VShort, func(n []byte) []byte { return n[:10] }},
		{ncm.VNTHSignature, func(n []byte) []byte { n[0] = 'X'; return n }},
		{ncm.VHeaderLength, func(n []byte) []byte { le.PutUint16(n[4:], 16); return n }},
		{ncm.VBlockLength, func(n []byte) []byte { le.PutUint16(n[8:], uint16(len(n)+4)); return n }},
		{ncm.VNDPIndex, func(n []byte) []byte { le.PutUint16(n[10:], uint16(len(n))); return n }},
		{ncm.VNDPIndex, func(n []byte) []byte { le.PutUint16(n[10:], 4); return n }},
		{ncm.VNDPSignature, func(n []byte) []byte { le.PutUint32(n[12:], 0x314d434e); return n }}, // NCM1: CRC
		{ncm.VNDPLength, func(n []byte) []byte { le.PutUint16(n[16:], 14); return n }},
		{ncm.VNDPLength, func(n []byte) []byte { le.PutUint16(n[16:], 400); return n }},
		{ncm.VNoTerminator, func(n []byte) []byte { le.PutUint16(n[16:], 16); return n }},
		{ncm.VEmptyNDP, func(n []byte) []byte { clear(n[20:28]); return n }},
		{ncm.VZeroEntry, func(n []byte) []byte { le.PutUint16(n[22:], 0); return n }},
		{ncm.VDatagramInHeader, func(n []byte) []byte { le.PutUint16(n[20:], 8); return n }},
		{ncm.VDatagramPastEnd, func(n []byte) []byte { le.PutUint16(n[26:], 201); return n }},
		{ncm.VDatagramOverlap, func(n []byte) []byte { le.PutUint16(n[24:], 38); return n }},
		{ncm.VDatagramOverlap, func(n []byte) []byte { le.PutUint16(n[20:], 30); return n }}, // into the NDP
		{ncm.VDatagramAlignment, func(n []byte) []byte { le.PutUint16(n[24:], 136); le.PutUint16(n[26:], 198); return n }},
		{ncm.VRunt, func(n []byte) []byte { le.PutUint16(n[22:], 13); return n }},
		{ncm.VOversize, func(n []byte) []byte {
			f := frame(bcast, 1515, 0)
			return buildNTB16([][]byte{f}, 0)
		}},
		{ncm.VNDPLoop, func(n []byte) []byte { le.PutUint16(n[18:], 12); return n }},
		{ncm.VNDPAlignment, func(n []byte) []byte {
			// The NDP moved to 334 (2 bytes off 4-byte alignment), after the datagrams.
			ndp := append([]byte(nil), n[12:32]...)
			n = append(n[:334], ndp...)
			clear(n[12:32])
			le.PutUint16(n[10:], 334)
			le.PutUint16(n[8:], uint16(len(n)))
			return n // the entries moved with the NDP still point at the datagrams
		}},
	} {
		t.Run(c.v.String(), func(t *testing.T) {
			r := newRig(t, ncm.Options{OutMaxDatagrams: 2})
			r.open(t)
			r.send(t, c.edit(buildNTB16([][]byte{a, b}, 0)))
			if n := r.m.ViolationCount(c.v); n != 1 {
				t.Errorf("%s counted %d times; all: %v", c.v, n, r.m.Violations())
			}
			if s := r.m.Stats(); s.TxBadNTBs != 1 || s.TxFrames != 0 || r.peer.Len() != 0 {
				t.Errorf("a bad NTB reached the wire: %+v", s)
			}
		})
	}
	// Longer than dwNtbOutMaxSize: a device whose limit is no packet
	// multiple takes the host's transfer whole and refuses it; one whose
	// limit is (16384) ends its transfer there, so it reads an NTB that
	// declares more than it may be and that the transfer cut short, then
	// a 1-byte transfer.
	tooLong := func(n []byte, size int) []byte {
		n = append(n, make([]byte, size-len(n))...)
		le.PutUint16(n[8:], uint16(len(n)))
		return n
	}
	t.Run("ntb_too_long", func(t *testing.T) {
		r := newRig(t, ncm.Options{OutMaxDatagrams: 2, NtbOutMaxSize: 16000})
		r.open(t)
		r.send(t, tooLong(buildNTB16([][]byte{a, b}, 0), 16001))
		if n := r.m.ViolationCount(ncm.VTooLong); n != 1 {
			t.Errorf("ntb_too_long counted %d times; all: %v", n, r.m.Violations())
		}
		if s := r.m.Stats(); s.TxBadNTBs != 1 || s.TxFrames != 0 || r.peer.Len() != 0 {
			t.Errorf("a bad NTB reached the wire: %+v", s)
		}
	})
	t.Run("longer than a packet-multiple limit: two transfers", func(t *testing.T) {
		r := newRig(t, ncm.Options{OutMaxDatagrams: 2})
		r.open(t)
		r.send(t, tooLong(buildNTB16([][]byte{a, b}, 0), 16385))
		v := r.m.Violations()
		if v[ncm.VBlockLength.String()] != 1 || v[ncm.VShort.String()] != 1 || v[ncm.VTooLong.String()] != 1 {
			t.Errorf("violations %v; want ntb_too_long and block_length (16385 declared, 16384 came) and short (the last byte)", v)
		}
		if s := r.m.Stats(); s.TxNTBs != 2 || s.TxBadNTBs != 2 || s.TxFrames != 0 || r.peer.Len() != 0 {
			t.Errorf("stats %+v; want two bad NTBs and nothing on the wire", s)
		}
	})
	t.Run("too many datagrams", func(t *testing.T) {
		r := newRig(t, ncm.Options{OutMaxDatagrams: 2})
		r.open(t)
		r.send(t, buildNTB16([][]byte{a, b, a}, 0))
		if n := r.m.ViolationCount(ncm.VTooManyDatagrams); n != 1 || r.peer.Len() != 0 {
			t.Errorf("counted %d, wire %d", n, r.peer.Len())
		}
	})
}

func TestLinkDownDropsBothWays(t *testing.T) {
	r := newRig(t, ncm.Options{ManualFlush: true, LinkDown: true})
	r.open(t)
	r.send(t, buildNTB16([][]byte{frame(bcast, 60, 0)}, 0))
	r.w.B().Send(frame(r.m.MAC(), 60, 0))
	r.m.Flush()
	if b := read(t, r.in, 16384, 10*time.Millisecond); b != nil || r.peer.Len() != 0 {
		t.Fatalf("frames moved with the link down")
	}
	if s := r.m.Stats(); s.TxNoLink != 1 || s.RxNoLink != 1 {
		t.Errorf("stats %+v", s)
	}
}

func TestCorruptNextAndChain(t *testing.T) {
	r := newRig(t, ncm.Options{ManualFlush: true})
	r.open(t)
	mac := r.m.MAC()
	for _, c := range ncm.Corruptions {
		r.m.CorruptNext(c)
		r.w.B().Send(frame(mac, 100, 1))
		r.w.B().Send(frame(mac, 100, 2))
		r.m.Flush()
		b := read(t, r.in, 16384, time.Second)
		if _, err := parseNTB(b); err == nil {
			t.Errorf("%v: the test's parser reads the NTB", c)
		}
	}
	// After the queue of faults, NTBs are good again.
	r.w.B().Send(frame(mac, 100, 3))
	r.m.Flush()
	if p, err := parseNTB(read(t, r.in, 16384, time.Second)); err != nil || len(p.frames) != 1 {
		t.Fatalf("after the faults: %v", err)
	}
	r.m.ChainNext()
	for i := 0; i < 3; i++ {
		r.w.B().Send(frame(mac, 100, byte(i)))
	}
	r.m.Flush()
	p, err := parseNTB(read(t, r.in, 16384, time.Second))
	if err != nil || p.ndps != 2 || len(p.frames) != 3 {
		t.Fatalf("chained NTB: %v %+v", err, p)
	}
	if s := r.m.Stats(); s.RxCorrupted != uint64(len(ncm.Corruptions)) {
		t.Errorf("RxCorrupted %d", s.RxCorrupted)
	}
}

func TestSteadyStateAllocations(t *testing.T) {
	r := newRig(t, ncm.Options{ManualFlush: true})
	r.open(t)
	f := frame(r.m.MAC(), 1514, 0)
	ntb := buildNTB16([][]byte{f, f, f}, 0)
	null := nullPort{}
	r.w.B().Attach(null)
	tr := &hw.Transfer{Buf: make([]byte, 16384)}
	out := &hw.Transfer{Buf: ntb}
	cycle := func() {
		r.w.B().Send(f)
		r.w.B().Send(f)
		r.m.Flush()
		_ = r.in.Submit(tr)
		_, _ = r.in.Wait(context.Background())
		_ = r.out.Submit(out)
		_, _ = r.out.Wait(context.Background())
	}
	for i := 0; i < 10; i++ {
		cycle()
	}
	if n := testing.AllocsPerRun(100, cycle); n != 0 {
		t.Errorf("%.1f allocations per RX NTB + TX NTB", n)
	}
	if s := r.m.Stats(); s.TxFrames < 330 || s.RxNTBs < 110 || s.RxLost != 0 {
		t.Errorf("stats %+v", s)
	}
}

type nullPort struct{}

func (nullPort) Receive([]byte) {}

// TestLoopbackWire: a frame the host sends comes back from a loopback plug
// on the wire, in an RX NTB. The wire delivers synchronously, so Out's
// frame reaches Receive on the same goroutine: a model that sent to the
// wire while holding its lock deadlocked here (dongle diag's loopback
// self-test hung). The send runs under a short deadline, and the device is
// closed only once it came back (closing a deadlocked device would hang).
func TestLoopbackWire(t *testing.T) {
	d, m := ncm.NewDevice(ncm.Options{ManualFlush: true})
	w := sim.NewWire()
	m.Connect(w.A())
	sim.NewLoopback(w.B())
	f := frame(m.MAC(), 1514, 7)
	tr := &hw.Transfer{Buf: buildNTB16([][]byte{f}, 0)}
	var in, out hw.Endpoint
	done := make(chan error, 1)
	go func() {
		var err error
		for _, i := range []int{0, 1} {
			if err = d.Claim(i); err != nil {
				done <- err
				return
			}
		}
		if err = d.SetAlt(ncm.DataIface, ncm.DataAltOn); err != nil {
			done <- err
			return
		}
		if in, err = d.OpenEndpoint(ncm.EpIn); err != nil {
			done <- err
			return
		}
		if out, err = d.OpenEndpoint(ncm.EpOut); err != nil {
			done <- err
			return
		}
		if err = out.Submit(tr); err != nil {
			done <- err
			return
		}
		_, err = out.Wait(context.Background())
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil || tr.Err != nil {
			t.Fatal(err, tr.Err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("the NTB sent to a loopback wire did not complete in 2 s: the model deadlocked on itself")
	}
	t.Cleanup(func() {
		for _, ep := range []hw.Endpoint{in, out} {
			ep.Cancel()
			_ = ep.Close()
		}
		_ = d.Release(0)
		_ = d.Release(1)
		if err := d.Close(); err != nil {
			t.Error(err)
		}
	})
	m.Flush()
	p, err := parseNTB(read(t, in, 16384, time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if len(p.frames) != 1 || !bytes.Equal(p.frames[0], f) {
		t.Fatalf("RX NTB carries %d frames, want the one sent", len(p.frames))
	}
	if s := m.Stats(); s.TxFrames != 1 || s.RxFrames != 1 || s.RxNTBs != 1 {
		t.Errorf("stats %+v", s)
	}
}

// TestOversizeNext: one NTB longer than the host's input size, its block
// length saying so; the host's full-size transfer takes the first part and
// the next transfer the rest; the NTB after it is normal again.
func TestOversizeNext(t *testing.T) {
	r := newRig(t, ncm.Options{ManualFlush: true})
	if err := r.ctrl(t, ncm.ReqSetNTBInputSize, 0, binary.LittleEndian.AppendUint32(nil, 2048)); err != nil {
		t.Fatal(err)
	}
	r.open(t)
	mac := r.m.MAC()
	r.m.OversizeNext(512)
	r.w.B().Send(frame(mac, 100, 1))
	r.m.Flush()
	b := read(t, r.in, 2048, time.Second)
	if len(b) != 2048 {
		t.Fatalf("first transfer of the oversize NTB: %d bytes, want the host's full 2048", len(b))
	}
	if bl := binary.LittleEndian.Uint16(b[8:]); bl != 2048+512 {
		t.Fatalf("wBlockLength %d, want 2560 (longer than the negotiated 2048)", bl)
	}
	if rest := read(t, r.in, 2048, time.Second); len(rest) != 512 {
		t.Fatalf("the rest: %d bytes, want 512", len(rest))
	}
	r.w.B().Send(frame(mac, 100, 2))
	r.m.Flush()
	b = read(t, r.in, 2048, time.Second)
	if p, err := parseNTB(b); err != nil || len(p.frames) != 1 || len(b) >= 2048 {
		t.Fatalf("the NTB after: %d bytes, %v", len(b), err)
	}
	if s := r.m.Stats(); s.RxOversize != 1 {
		t.Errorf("RxOversize %d, want 1", s.RxOversize)
	}
	r.m.OversizeNext(100)
	r.m.OversizeNext(0) // cancelled
	r.w.B().Send(frame(mac, 100, 3))
	r.m.Flush()
	if b := read(t, r.in, 2048, time.Second); binary.LittleEndian.Uint16(b[8:]) != uint16(len(b)) {
		t.Fatalf("a cancelled OversizeNext still padded the NTB: %d bytes, wBlockLength %d", len(b), binary.LittleEndian.Uint16(b[8:]))
	}
}

// TestGateLinkOnFilter: with the gate on, the link-up NETWORK_CONNECTION
// waits for SET_ETHERNET_PACKET_FILTER (the speed change does not), after
// opening and after a replugged cable; a link-down is not held.
func TestGateLinkOnFilter(t *testing.T) {
	r := newRig(t, ncm.Options{})
	r.m.GateLinkOnFilter(true)
	r.open(t)
	if c, _, _ := notification(t, r); c != ncm.NotifySpeedChange {
		t.Fatalf("first: %#x, want the speed change", c)
	}
	if b := read(t, r.status, 16, 50*time.Millisecond); b != nil {
		t.Fatalf("a notification before any filter: %x", b)
	}
	if err := r.ctrl(t, ncm.ReqSetPacketFilter, 0x0e, nil); err != nil {
		t.Fatal(err)
	}
	if c, v, _ := notification(t, r); c != ncm.NotifyNetworkConnection || v != 1 {
		t.Fatalf("after the filter: %#x %d, want connection 1", c, v)
	}
	r.m.SetLink(false)
	var got []string
	for b := read(t, r.status, 16, 50*time.Millisecond); b != nil; b = read(t, r.status, 16, 50*time.Millisecond) {
		got = append(got, fmt.Sprintf("%02x:%d", b[1], binary.LittleEndian.Uint16(b[2:])))
	}
	if fmt.Sprint(got) != "[2a:0 00:0]" {
		t.Fatalf("link down: %v, want speed and connection 0 at once", got)
	}
	r.m.SetLink(true)
	got = nil
	for b := read(t, r.status, 16, 50*time.Millisecond); b != nil; b = read(t, r.status, 16, 50*time.Millisecond) {
		got = append(got, fmt.Sprintf("%02x:%d", b[1], binary.LittleEndian.Uint16(b[2:])))
	}
	if fmt.Sprint(got) != "[2a:0]" {
		t.Fatalf("cable back, no filter yet: %v, want the speed change only", got)
	}
	r.m.GateLinkOnFilter(false)
	if c, v, _ := notification(t, r); c != ncm.NotifyNetworkConnection || v != 1 {
		t.Fatalf("gate off: %#x %d, want the held connection 1", c, v)
	}
}
