package cdcncm

import (
	"bytes"
	"errors"
	"slices"
	"strings"
	"testing"

	"dongle/hw"
	"dongle/usbnet"
)

func TestRequestNames(t *testing.T) {
	d := New()
	for _, c := range []struct {
		s    hw.Setup
		want string
		ok   bool
	}{
		{hw.Setup{RequestType: 0xa1, Request: ReqGetNTBParameters, Length: 28}, "GET_NTB_PARAMETERS", true},
		{hw.Setup{RequestType: 0x21, Request: ReqSetNTBFormat, Value: 1}, "SET_NTB_FORMAT(NTB32)", true},
		{hw.Setup{RequestType: 0x21, Request: ReqSetNTBFormat, Value: 0}, "SET_NTB_FORMAT(NTB16)", true},
		{hw.Setup{RequestType: 0x21, Request: ReqSetCRCMode, Value: 0}, "SET_CRC_MODE(off)", true},
		{hw.Setup{RequestType: 0x21, Request: ReqSetCRCMode, Value: 1}, "SET_CRC_MODE(on)", true},
		{hw.Setup{RequestType: 0x21, Request: ReqSetNTBInputSize, Length: 4}, "SET_NTB_INPUT_SIZE", true},
		{hw.Setup{RequestType: 0xa1, Request: ReqGetMaxDatagramSize}, "GET_MAX_DATAGRAM_SIZE", true},
		{hw.Setup{RequestType: 0x21, Request: 0x43, Value: 0x0c}, "SET_ETHERNET_PACKET_FILTER(DIRECTED|BROADCAST)", true},
		{hw.Setup{RequestType: 0x21, Request: 0x99}, "", false},
		{hw.Setup{RequestType: 0x40, Request: ReqGetNTBParameters}, "", false},
	} {
		if got, ok := d.RequestName(c.s); got != c.want || ok != c.ok {
			t.Errorf("%v: %q %v, want %q %v", c.s, got, ok, c.want, c.ok)
		}
	}
}

func TestDescribeDescriptor(t *testing.T) {
	d := New()
	text, problems, ok := d.DescribeDescriptor([]byte{6, 0x24, 0x1a, 0x00, 0x01, 0x29}, nil)
	if !ok || text != "CDC NCM: bcdNcmVersion 1.00, bmNetworkCapabilities 0x29 (packet filter, max datagram size, 8-byte NTB input size)" || len(problems) != 0 {
		t.Errorf("%q %q %v", text, problems, ok)
	}
	_, problems, ok = d.DescribeDescriptor([]byte{7, 0x24, 0x1a, 0x00, 0x02, 0xc0, 0}, nil)
	if !ok || len(problems) != 3 {
		t.Errorf("bad length, version, reserved bits: %q", problems)
	}
	if _, problems, ok = d.DescribeDescriptor([]byte{5, 0x24, 0x1a, 0, 1}, nil); !ok || len(problems) != 1 {
		t.Errorf("short: %q %v", problems, ok)
	}
	if _, _, ok := d.DescribeDescriptor([]byte{5, 0x24, 0x00, 0x10, 0x01}, nil); ok {
		t.Errorf("the header descriptor is cdc_ether's to describe")
	}
	if got := CapabilityNames(0); got != "none" {
		t.Errorf("no capability: %q", got)
	}
}

func TestDescribeStatus(t *testing.T) {
	d := New()
	for _, c := range []struct {
		p    []byte
		want usbnet.LinkEvent
	}{
		{[]byte{0xa1, 0, 1, 0, 0, 0, 0, 0}, usbnet.LinkEvent{HasLink: true, Up: true}},
		{[]byte{0xa1, 0, 0, 0, 0, 0, 0, 0}, usbnet.LinkEvent{HasLink: true}},
		{[]byte{0xa1, 0x2a, 0, 0, 0, 0, 8, 0, 0x00, 0xe1, 0xf5, 0x05, 0, 0, 0, 0}, usbnet.LinkEvent{Mbps: 100}},
		{[]byte{0xa1, 0x2a, 0, 0, 0, 0, 8, 0}, usbnet.LinkEvent{}},
	} {
		if got, err := d.DescribeStatus(c.p); err != nil || got != c.want {
			t.Errorf("% x: %+v %v", c.p, got, err)
		}
	}
}

