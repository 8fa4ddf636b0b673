package cdcncm

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"dongle/hw"
	"dongle/hw/sim"
	"dongle/usbnet"
	"dongle/usbnet/cdcecm"
)

func classReqs(reqs []hw.Setup) []string {
	var out []string
	for _, s := range reqs {
		if s.RequestType&0x60 == hw.TypeClass {
			n, _ := (&Driver{}).RequestName(s)
			out = append(out, n)
		}
	}
	return out
}

// TestBindAndOpen: what Bind takes from the device and the requests
// bind and open send, in order, with the NTB settings sent at alt 0.
func TestBindAndOpen(t *testing.T) {
	f := newFakeNCM()
	r := newRig(t, f, New(), false)
	d := r.d
	if d.Net.HardwareAddr().String() != "02:aa:bb:cc:dd:ee" {
		t.Errorf("MAC %v", d.Net.HardwareAddr())
	}
	if d.DataIface != 1 || d.DataAlt != 1 || d.In.Address != fakeEpIn || d.Out.Address != fakeEpOut || d.Status.Address != fakeEpStatus {
		t.Errorf("endpoints %+v", d.Endpoints)
	}
	if d.HardMTU != 1514 || d.RxURBSize != 16384 || d.TxURBs != usbnet.MaxRxQueueMemory/16385 {
		t.Errorf("hard MTU %d, RX URB %d, TX URBs %d", d.HardMTU, d.RxURBSize, d.TxURBs)
	}
	if got := classReqs(f.requests()); !slices.Equal(got, []string{"GET_NTB_PARAMETERS"}) {
		t.Errorf("bind sent %q", got)
	}
	if err := d.Net.Open(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "carrier", d.Net.Carrier)
	want := []string{"GET_NTB_PARAMETERS", "SET_CRC_MODE(off)", "SET_NTB_FORMAT(NTB16)", "SET_NTB_INPUT_SIZE",
		"GET_MAX_DATAGRAM_SIZE", "SET_ETHERNET_PACKET_FILTER(DIRECTED|BROADCAST)"}
	// netdev's open pushes the filter once more (ndo_set_rx_mode).
	if got := classReqs(f.requests()); !slices.Equal(got[:len(want)], want) || !slices.Equal(got[len(want):], want[len(want)-1:]) {
		t.Errorf("open sent %q\nwant %q", got, want)
	}
	n := len(classReqs(f.requests()))
	f.mu.Lock()
	if f.badAltReq != 0 || f.inSize != 16384 || f.format != NTB16 || f.filter != cdcecm.FilterDirected|cdcecm.FilterBroadcast {
		t.Errorf("device: %d requests at alt 1, input size %d, %v, filter %#x", f.badAltReq, f.inSize, f.format, f.filter)
	}
	f.mu.Unlock()
	waitFor(t, "speed", func() bool { return d.Net.Speed() == 1000 })
	// Stop returns to alt 0 (the device forgets); open negotiates again.
	if err := d.Net.Close(); err != nil {
		t.Fatal(err)
	}
	if err := d.Net.Open(); err != nil {
		t.Fatal(err)
	}
	if got := classReqs(f.requests()); !slices.Equal(got[n:n+len(want)-1], want[1:]) {
		t.Errorf("second open: %q", got[n:])
	}
	if f.inSize != 16384 || f.badAltReq != 0 {
		t.Errorf("second open: input size %d, %d at alt 1", f.inSize, f.badAltReq)
	}
}

