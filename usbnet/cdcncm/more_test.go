package cdcncm

import (
	"errors"
	"net"
	"slices"
	"strings"
	"testing"

	"dongle/hw"
	"dongle/skbuff"
	"dongle/usbnet"
)

// TestReaderEdges: the limits themselves are legal: a datagram ending
// exactly at the block's end, of exactly 14 bytes and of exactly the
// maximum size, an NDP filling the block to its end, a chain of exactly
// 50 NDPs.
func TestReaderEdges(t *testing.T) {
	r := &Reader{Format: NTB16, MaxBlock: 2048, MaxDatagram: 1514}
	p := newNTB(NTB16, 2048).nth(1, 2048, 12).ndp(12, 0, 0, [2]int{100, 14}, [2]int{200, 1514}, [2]int{2048 - 60, 60}).b
	if out, err := readAll(r, p); err != nil || len(out) != 3 {
		t.Errorf("edges: %v %v", out, err)
	}
	p = newNTB(NTB16, 512).nth(1, 512, 512-16).ndp(512-16, 16, 0, [2]int{100, 60}).b
	if out, err := readAll(r, p); err != nil || len(out) != 1 {
		t.Errorf("NDP at the block's end: %v %v", out, err)
	}
	p = newNTB(NTB16, 512).nth(1, 2048, 12).ndp(12, 0, 0, [2]int{100, 60}).b
	p = append(p, make([]byte, 2048-512)...)
	if out, err := readAll(r, p); err != nil || len(out) != 1 {
		t.Errorf("block of exactly the input size: %v %v", out, err)
	}
	n := newNTB(NTB16, 2048).nth(1, 2048, 12)
	for i := range 50 {
		next := 12 + 16*(i+1)
		if i == 49 {
			next = 0
		}
		n.ndp(12+16*i, 0, next, [2]int{1000 + 16*i, 14})
	}
	if out, err := readAll(r, n.b); err != nil || len(out) != 50 {
		t.Errorf("50 NDPs: %d datagrams, %v", len(out), err)
	}
	// One byte over each limit.
	for name, p := range map[string][]byte{
		"past the block by one": newNTB(NTB16, 512).nth(1, 512, 12).ndp(12, 0, 0, [2]int{512 - 59, 60}).b,
		"13 bytes":              newNTB(NTB16, 512).nth(1, 512, 12).ndp(12, 0, 0, [2]int{100, 13}).b,
		"1515 bytes":            newNTB(NTB16, 2048).nth(1, 2048, 12).ndp(12, 0, 0, [2]int{100, 1515}).b,
		"NDP one past the end":  newNTB(NTB16, 512).nth(1, 512, 512-15).b,
		"input size plus one":   newNTB(NTB16, 2049).nth(1, 2049, 12).ndp(12, 0, 0, [2]int{100, 60}).b,
	} {
		if out, err := readAll(r, p); err == nil || len(out) != 0 {
			t.Errorf("%s: %v %v", name, out, err)
		}
	}
}

// TestCopyBreak: a datagram of exactly CopyBreak bytes is copied, one
// byte more is shared; the default break is 256; -1 shares everything.
func TestCopyBreak(t *testing.T) {
	for _, c := range []struct {
		brk              int
		sizes            []int
		cloned, notClone []int
	}{
		{100, []int{100, 101}, []int{101}, []int{100}},
		{0, []int{256, 257}, []int{257}, []int{256}},
		{-1, []int{14, 60}, []int{14, 60}, nil},
	} {
		w := Writer{Sizes: Sizes{Format: NTB16, TxMax: 4096, MaxDatagram: 1514, TxDivisor: 4, TxRemainder: 2, TxNDPAlign: 4, TxMaxDgrams: 40, MinTxPkt: 4096}}
		var fs [][]byte
		for i, n := range c.sizes {
			fs = append(fs, testFrame(n, i))
		}
		ntb, _, _ := w.AppendNTB(0, fs)
		b := skbuff.Alloc(len(ntb))
		b.PutData(ntb)
		var q skbuff.Queue
		dr := &Driver{CopyBreak: c.brk}
		if n, err := dr.deliver(&Reader{Format: NTB16}, b, &q); err != nil || n != len(fs) {
			t.Fatal(n, err)
		}
		i := 0
		for f := q.Dequeue(); f != nil; f = q.Dequeue() {
			// A shared datagram pins the NTB's chunk (and is charged
			// for it); a copy has a chunk of its own size.
			want := slices.Contains(c.cloned, len(f.Data()))
			shared := f.Truesize() >= len(ntb)
			if shared != want || !slices.Equal(f.Data(), fs[i]) {
				t.Errorf("break %d, %d bytes: shared %v (truesize %d), want %v", c.brk, len(f.Data()), shared, f.Truesize(), want)
			}
			if !shared && f.Headroom() < 2 {
				t.Errorf("a copy without NET_IP_ALIGN headroom")
			}
			f.Free(skbuff.FreeRead)
			i++
		}
	}
}

