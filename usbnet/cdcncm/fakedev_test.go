package cdcncm

import (
	"bytes"
	"encoding/binary"
	"sync"
	"testing"
	"time"

	"dongle/hw"
	"dongle/hw/sim"
	"dongle/skbuff"
	"dongle/usbnet"
)

// fakeNCM is a small NCM device for the driver's own tests, written from
// the device's side: descriptors, the NCM requests (checked: NTB format
// and input size only at data alt 0, values in range), NTBs out
// recorded, NTBs in injected by the test. hw/sim/ncm is the full model;
// this one is what the driver's unit tests need and nothing more.
type fakeNCM struct {
	params   NTBParams
	caps     uint8
	mcFilter uint16
	mac      string
	stallReq map[uint8]bool // requests to refuse
	cfgEdit  func([]byte) []byte

	host *sim.Host
	mu   sync.Mutex
	reqs []hw.Setup
	data [][]byte
	out  [][]byte // bulk OUT transfers (NTBs)
	zlps int
	// discard: OUT NTBs are only counted (benchmarks).
	discard bool
	nout    int

	format    Format
	inSize    int
	dgram     int
	dgramDef  int // the datagram size alt 0 returns to
	filter    uint16
	badAltReq int // NTB format/size requests at alt 1
}

const (
	fakeEpStatus = 0x81
	fakeEpIn     = 0x82
	fakeEpOut    = 0x02
)

func newFakeNCM() *fakeNCM {
	return &fakeNCM{params: linuxParams(), caps: CapPacketFilter | CapMaxDatagramSize | CapCRCMode, mcFilter: 4,
		mac: "02aabbccddee", stallReq: map[uint8]bool{}, inSize: 32768, dgram: 1514, dgramDef: 1514}
}

func (f *fakeNCM) Descriptors() ([]byte, [][]byte, map[uint8]string) {
	dev := []byte{18, 1, 0, 2, 0xef, 2, 1, 64, 0x09, 0x12, 0xff, 0x00, 0, 1, 1, 2, 0, 1}
	cfg := []byte{9, 2, 0, 0, 2, 1, 0, 0x80, 50,
		8, hw.DescIAD, 0, 2, 2, 0x0d, 0, 0,
		9, 4, 0, 0, 1, 2, 0x0d, 0, 0,
		5, 0x24, 0x00, 0x10, 0x01,
		5, 0x24, 0x06, 0, 1,
		13, 0x24, 0x0f, 3, 0, 0, 0, 0, 0xea, 0x05, byte(f.mcFilter), byte(f.mcFilter >> 8), 0,
		6, 0x24, 0x1a, 0x00, 0x01, f.caps,
		7, 5, fakeEpStatus, 3, 16, 0, 9,
		9, 4, 1, 0, 0, 0x0a, 0, 1, 0,
		9, 4, 1, 1, 2, 0x0a, 0, 1, 0,
		7, 5, fakeEpIn, 2, 0, 2, 0,
		7, 5, fakeEpOut, 2, 0, 2, 0,
	}
	if f.cfgEdit != nil {
		cfg = f.cfgEdit(cfg)
	}
	binary.LittleEndian.PutUint16(cfg[2:], uint16(len(cfg)))
	return dev, [][]byte{cfg}, map[uint8]string{1: "dongle", 2: "fake NCM", 3: f.mac}
}

func (f *fakeNCM) Attach(h *sim.Host) { f.host = h }

func (f *fakeNCM) Control(s hw.Setup, data []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reqs = append(f.reqs, s)
	f.data = append(f.data, append([]byte(nil), data...))
	if s.RequestType&0x60 != hw.TypeClass || f.stallReq[s.Request] {
		return 0, hw.ErrStall
	}
	alt0 := f.host.Alt(1) == 0
	le := binary.LittleEndian
	switch s.Request {
	case ReqGetNTBParameters:
		return copy(data, f.params.Bytes()), nil
	case ReqSetNTBFormat:
		if !alt0 {
			f.badAltReq++
		}
		if s.Value > 1 || s.Value == 1 && f.params.FormatsSupported&FormatsNTB32 == 0 {
			return 0, hw.ErrStall
		}
		f.format = Format(s.Value)
	case ReqGetNTBFormat:
		le.PutUint16(data, uint16(f.format))
		return 2, nil
	case ReqSetNTBInputSize:
		if !alt0 {
			f.badAltReq++
		}
		want := 4
		if f.caps&CapInputSize8 != 0 {
			want = 8
		}
		if len(data) != want {
			return 0, hw.ErrStall
		}
		v := int(le.Uint32(data))
		if v < NTBMinSize || v > int(f.params.InMaxSize) {
			return 0, hw.ErrStall
		}
		f.inSize = v
	case ReqGetNTBInputSize:
		n := 4
		if f.caps&CapInputSize8 != 0 {
			n = 8
		}
		le.PutUint32(data, uint32(f.inSize))
		return min(n, len(data)), nil
	case ReqGetMaxDatagramSize:
		le.PutUint16(data, uint16(f.dgram))
		return 2, nil
	case ReqSetMaxDatagramSize:
		f.dgram = int(le.Uint16(data))
	case ReqSetCRCMode:
	case 0x43: // SET_ETHERNET_PACKET_FILTER
		f.filter = s.Value
	case 0x40: // SET_ETHERNET_MULTICAST_FILTERS
		if int(s.Value) > int(f.mcFilter) {
			return 0, hw.ErrStall
		}
	default:
		return 0, hw.ErrStall
	}
	return 0, nil
}