// TestNegotiationVariants: NTB32 when asked, the 8-byte input size,
// a different datagram size, refusals and their fallbacks, no filter
// capability.
func TestNegotiationVariants(t *testing.T) {
	t.Run("NTB32 asked: set at alt 0", func(t *testing.T) {
		f := newFakeNCM()
		r := newRig(t, f, &Driver{Options: Options{PreferNTB32: true}}, true)
		if f.format != NTB32 || priv(r.d).sizes.Format != NTB32 {
			t.Errorf("device %v, driver %v", f.format, priv(r.d).sizes.Format)
		}
	})
	t.Run("NTB16-only device: no SET_NTB_FORMAT", func(t *testing.T) {
		f := newFakeNCM()
		f.params.FormatsSupported = 1
		newRig(t, f, &Driver{Options: Options{PreferNTB32: true}}, true)
		if slices.Contains(classReqs(f.requests()), "SET_NTB_FORMAT(NTB16)") {
			t.Errorf("SET_NTB_FORMAT sent to an NTB16-only device")
		}
	})
	t.Run("SET_NTB_FORMAT(NTB32) refused: NTB16", func(t *testing.T) {
		f := newFakeNCM()
		f.stallReq[ReqSetNTBFormat] = true
		r := newRig(t, f, &Driver{Options: Options{PreferNTB32: true}}, true)
		if priv(r.d).sizes.Format != NTB16 || !strings.Contains(strings.Join(priv(r.d).setFailed, ";"), "SET_NTB_FORMAT(NTB32)") {
			t.Errorf("%v, refusals %q", priv(r.d).sizes.Format, priv(r.d).setFailed)
		}
	})
	t.Run("8-byte input size", func(t *testing.T) {
		f := newFakeNCM()
		f.caps |= CapInputSize8
		newRig(t, f, New(), true)
		var data []byte
		for i, s := range f.requests() {
			if s.Request == ReqSetNTBInputSize {
				data = f.data[i]
			}
		}
		if !bytes.Equal(data, []byte{0, 0x40, 0, 0, 0, 0, 0, 0}) {
			t.Errorf("SET_NTB_INPUT_SIZE data % x", data)
		}
	})
	t.Run("SET_NTB_INPUT_SIZE refused: the device's own size", func(t *testing.T) {
		f := newFakeNCM()
		f.stallReq[ReqSetNTBInputSize] = true
		r := newRig(t, f, New(), true)
		if r.d.RxURBSize != 32768 {
			t.Errorf("RX transfers of %d bytes, want the device's 32768", r.d.RxURBSize)
		}
	})
	t.Run("datagram size differs: SET_MAX_DATAGRAM_SIZE", func(t *testing.T) {
		f := newFakeNCM()
		f.dgramDef = 2048
		newRig(t, f, New(), true)
		if f.dgram != 1514 || !slices.Contains(classReqs(f.requests()), "SET_MAX_DATAGRAM_SIZE") {
			t.Errorf("device datagram size %d", f.dgram)
		}
	})
	t.Run("no datagram-size or CRC capability: neither request", func(t *testing.T) {
		f := newFakeNCM()
		f.caps = CapPacketFilter
		newRig(t, f, New(), true)
		for _, n := range classReqs(f.requests()) {
			if strings.Contains(n, "DATAGRAM") || strings.Contains(n, "CRC") {
				t.Errorf("sent %s", n)
			}
		}
	})
	t.Run("no packet filter capability: no filter request", func(t *testing.T) {
		f := newFakeNCM()
		f.caps = 0
		r := newRig(t, f, New(), true)
		r.d.Net.AddMulticast(net.HardwareAddr{0x01, 0, 0x5e, 0, 0, 1})
		for _, n := range classReqs(f.requests()) {
			if strings.HasPrefix(n, "SET_ETHERNET") {
				t.Errorf("sent %s", n)
			}
		}
	})
	t.Run("multicast list within wNumberMCFilters: programmed", func(t *testing.T) {
		f := newFakeNCM()
		r := newRig(t, f, New(), true)
		if err := r.d.Net.AddMulticast(net.HardwareAddr{0x01, 0, 0x5e, 0, 0, 1}); err != nil {
			t.Fatal(err)
		}
		got := classReqs(f.requests())
		if !slices.Contains(got, "SET_ETHERNET_MULTICAST_FILTERS(1 addresses)") || got[len(got)-1] != "SET_ETHERNET_PACKET_FILTER(DIRECTED|BROADCAST|MULTICAST)" {
			t.Errorf("requests %q", got)
		}
	})
}