// TestTxSequence: every NTB carries the next wSequence; Reset starts again
// at 0.
func TestTxSequence(t *testing.T) {
	f := newFakeNCM()
	r := newRig(t, f, New(), true)
	for i := range 3 {
		r.send(t, ethFrame(r.d.Net.HardwareAddr(), 100, i))
		waitFor(t, "NTB", func() bool { return len(f.ntbs()) == i+1 })
	}
	for i, ntb := range f.ntbs() {
		if get(ntb, 6, 2) != i {
			t.Errorf("NTB %d: wSequence %d", i, get(ntb, 6, 2))
		}
	}
	if err := r.d.Net.Close(); err != nil {
		t.Fatal(err)
	}
	if err := r.d.Net.Open(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "carrier", r.d.Net.Carrier)
	r.send(t, ethFrame(r.d.Net.HardwareAddr(), 100, 9))
	waitFor(t, "NTB", func() bool { return len(f.ntbs()) == 4 })
	if get(f.ntbs()[3], 6, 2) != 0 {
		t.Errorf("after reopening: wSequence %d", get(f.ntbs()[3], 6, 2))
	}
}

// TestMulticastFit: a list of exactly wNumberMCFilters addresses is
// programmed; one more is not (ALL_MULTICAST instead).
func TestMulticastFit(t *testing.T) {
	f := newFakeNCM()
	r := newRig(t, f, New(), true)
	for i := range 4 {
		if err := r.d.Net.AddMulticast(net.HardwareAddr{0x01, 0, 0x5e, 0, 0, byte(i + 1)}); err != nil {
			t.Fatal(err)
		}
	}
	if got := classReqs(f.requests()); got[len(got)-1] != "SET_ETHERNET_PACKET_FILTER(DIRECTED|BROADCAST|MULTICAST)" {
		t.Errorf("4 addresses: %q", got[len(got)-2:])
	}
	if err := r.d.Net.AddMulticast(net.HardwareAddr{0x01, 0, 0x5e, 0, 0, 9}); err != nil {
		t.Fatal(err)
	}
	got := classReqs(f.requests())
	if got[len(got)-1] != "SET_ETHERNET_PACKET_FILTER(ALL_MULTICAST|DIRECTED|BROADCAST)" || strings.HasPrefix(got[len(got)-2], "SET_ETHERNET_MULTICAST") {
		t.Errorf("5 addresses: %q", got[len(got)-2:])
	}
	for i, s := range f.requests() {
		if s.Request == 0x40 && s.Value == 4 && len(f.data[i]) != 24 {
			t.Errorf("4 addresses in %d bytes", len(f.data[i]))
		}
	}
}

// TestDiagnoseDisagreements: a device running another format or datagram
// size than negotiated, or refusing the GETs, is reported.
func TestDiagnoseDisagreements(t *testing.T) {
	f := newFakeNCM()
	r := newRig(t, f, New(), true)
	f.mu.Lock()
	f.format, f.dgram = NTB32, 1600
	f.mu.Unlock()
	got := strings.Join(r.drv.Diagnose(r.d).Problems, ";")
	for _, w := range []string{"device runs NTB32, dongle negotiated NTB16", "max datagram size is 1600, dongle negotiated 1514"} {
		if !strings.Contains(got, w) {
			t.Errorf("problems %q lack %q", got, w)
		}
	}
	f.mu.Lock()
	f.stallReq[ReqGetNTBFormat], f.stallReq[ReqGetNTBInputSize], f.stallReq[ReqGetMaxDatagramSize] = true, true, true
	f.mu.Unlock()
	got = strings.Join(r.drv.Diagnose(r.d).Problems, ";")
	for _, w := range []string{"GET_NTB_FORMAT:", "GET_NTB_INPUT_SIZE:", "GET_MAX_DATAGRAM_SIZE:"} {
		if !strings.Contains(got, w) {
			t.Errorf("problems %q lack %q", got, w)
		}
	}
}