// captureOf is what decode gives a driver for the fake device's trace.
func captureOf(t *testing.T, f *fakeNCM) *usbnet.Capture {
	_, cfgs, strs := f.Descriptors()
	cfg, err := hw.ParseConfig(cfgs[0])
	if err != nil {
		t.Fatal(err)
	}
	return &usbnet.Capture{Config: cfg, Intf: 0, Strings: strs}
}

func TestTraceMACAndEndpoints(t *testing.T) {
	f := newFakeNCM()
	c := captureOf(t, f)
	d := New()
	mac, err := d.TraceMAC(c)
	if err != nil || mac.String() != "02:aa:bb:cc:dd:ee" {
		t.Errorf("%v %v", mac, err)
	}
	eps, err := d.TraceEndpoints(c.Config, 0)
	if err != nil || eps.In.Address != fakeEpIn || eps.Out.Address != fakeEpOut || eps.Status.Address != fakeEpStatus || eps.DataAlt != 1 {
		t.Errorf("%+v %v", eps, err)
	}
	delete(c.Strings, 3)
	if _, err := d.TraceMAC(c); !errors.Is(err, usbnet.ErrNotCaptured) {
		t.Errorf("MAC string not read: %v", err)
	}
	if mac, err := d.TraceMAC(&usbnet.Capture{}); mac != nil || err != nil {
		t.Errorf("no configuration: %v %v", mac, err)
	}
}

// TestUnframe: decode's view of NTBs both ways: frames out, an NTB
// anomaly as the error, limits taken from the trace's requests.
func TestUnframe(t *testing.T) {
	f := newFakeNCM()
	c := captureOf(t, f)
	c.Controls = []usbnet.CapturedControl{{Setup: hw.Setup{RequestType: 0x21, Request: ReqSetNTBInputSize, Length: 4}, Data: []byte{0, 8, 0, 0}, OK: true}}
	d := New()
	w := writerFor(t, linuxParams(), Options{PreferNTB32: true}, 512)
	fs := [][]byte{testFrame(60, 1), testFrame(1514, 2)}
	ntb, _, err := w.AppendNTB(0, fs)
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	emit := func(p []byte, n int) { out = append(out, slices.Clone(p[:n])) }
	if err := d.UnframeTx(c, ntb, len(ntb), emit); err != nil || len(out) != 2 || !slices.EqualFunc(out, fs, slices.Equal) {
		t.Errorf("TX: %d frames, %v", len(out), err)
	}
	out = nil
	u := d.RxUnframer(c)
	defer u.Close()
	if lost, err := u.Rx(ntb, len(ntb), emit); lost || err != nil || len(out) != 2 {
		t.Errorf("RX: %d frames, lost %v, %v", len(out), lost, err)
	}
	if lost, _ := u.Rx(ntb[:100], len(ntb), emit); !lost {
		t.Errorf("a cut NTB is lost")
	}
	// The trace asked for 2048-byte NTBs: a longer one is an anomaly.
	big, _, _ := w.AppendNTB(1, [][]byte{testFrame(1514, 1), testFrame(1514, 2)})
	if _, err := u.Rx(big, len(big), emit); !errors.Is(err, ErrBlockTooLong) {
		t.Errorf("RX above SET_NTB_INPUT_SIZE: %v", err)
	}
	bad := slices.Clone(ntb)
	bad[0] = 'X'
	if err := d.UnframeTx(c, bad, len(bad), emit); !errors.Is(err, ErrNTHSignature) || !errors.Is(err, usbnet.ErrTxHeader) {
		t.Errorf("TX bad signature: %v", err)
	}
	if err := d.UnframeTx(c, nil, 0, emit); err != nil {
		t.Errorf("a ZLP: %v", err)
	}
	if lost, err := u.Rx(nil, 0, emit); lost || err != nil {
		t.Errorf("an empty IN transfer: %v %v", lost, err)
	}
}