// TestBindErrors: descriptors and answers Bind refuses, each naming its
// cause.
func TestBindErrors(t *testing.T) {
	for _, c := range []struct {
		name string
		edit func(f *fakeNCM)
		want error
	}{
		{"no NCM functional descriptor", func(f *fakeNCM) {
			f.cfgEdit = func(c []byte) []byte {
				i := bytes.Index(c, []byte{6, 0x24, 0x1a})
				return append(c[:i:i], c[i+6:]...)
			}
		}, ErrMissingNCM},
		{"NCM functional descriptor of 5 bytes", func(f *fakeNCM) {
			f.cfgEdit = func(c []byte) []byte {
				i := bytes.Index(c, []byte{6, 0x24, 0x1a})
				c[i] = 5
				return append(c[:i+5:i+5], c[i+6:]...)
			}
		}, ErrNCMLength},
		{"no notification endpoint", func(f *fakeNCM) {
			f.cfgEdit = func(c []byte) []byte {
				i := bytes.Index(c, []byte{7, 5, fakeEpStatus})
				c[bytes.Index(c, []byte{9, 4, 0, 0, 1})+4] = 0
				return append(c[:i:i], c[i+7:]...)
			}
		}, ErrNoStatus},
		{"GET_NTB_PARAMETERS stalls", func(f *fakeNCM) { f.stallReq[ReqGetNTBParameters] = true }, hw.ErrStall},
		{"no NTB format", func(f *fakeNCM) { f.params.FormatsSupported = 0 }, ErrNTBFormats},
		{"MAC string not hex", func(f *fakeNCM) { f.mac = "nonsense" }, cdcecm.ErrBadMAC},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newFakeNCM()
			c.edit(f)
			dev := sim.New(f, hw.Info{Speed: hw.SpeedHigh})
			defer dev.Close()
			_, err := usbnet.Probe(dev, New())
			if !errors.Is(err, c.want) {
				t.Errorf("Probe: %v, want %v", err, c.want)
			}
		})
	}
}

// TestTransmit: frames leave in NTBs the device reads back intact, in
// order, counted once each; big NTBs are padded to tx_max (16385: ends
// short), small ones on a packet boundary get one byte.
func TestTransmit(t *testing.T) {
	f := newFakeNCM()
	r := newRig(t, f, New(), true)
	mac := r.d.Net.HardwareAddr()
	var want [][]byte
	var bytesSent uint64
	for i := range 60 {
		fr := ethFrame(mac, 60+i*24, i)
		want = append(want, fr)
		bytesSent += uint64(len(fr))
		r.send(t, fr)
	}
	st := r.d.Net.Stats()
	waitFor(t, "60 frames sent", func() bool { return st.TxPackets.Load() == 60 })
	if st.TxBytes.Load() != bytesSent || st.TxErrors.Load()+st.TxDropped.Load() != 0 {
		t.Errorf("tx_bytes %d want %d, errors %d dropped %d", st.TxBytes.Load(), bytesSent, st.TxErrors.Load(), st.TxDropped.Load())
	}
	r.expectSent(t, want)
	for i, ntb := range f.ntbs() {
		z := priv(r.d).sizes
		if len(ntb) > z.TxMax || len(ntb) > z.MinTxPkt && len(ntb) != z.TxMax || len(ntb)%512 == 0 {
			t.Errorf("NTB %d: %d bytes (tx_max %d, min_tx_pkt %d)", i, len(ntb), z.TxMax, z.MinTxPkt)
		}
	}
	if f.zlps != 0 {
		t.Errorf("%d ZLPs", f.zlps)
	}
	// A lone frame whose NTB is two packets long goes with one more byte.
	r.send(t, ethFrame(mac, 1024-186, 99))
	waitFor(t, "lone frame", func() bool { return len(f.ntbs()) > 0 && st.TxPackets.Load() == 61 })
	last := f.ntbs()[len(f.ntbs())-1]
	if len(last) != 1025 || last[1024] != 0 {
		t.Errorf("lone NTB of 1024 bytes sent as %d", len(last))
	}
	c := &priv(r.d).txc
	var ntbBytes uint64
	for _, ntb := range f.ntbs() {
		ntbBytes += uint64(len(ntb))
	}
	if c.Overhead.Load() != ntbBytes-st.TxBytes.Load() {
		t.Errorf("tx_overhead %d, NTBs %d bytes for %d frame bytes", c.Overhead.Load(), ntbBytes, st.TxBytes.Load())
	}
	if c.ShortEnd.Load() != 1 || c.NTBs.Load() != uint64(len(f.ntbs())) || c.Datagrams.Load() != 61 {
		t.Errorf("counters: short %d ntbs %d datagrams %d", c.ShortEnd.Load(), c.NTBs.Load(), c.Datagrams.Load())
	}
}