// TestDiagnoseInputSize8: a device with the 8-byte form is asked for 8
// bytes (a 4-byte answer would be short).
func TestDiagnoseInputSize8(t *testing.T) {
	f := newFakeNCM()
	f.caps |= CapInputSize8
	r := newRig(t, f, New(), true)
	if p := r.drv.Diagnose(r.d).Problems; len(p) != 0 {
		t.Errorf("problems %q", p)
	}
	f.mu.Lock()
	f.caps &^= CapInputSize8
	f.mu.Unlock()
	if p := strings.Join(r.drv.Diagnose(r.d).Problems, ";"); !strings.Contains(p, "GET_NTB_INPUT_SIZE") {
		t.Errorf("a 4-byte answer to an 8-byte GET: %q", p)
	}
}

// TestMaxDatagramRefused: a refused SET_MAX_DATAGRAM_SIZE is kept for
// diag.
func TestMaxDatagramRefused(t *testing.T) {
	f := newFakeNCM()
	f.dgramDef = 2048
	f.stallReq[ReqSetMaxDatagramSize] = true
	r := newRig(t, f, New(), true)
	if got := strings.Join(r.drv.Diagnose(r.d).Problems, ";"); !strings.Contains(got, "device refused SET_MAX_DATAGRAM_SIZE(1514)") {
		t.Errorf("problems %q", got)
	}
}

// TestExactFit: a frame that ends exactly at tx_max fits; one byte more
// does not.
func TestExactFit(t *testing.T) {
	w := &Writer{Sizes: Sizes{Format: NTB16, TxMax: 1000, MaxDatagram: 1514, TxDivisor: 4, TxRemainder: 2, TxNDPAlign: 4, TxMaxDgrams: 40, MinTxPkt: 1000}}
	if _, n, err := w.AppendNTB(0, [][]byte{testFrame(1000-186, 1)}); err != nil || n != 1 {
		t.Errorf("exact fit: %d %v", n, err)
	}
	if _, _, err := w.AppendNTB(0, [][]byte{testFrame(1000-185, 1)}); !errors.Is(err, usbnet.ErrTxAggFull) {
		t.Errorf("one byte over: %v", err)
	}
}

// TestDiagnoseNTB16Only: an NTB16-only device is not asked its format.
func TestDiagnoseNTB16Only(t *testing.T) {
	f := newFakeNCM()
	f.params.FormatsSupported = 1
	r := newRig(t, f, New(), true)
	n := len(f.requests())
	if p := r.drv.Diagnose(r.d).Problems; len(p) != 0 {
		t.Errorf("problems %q", p)
	}
	for _, s := range f.requests()[n:] {
		if s.Request == ReqGetNTBFormat {
			t.Errorf("GET_NTB_FORMAT sent to an NTB16-only device")
		}
	}
}

// TestNegotiateEdges: the boundaries of the clamps.
func TestNegotiateEdges(t *testing.T) {
	p := linuxParams()
	p.InMaxSize = 2048
	if z, _ := Negotiate(p, 1514, 512, Options{}); z.RxMax != 2048 || len(z.Notes) != 0 {
		t.Errorf("dwNtbInMaxSize 2048: %d %q", z.RxMax, z.Notes)
	}
	p = linuxParams()
	p.OutMaxSize = 100000
	if z, _ := Negotiate(p, 1514, 512, Options{PreferNTB32: true, TxMax: 65536}); z.TxMax != 65535 {
		t.Errorf("tx_max 65536 that is not the device's own: %d, want 65535 (ends short, fits)", z.TxMax)
	}
	p = linuxParams()
	p.OutMaxSize, p.OutAlignment = 16384, 16384
	if z, _ := Negotiate(p, 1514, 512, Options{TxMax: 16384}); z.TxNDPAlign != 4 {
		t.Errorf("alignment as large as the NTB: %d", z.TxNDPAlign)
	}
	p.OutAlignment = 8192
	if z, _ := Negotiate(p, 1514, 512, Options{TxMax: 16384}); z.TxNDPAlign != 8192 {
		t.Errorf("alignment below the NTB size: %d", z.TxNDPAlign)
	}
	p = linuxParams()
	p.OutPayloadRemainder = 3
	if z, _ := Negotiate(p, 1514, 512, Options{}); z.TxRemainder != 1 || len(z.Notes) != 0 {
		t.Errorf("remainder 3 (< divisor): %d %q", z.TxRemainder, z.Notes)
	}
	p = linuxParams()
	if z, _ := Negotiate(p, 1514, 0, Options{}); z.TxMax != 16384 || z.MinTxPkt != 16384 {
		t.Errorf("no packet size: tx_max %d, min_tx_pkt %d", z.TxMax, z.MinTxPkt)
	}
	p.OutMaxDatagrams = 40
	if z, _ := Negotiate(p, 1514, 512, Options{}); z.TxMaxDgrams != 40 {
		t.Errorf("wNtbOutMaxDatagrams 40: %d", z.TxMaxDgrams)
	}
}