// TestTxHeaderLen: a lone frame of TxHeaderLen+n bytes' NTB is exactly
// n+TxHeaderLen long with Linux's default parameters.
func TestTxHeaderLen(t *testing.T) {
	d := New()
	w := writerFor(t, NTBParams{Length: 28, FormatsSupported: 1, InMaxSize: 16384, OutMaxSize: 16384}, Options{}, 512)
	ntb, _, err := w.AppendNTB(0, [][]byte{testFrame(100, 1)})
	if err != nil || d.TxHeaderLen() != 186 || len(ntb) != 186+100 {
		t.Errorf("header %d, NTB %d bytes, %v", d.TxHeaderLen(), len(ntb), err)
	}
	if !strings.Contains(CapabilityNames(0xff), "reserved 0xc0") {
		t.Errorf("%q", CapabilityNames(0xff))
	}
}

// TestUnframeInputSizeFromNTBParameters: a trace with GET_NTB_PARAMETERS
// and no SET_NTB_INPUT_SIZE (Linux sends none when its size equals the
// device's) bounds RX NTBs at min(16384, dwNtbInMaxSize), as cdc_ncm's
// rx_max: a longer NTB is ErrBlockTooLong, as Linux drops it
// (fixtures/failure-ntb-oversize.pcap); a later SET_NTB_INPUT_SIZE wins.
func TestUnframeInputSizeFromNTBParameters(t *testing.T) {
	f := newFakeNCM()
	c := captureOf(t, f)
	params := NTBParams{Length: 28, FormatsSupported: 1, InMaxSize: 4096, OutMaxSize: 16384}
	get := usbnet.CapturedControl{Setup: hw.Setup{RequestType: 0xa1, Request: ReqGetNTBParameters, Length: 28}, Data: params.Bytes(), OK: true}
	c.Controls = []usbnet.CapturedControl{get}
	d := New()
	w := writerFor(t, linuxParams(), Options{}, 512)
	var out [][]byte
	emit := func(p []byte, n int) { out = append(out, slices.Clone(p[:n])) }
	small, _, err := w.AppendNTB(0, [][]byte{testFrame(1514, 1)})
	if err != nil {
		t.Fatal(err)
	}
	big, _, err := w.AppendNTB(1, [][]byte{testFrame(1514, 1), testFrame(1514, 2), testFrame(1514, 3)})
	if err != nil {
		t.Fatal(err)
	}
	if len(small) > 4096 || len(big) <= 4096 {
		t.Fatalf("test NTBs of %d and %d bytes: want one within 4096 and one above", len(small), len(big))
	}
	u := d.RxUnframer(c)
	if _, err := u.Rx(small, len(small), emit); err != nil || len(out) != 1 {
		t.Fatalf("an NTB within dwNtbInMaxSize: %d frames, %v", len(out), err)
	}
	if _, err := u.Rx(big, len(big), emit); !errors.Is(err, ErrBlockTooLong) {
		t.Errorf("an NTB of %d bytes above dwNtbInMaxSize 4096 with no SET_NTB_INPUT_SIZE: %v, want ErrBlockTooLong", len(big), err)
	}
	u.Close()
	// A failed GET_NTB_PARAMETERS says nothing: no bound but the format's.
	c.Controls = []usbnet.CapturedControl{{Setup: get.Setup, Data: get.Data, OK: false}}
	u = d.RxUnframer(c)
	if _, err := u.Rx(big, len(big), emit); err != nil {
		t.Errorf("without a successful GET_NTB_PARAMETERS: %v", err)
	}
	u.Close()
	// SET_NTB_INPUT_SIZE after it wins.
	c.Controls = []usbnet.CapturedControl{get, {Setup: hw.Setup{RequestType: 0x21, Request: ReqSetNTBInputSize, Length: 4}, Data: []byte{0, 0x40, 0, 0}, OK: true}}
	u = d.RxUnframer(c)
	defer u.Close()
	if _, err := u.Rx(big, len(big), emit); err != nil {
		t.Errorf("after SET_NTB_INPUT_SIZE 16384: %v", err)
	}
}