// TestTransmitChainsFullNTBs: on a device whose dwNtbOutMaxSize is
// 16384, 90 frames of 1514 bytes make nine full NTBs, sent three to a
// transfer (the timer, set long, only ends the last block); the device,
// which ends an NTB at dwNtbOutMaxSize, reads nine NTBs of exactly 16384
// bytes with every frame in order; the counters tell NTBs from transfers.
func TestTransmitChainsFullNTBs(t *testing.T) {
	f := newFakeNCM()
	f.params.OutMaxSize = 16384
	r := newRig(t, f, &Driver{Options: Options{TxTimer: 500 * time.Millisecond}}, true)
	mac := r.d.Net.HardwareAddr()
	var want [][]byte
	for i := range 90 {
		fr := ethFrame(mac, 1514, i)
		want = append(want, fr)
		r.send(t, fr)
	}
	st := r.d.Net.Stats()
	waitFor(t, "90 frames sent", func() bool { return st.TxPackets.Load() == 90 })
	r.expectSent(t, want)
	ntbs := f.ntbs()
	for i, ntb := range ntbs {
		if len(ntb) != 16384 {
			t.Errorf("device transfer %d: %d bytes, want one full NTB of 16384", i, len(ntb))
		}
	}
	c := &priv(r.d).txc
	if len(ntbs) != 9 || c.NTBs.Load() != 9 || c.Transfers.Load() != 3 || r.d.Counters().TxAggregates.Load() != 3 || c.Padded.Load() != 9 {
		t.Errorf("device got %d NTBs; counted %d NTBs (%d padded) in %d transfers, %d blocks; want 9 in 3",
			len(ntbs), c.NTBs.Load(), c.Padded.Load(), c.Transfers.Load(), r.d.Counters().TxAggregates.Load())
	}
	if f.zlps != 0 || st.TxErrors.Load()+st.TxDropped.Load() != 0 {
		t.Errorf("%d ZLPs, %d errors, %d dropped", f.zlps, st.TxErrors.Load(), st.TxDropped.Load())
	}
	if c.Datagrams.Load() != 90 || c.Overhead.Load() != 9*16384-90*1514 {
		t.Errorf("datagrams %d, overhead %d; want 90 and %d", c.Datagrams.Load(), c.Overhead.Load(), 9*16384-90*1514)
	}
}

// TestTxAggLimitsChainOnlyWhereTheBusIsTheSame: the block is three NTBs
// where full NTBs end without a short packet, one where they do not
// (dwNtbOutMaxSize above 16384: TxMax 16385) or where a ZLP follows them,
// and never more than MaxBlock.
func TestTxAggLimitsChainOnlyWhereTheBusIsTheSame(t *testing.T) {
	for _, c := range []struct {
		name   string
		outMax uint32
		drv    *Driver
		want   int
	}{
		{"16 KiB device", 16384, New(), 3 * 16384},
		{"one per transfer", 16384, &Driver{NTBsPerTransfer: 1}, 16384},
		{"ten asked: what 64 KiB holds", 16384, &Driver{NTBsPerTransfer: 10}, 3 * 16384},
		{"32 KiB device, TxMax 16385", 32768, New(), 16385},
		{"32 KiB device, TxMax 32768 asked", 32768, &Driver{Options: Options{TxMax: 32768}}, 32768},
		{"SendZLP", 16384, &Driver{Options: Options{SendZLP: true}}, 16384},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newFakeNCM()
			f.params.OutMaxSize = c.outMax
			r := newRig(t, f, c.drv, true)
			if got := c.drv.TxAggLimits(r.d).Size; got != c.want {
				t.Errorf("block %d bytes, want %d", got, c.want)
			}
		})
	}
}

// TestTransmitZLPMode: with SendZLP, an NTB on a packet boundary is
// followed by a ZLP, never padded.
func TestTransmitZLPMode(t *testing.T) {
	f := newFakeNCM()
	r := newRig(t, f, &Driver{Options: Options{SendZLP: true}}, true)
	r.send(t, ethFrame(r.d.Net.HardwareAddr(), 1024-186, 1))
	// The device sees the NTB end only because a ZLP followed it.
	waitFor(t, "the NTB", func() bool { return len(f.ntbs()) == 1 })
	if n := f.ntbs(); len(n[0]) != 1024 || r.d.Counters().ZLPs.Load() != 1 || r.d.Counters().PadBytes.Load() != 0 {
		t.Errorf("NTB of %d bytes, %d ZLPs", len(n[0]), r.d.Counters().ZLPs.Load())
	}
}