// TestParseMisplaced: functional descriptors after the interrupt
// endpoint (as some devices put them) are found, as cdc_ether finds them.
func TestParseMisplaced(t *testing.T) {
	f := newFakeNCM()
	f.cfgEdit = func(c []byte) []byte {
		start := len(c) - len(c[indexOf(c, []byte{5, 0x24, 0x00}):])
		ep := indexOf(c, []byte{7, 5, fakeEpStatus})
		funcs := slices.Clone(c[start:ep])
		epd := slices.Clone(c[ep : ep+7])
		out := append(slices.Clone(c[:start]), epd...)
		out = append(out, funcs...)
		return append(out, c[ep+7:]...)
	}
	_, cfgs, _ := f.Descriptors()
	cfg, err := hw.ParseConfig(cfgs[0])
	if err != nil {
		t.Fatal(err)
	}
	fn, err := Parse(cfg, 0)
	if err != nil || fn.Capabilities != f.caps || fn.Status.Address != fakeEpStatus {
		t.Errorf("%+v %v", fn, err)
	}
	if _, err := Parse(cfg, 1); err == nil {
		t.Errorf("the data interface parsed as a function")
	}
	if _, err := (&Driver{}).TraceEndpoints(cfg, 1); err == nil {
		t.Errorf("TraceEndpoints of the data interface")
	}
	if _, err := (&Driver{}).TraceMAC(&usbnet.Capture{Config: cfg, Intf: 1}); err == nil {
		t.Errorf("TraceMAC of the data interface")
	}
}

func indexOf(b, sub []byte) int {
	for i := range b {
		if len(b)-i >= len(sub) && slices.Equal(b[i:i+len(sub)], sub) {
			return i
		}
	}
	return -1
}

// TestStatusZeroRates: a speed change with both rates 0 leaves the speed.
func TestStatusZeroRates(t *testing.T) {
	r := newRig(t, newFakeNCM(), New(), true)
	waitFor(t, "speed", func() bool { return r.d.Net.Speed() == 1000 })
	if err := r.drv.Status(r.d, []byte{0xa1, 0x2a, 0, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0}); err != nil || r.d.Net.Speed() != 1000 {
		t.Errorf("zero rates: %v, speed %d", err, r.d.Net.Speed())
	}
}

// TestTraceLimitsIgnore: a failed or IN request does not set decode's
// limits; the last good one wins.
func TestTraceLimitsIgnore(t *testing.T) {
	set := func(ok bool, dir uint8, v uint32) usbnet.CapturedControl {
		return usbnet.CapturedControl{Setup: hw.Setup{RequestType: dir | 0x21, Request: ReqSetNTBInputSize, Length: 4},
			Data: []byte{byte(v), byte(v >> 8), byte(v >> 16), byte(v >> 24)}, OK: ok}
	}
	c := &usbnet.Capture{Controls: []usbnet.CapturedControl{set(true, 0, 4096), set(false, 0, 8192), set(true, 0x80, 9000),
		{Setup: hw.Setup{RequestType: 0x41, Request: ReqSetNTBInputSize}, Data: []byte{0, 0x40, 0, 0}, OK: true}}}
	if b, dg := traceLimits(c); b != 4096 || dg != 0 {
		t.Errorf("limits %d %d", b, dg)
	}
	c.Controls = append(c.Controls, usbnet.CapturedControl{Setup: hw.Setup{RequestType: 0x21, Request: ReqSetMaxDatagramSize, Length: 2}, Data: []byte{0x00, 0x08}, OK: true})
	if _, dg := traceLimits(c); dg != 2048 {
		t.Errorf("datagram size %d", dg)
	}
}