// TestUnframeTxChained: decode reads every NTB of a transfer that carries
// several back to back (Writer.PerTransfer), and an anomaly in a later
// one names its offset, the frames before it emitted.
func TestUnframeTxChained(t *testing.T) {
	c := captureOf(t, newFakeNCM())
	d := New()
	w := writerFor(t, fullSizeParams(), Options{}, 512)
	w.PerTransfer = 3
	fs := chainFrames(25, 1514)
	block, took, err := w.AppendBlock(0, fs)
	if err != nil || took != 25 {
		t.Fatalf("took %d: %v", took, err)
	}
	var out [][]byte
	emit := func(p []byte, n int) { out = append(out, slices.Clone(p[:n])) }
	if err := d.UnframeTx(c, block, len(block), emit); err != nil || !slices.EqualFunc(out, fs, slices.Equal) {
		t.Errorf("%d frames of 25, %v", len(out), err)
	}
	bad := slices.Clone(block)
	bad[2*16384+12] = 'X' // the third NTB's NDP signature (right after its 12-byte NTH)
	out = nil
	if err := d.UnframeTx(c, bad, len(bad), emit); !errors.Is(err, ErrNDPSignature) || !strings.Contains(err.Error(), "NTB at 32768") || len(out) != 20 {
		t.Errorf("a bad third NTB: %v, %d frames before it; want ErrNDPSignature at 32768 after 20", err, len(out))
	}
}

// TestNTBs: where a transfer's NTBs start: the first at 0 whatever it
// holds, then each where the last one's wBlockLength ends while an NTH
// signature is there; wBlockLength 0 or past the end takes the rest, and
// what follows the last NTB is not one.
func TestNTBs(t *testing.T) {
	w := writerFor(t, fullSizeParams(), Options{}, 512)
	a, _, _ := w.AppendNTB(0, [][]byte{testFrame(100, 1)})
	b, _, _ := w.AppendNTB(1, [][]byte{testFrame(200, 2)})
	w32 := writerFor(t, fullSizeParams(), Options{PreferNTB32: true}, 512)
	c32, _, _ := w32.AppendNTB(2, [][]byte{testFrame(300, 3)})
	cat := func(p ...[]byte) []byte { return bytes.Join(p, nil) }
	minNTB := make([]byte, 28)
	copy(minNTB, "NCMH\x0c\x00\x00\x00\x1c\x00\x0c\x00NCM0\x10\x00")
	shortNTB := slices.Clone(minNTB[:27])
	shortNTB[8] = 27
	zeroLen := slices.Clone(a)
	zeroLen[8], zeroLen[9] = 0, 0
	for _, c := range []struct {
		name string
		p    []byte
		want []int // offsets and lengths, in pairs
	}{
		{"one", a, []int{0, len(a)}},
		{"two, then an NTB32", cat(a, b, c32), []int{0, len(a), len(a), len(b), len(a) + len(b), len(c32)}},
		{"a pad byte after the last", cat(a, []byte{0}), []int{0, len(a)}},
		{"no NTH after the first", cat(a, []byte("NCMX....")), []int{0, len(a)}},
		{"wBlockLength 0: the rest", cat(zeroLen, b), []int{0, len(a) + len(b)}},
		{"not an NTB", []byte("hello"), []int{0, 5}},
		{"an NTH's first 8 bytes", []byte("NCMH\x0c\x00\x00\x00"), []int{0, 8}},
		{"a signature alone after the last", cat(a, []byte("NCMH")), []int{0, len(a), len(a), 4}},
		{"a block of exactly the headers (NTH 12, NDP 16)", cat(minNTB, b), []int{0, 28, 28, len(b)}},
		{"a block one byte short of them", cat(shortNTB, b), []int{0, 27 + len(b)}},
		{"empty", nil, nil},
	} {
		var got []int
		for off, ntb := range NTBs(c.p) {
			got = append(got, off, len(ntb))
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
	n := 0
	for range NTBs(cat(a, b)) {
		n++
		break
	}
	if n != 1 {
		t.Errorf("break: %d NTBs yielded", n)
	}
}