// TestTransmitRefused: a frame above the datagram size is dropped and
// counted, the next goes.
func TestTransmitRefused(t *testing.T) {
	f := newFakeNCM()
	r := newRig(t, f, New(), true)
	r.d.Net.MaxMTU = 9000
	r.send(t, ethFrame(r.d.Net.HardwareAddr(), 1515, 1))
	r.send(t, ethFrame(r.d.Net.HardwareAddr(), 100, 2))
	r.send(t, ethFrame(r.d.Net.HardwareAddr(), 200, 3))
	st := r.d.Net.Stats()
	waitFor(t, "sent", func() bool { return st.TxPackets.Load() == 2 })
	if st.TxDropped.Load() != 1 || priv(r.d).txc.Refused.Load() != 1 {
		t.Errorf("dropped %d refused %d", st.TxDropped.Load(), priv(r.d).txc.Refused.Load())
	}
}

// TestReceive: NTBs the device sends come up frame for frame (both the
// copied and the shared datagrams); a bad NTB counts once in rx_errors
// and by name, and what it still held is delivered.
func TestReceive(t *testing.T) {
	for _, f32 := range []bool{false, true} {
		for _, brk := range []int{0, -1, 4096} {
			t.Run(fmt.Sprintf("NTB32 %v, copy break %d", f32, brk), func(t *testing.T) { testReceive(t, f32, brk) })
		}
	}
}

func testReceive(t *testing.T, f32 bool, brk int) {
	f := newFakeNCM()
	r := newRig(t, f, &Driver{Options: Options{PreferNTB32: f32}, CopyBreak: brk}, true)
	mac := r.d.Net.HardwareAddr()
	w := Writer{Sizes: priv(r.d).sizes}
	w.Sizes.TxMax = priv(r.d).sizes.RxMax
	var want [][]byte
	for i := range 3 {
		var fs [][]byte
		for j := range 5 {
			fr := ethFrame(mac, 60+(i*5+j)*97, i*5+j)
			fs = append(fs, fr)
		}
		ntb, n, err := w.AppendNTB(uint16(i), fs)
		if err != nil || n != 5 {
			t.Fatal(n, err)
		}
		want = append(want, fs...)
		if err := f.host.SendInZLP(fakeEpIn, ntb); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "15 frames", func() bool { return len(r.received()) == 15 })
	if got := r.received(); !slices.EqualFunc(got, want, bytes.Equal) {
		t.Errorf("NTB32 %v break %d: frames differ", f32, brk)
	}
	st := r.d.Net.Stats()
	if st.RxPackets.Load() != 15 || st.RxErrors.Load() != 0 || priv(r.d).rxc.NTBs.Load() != 3 {
		t.Errorf("rx_packets %d errors %d NTBs %d", st.RxPackets.Load(), st.RxErrors.Load(), priv(r.d).rxc.NTBs.Load())
	}
	// A bad NTB: its second datagram runs past the block.
	bad, _, _ := w.AppendNTB(9, [][]byte{ethFrame(mac, 100, 1), ethFrame(mac, 100, 2)})
	l := layoutOf(w.Sizes.Format)
	ndp := get(bad, l.ndpOff, l.word)
	put(bad, ndp+l.ndpHdr+l.entryLen+l.word, l.word, 60000)
	if err := f.host.SendInZLP(fakeEpIn, bad); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the bad NTB", func() bool { return st.RxErrors.Load() == 1 })
	waitFor(t, "its good frame", func() bool { return len(r.received()) == 16 })
	if priv(r.d).rxc.DatagramPastEnd.Load() != 1 || st.RxFrameErrors.Load() != 1 || r.d.Counters().RxFixupErrors.Load() != 1 {
		t.Errorf("past-end %d frame errors %d", priv(r.d).rxc.DatagramPastEnd.Load(), st.RxFrameErrors.Load())
	}
}