// OutLimit implements sim.OutLimiter: an NTB of dwNtbOutMaxSize bytes
// ends its transfer, as a device's does.
func (f *fakeNCM) OutLimit(ep uint8) int {
	if ep == fakeEpOut {
		return int(f.params.OutMaxSize)
	}
	return 0
}

func (f *fakeNCM) Out(ep uint8, data []byte) {
	if ep != fakeEpOut {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(data) == 0 {
		f.zlps++
		return
	}
	f.nout++
	if !f.discard {
		f.out = append(f.out, append([]byte(nil), data...))
	}
}

// SetAlt implements sim.AltSetter: data alt 1 reports the link, as f_ncm
// does (speed first, then the connection); alt 0 resets the NTB settings.
func (f *fakeNCM) SetAlt(iface, alt int) {
	if iface != 1 {
		return
	}
	if alt == 0 {
		f.mu.Lock()
		f.format, f.inSize, f.dgram = NTB16, int(f.params.InMaxSize), f.dgramDef
		f.mu.Unlock()
		return
	}
	speed := make([]byte, 16)
	copy(speed, []byte{0xa1, 0x2a, 0, 0, 0, 0, 8, 0})
	binary.LittleEndian.PutUint32(speed[8:], 1_000_000_000)
	binary.LittleEndian.PutUint32(speed[12:], 1_000_000_000)
	_ = f.host.SendIn(fakeEpStatus, speed)
	_ = f.host.SendIn(fakeEpStatus, []byte{0xa1, 0x00, 1, 0, 0, 0, 0, 0})
}

func (f *fakeNCM) ntbs() [][]byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([][]byte(nil), f.out...)
}

func (f *fakeNCM) requests() []hw.Setup {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]hw.Setup(nil), f.reqs...)
}

// rig is the fake device probed by the driver, with the frames that came
// up the stack collected.
type rig struct {
	f   *fakeNCM
	dev *sim.Device
	d   *usbnet.Dev
	drv *Driver

	mu sync.Mutex
	rx [][]byte
	// count: frames up the stack are only freed (benchmarks).
	count bool
}

const testType = 0x88b5

func newRig(t testing.TB, f *fakeNCM, drv *Driver, open bool) *rig {
	t.Helper()
	r := &rig{f: f, drv: drv}
	r.dev = sim.New(f, hw.Info{Bus: 1, Address: 9, Speed: hw.SpeedHigh, Vendor: 0x1209, Product: 0xff})
	d, err := usbnet.Probe(r.dev, drv)
	if err != nil {
		t.Fatal(err)
	}
	r.d = d
	d.Net.SetTxQueueLen(1 << 12)
	d.Net.AddHandler(testType, func(b *skbuff.Buff) {
		if r.count {
			b.Free(skbuff.FreeRead)
			return
		}
		fr := append(bytes.Clone(b.MACHeader()), b.Data()...)
		b.Free(skbuff.FreeRead)
		r.mu.Lock()
		r.rx = append(r.rx, fr)
		r.mu.Unlock()
	})
	t.Cleanup(func() {
		if err := d.Disconnect(); err != nil {
			t.Error(err)
		}
		if err := r.dev.Close(); err != nil {
			t.Error(err)
		}
		if n := skbuff.Live(); n != 0 {
			t.Errorf("%d sk_buffs live after disconnect", n)
		}
	})
	if open {
		if err := d.Net.Open(); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "carrier", d.Net.Carrier)
	}
	return r
}

func (r *rig) received() [][]byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([][]byte(nil), r.rx...)
}

func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(3 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// ethFrame is an n-byte test frame from a far station to dst.
func ethFrame(dst []byte, n, seq int) []byte {
	f := testFrame(n, seq)
	copy(f, dst)
	copy(f[6:], []byte{0x02, 0, 0, 0, 0, 0x99})
	binary.BigEndian.PutUint16(f[12:], testType)
	return f
}

func (r *rig) send(t testing.TB, f []byte) {
	b := skbuff.Alloc(len(f))
	b.PutData(f)
	if err := r.d.Net.Xmit(b); err != nil {
		t.Fatal(err)
	}
}

// expectSent: the device got exactly want, in order.
func (r *rig) expectSent(t testing.TB, want [][]byte) {
	t.Helper()
	got := r.sentFrames(t)
	if len(got) != len(want) {
		t.Fatalf("%d frames in the NTBs, want %d", len(got), len(want))
	}
	for i := range want {
		if !bytes.Equal(got[i], want[i]) {
			t.Fatalf("frame %d differs", i)
		}
	}
}

// sentFrames reads every NTB the device got back into frames, with the
// device-side Reader and the negotiated format.
func (r *rig) sentFrames(t testing.TB) [][]byte {
	t.Helper()
	var out [][]byte
	rd := &Reader{Format: priv(r.d).sizes.Format}
	for _, x := range r.f.ntbs() {
		for _, ntb := range NTBs(x) {
			if _, err := rd.Read(ntb, func(off, n int) { out = append(out, ntb[off:off+n]) }); err != nil {
				t.Errorf("NTB the driver sent: %v", err)
			}
		}
	}
	return out
}