// TestStatus: NETWORK_CONNECTION and CONNECTION_SPEED_CHANGE, whole and
// split, a repeated state ignored, a bad notification refused.
func TestStatus(t *testing.T) {
	f := newFakeNCM()
	r := newRig(t, f, New(), true)
	d, drv := r.d, r.drv
	waitFor(t, "1000 Mb/s", func() bool { return d.Net.Speed() == 1000 })
	rates := make([]byte, 8)
	binary.LittleEndian.PutUint32(rates, 0)
	binary.LittleEndian.PutUint32(rates[4:], 100_000_000)
	if err := drv.Status(d, append([]byte{0xa1, 0x2a, 0, 0, 0, 0, 8, 0}, rates...)); err != nil || d.Net.Speed() != 100 {
		t.Errorf("speed change (uplink only): %v, %d", err, d.Net.Speed())
	}
	binary.LittleEndian.PutUint32(rates, 2_500_000_000)
	if err := drv.Status(d, []byte{0xa1, 0x2a, 0, 0, 0, 0, 8, 0}); err != nil || d.Net.Speed() != 100 {
		t.Errorf("split header: %v %d", err, d.Net.Speed())
	}
	if err := drv.Status(d, rates[:5]); err != nil || d.Net.Speed() != 100 {
		t.Errorf("split, 5 bytes: %v %d", err, d.Net.Speed())
	}
	if err := drv.Status(d, rates[5:]); err != nil || d.Net.Speed() != 2500 {
		t.Errorf("split, rest: %v %d", err, d.Net.Speed())
	}
	if err := drv.Status(d, []byte{0xa1, 0x00, 0, 0, 0, 0, 0, 0}); err != nil || d.Net.Carrier() {
		t.Errorf("disconnect: %v, carrier %v", err, d.Net.Carrier())
	}
	if err := drv.Status(d, []byte{0xa1, 0x00, 1, 0, 0, 0, 0, 0}); err != nil || !d.Net.Carrier() {
		t.Errorf("connect: %v", err)
	}
	time.Sleep(20 * time.Millisecond)
	resets := d.Counters().LinkResets.Load()
	if err := drv.Status(d, []byte{0xa1, 0x00, 1, 0, 0, 0, 0, 0}); err != nil {
		t.Error(err)
	}
	time.Sleep(20 * time.Millisecond)
	if d.Counters().LinkResets.Load() != resets {
		t.Errorf("a repeated connection ran LinkReset again")
	}
	for _, bad := range [][]byte{{0xa1, 0}, {0x21, 0, 1, 0, 0, 0, 0, 0}, {0xa1, 0x77, 0, 0, 0, 0, 0, 0}} {
		if err := drv.Status(d, bad); !errors.Is(err, cdcecm.ErrNotification) {
			t.Errorf("% x: %v", bad, err)
		}
	}
	if err := drv.Status(d, []byte{0xa1, 0x01, 0, 0, 0, 0, 0, 0}); err != nil {
		t.Errorf("RESPONSE_AVAILABLE: %v", err)
	}
}

// TestDiagnose: the parameters, the negotiated sizes, the device's own
// view agreeing (no problem), and the counters.
func TestDiagnose(t *testing.T) {
	f := newFakeNCM()
	f.params.OutDivisor = 3
	r := newRig(t, f, New(), true)
	g := r.drv.Diagnose(r.d)
	regs := map[string]string{}
	for _, x := range g.MACRegs {
		regs[x.Name] = x.Value
	}
	if regs["dwNtbInMaxSize"] != "32768" || regs["wNdpOutDivisor"] != "3" || regs["bmNtbFormatsSupported"] != "0x0003" {
		t.Errorf("registers %v", regs)
	}
	if !strings.Contains(strings.Join(g.PHY, "\n"), "negotiated: NTB16, NTB in 16384 bytes (rx_max), NTB out 16385 bytes (tx_max), max datagram 1514") {
		t.Errorf("PHY %q", g.PHY)
	}
	if len(g.Problems) != 1 || !strings.Contains(g.Problems[0], "wNdpOutDivisor 3") {
		t.Errorf("problems %q", g.Problems)
	}
	names := map[string]bool{}
	for _, c := range g.Counters {
		names[c.Name] = true
	}
	for _, n := range []string{"tx_ntbs", "rx_ntbs", "rx_datagram_overlap", "rx_ndp_loop"} {
		if !names[n] {
			t.Errorf("no counter %s", n)
		}
	}
	// The device changed its mind: diag says so.
	f.mu.Lock()
	f.inSize = 4096
	f.mu.Unlock()
	g = r.drv.Diagnose(r.d)
	if !strings.Contains(strings.Join(g.Problems, ";"), "NTB input size is 4096, dongle negotiated 16384") {
		t.Errorf("problems %q", g.Problems)
	}
}
