package decode_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"dongle/hw/record"
	"dongle/hw/sim"
	simncm "dongle/hw/sim/ncm"
	"dongle/skbuff"
	"dongle/usbnet"
	"dongle/usbnet/catalog"
	"dongle/usbnet/cdcncm"
	"dongle/usbnet/decode"
)

// TestNCMTrace records cdc_ncm on the NCM model (frames both ways, NTBs of
// several frames, one damaged RX NTB) and decodes the recording: NTBs
// become the frames that were really sent and received, in order, and the
// damaged NTB is one framing error wrapping the reader's sentinel.
func TestNCMTrace(t *testing.T) {
	path, me, tx, rx := recordNCM(t, true)
	tr, err := decode.ReadFile(path, decode.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if tr.Driver != "cdc_ncm" || !bytes.Equal(tr.MAC, me) {
		t.Errorf("driver %s MAC %v", tr.Driver, tr.MAC)
	}
	var gotTX, gotRX [][]byte
	for _, f := range tr.Frames {
		if f.Dir == decode.TX {
			gotTX = append(gotTX, f.Data)
		} else {
			gotRX = append(gotRX, f.Data)
		}
	}
	if !slices.EqualFunc(gotTX, tx, bytes.Equal) {
		t.Errorf("TX: %d frames decoded, %d sent (or contents differ)", len(gotTX), len(tx))
	}
	if !slices.EqualFunc(gotRX, rx, bytes.Equal) {
		t.Errorf("RX: %d frames decoded, %d received (or contents differ)", len(gotRX), len(rx))
	}
	if len(tr.Errors) != 1 || tr.Errors[0].Dir != decode.RX || !errors.Is(tr.Errors[0], cdcncm.ErrDatagramInHeader) {
		t.Errorf("framing errors %v", tr.Errors)
	}
	if tr.Stats.TxTransfers >= len(tx) {
		t.Errorf("%d TX transfers for %d frames: nothing aggregated", tr.Stats.TxTransfers, len(tx))
	}
}

// TestNCMMatchesTshark: Wireshark's NCM dissector finds the same frames,
// NTB for NTB, in a clean recording.
func TestNCMMatchesTshark(t *testing.T) {
	path, _, tx, rx := recordNCM(t, false)
	if _, err := exec.LookPath("tshark"); err != nil {
		t.Skip("tshark not installed (CI installs it): cannot compare with Wireshark's dissection")
	}
	out, err := exec.Command("tshark", "-r", path, "-Y", "eth", "-T", "json", "-x", "--no-duplicate-keys").Output()
	if err != nil {
		t.Fatalf("tshark: %v", err)
	}
	var pkts []struct {
		Source struct {
			Layers map[string]json.RawMessage `json:"layers"`
		} `json:"_source"`
	}
	if err := json.Unmarshal(out, &pkts); err != nil {
		t.Fatalf("tshark json: %v", err)
	}
	// Each datagram is an eth header (eth_raw: hex, offset, 14) and its
	// payload (data_raw, the test EtherType being unknown to Wireshark).
	spans := func(raw json.RawMessage) [][2]int {
		var one []any
		if json.Unmarshal(raw, &one) == nil && len(one) >= 3 {
			if _, ok := one[0].(string); ok {
				return [][2]int{{int(one[1].(float64)), int(one[2].(float64))}}
			}
		}
		var many [][]any
		if err := json.Unmarshal(raw, &many); err != nil {
			t.Fatalf("tshark span %s: %v", raw, err)
		}
		var out [][2]int
		for _, x := range many {
			out = append(out, [2]int{int(x[1].(float64)), int(x[2].(float64))})
		}
		return out
	}
	var want [][]byte
	for i, p := range pkts {
		var frameRaw []any
		if err := json.Unmarshal(p.Source.Layers["frame_raw"], &frameRaw); err != nil {
			t.Fatalf("packet %d frame_raw: %v", i, err)
		}
		all, err := hex.DecodeString(frameRaw[0].(string))
		if err != nil {
			t.Fatal(err)
		}
		eth, data := spans(p.Source.Layers["eth_raw"]), spans(p.Source.Layers["data_raw"])
		if len(eth) != len(data) {
			t.Fatalf("packet %d: %d Ethernet headers, %d payloads", i, len(eth), len(data))
		}
		for j := range eth {
			want = append(want, all[eth[j][0]:data[j][0]+data[j][1]])
		}
	}
	if len(want) != len(tx)+len(rx) {
		t.Fatalf("tshark finds %d frames, the recording carries %d", len(want), len(tx)+len(rx))
	}
	tr, err := decode.ReadFile(path, decode.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(tr.Frames) != len(want) || len(tr.Errors) != 0 {
		t.Fatalf("decoded %d frames (%v), tshark %d", len(tr.Frames), tr.Errors, len(want))
	}
	for i := range want {
		if !bytes.Equal(tr.Frames[i].Data, want[i]) {
			t.Errorf("frame %d differs:\n got % x\nwant % x", i, tr.Frames[i].Data, want[i])
		}
	}
}

// recordNCM records cdc_ncm on the NCM model: 12 frames sent (aggregated),
// 6 received, and, with corrupt, one more in an NTB whose datagram index
// points into the NTH. It returns the pcap's path, the MAC and the frames.
func recordNCM(t *testing.T, corrupt bool) (path string, me []byte, tx, rx [][]byte) {
	path = filepath.Join(t.TempDir(), "ncm.pcap")
	dev, m := simncm.NewDevice(simncm.Options{})
	w := sim.NewWire()
	m.Connect(w.A())
	capt := sim.NewCapture()
	w.B().Attach(capt)
	rec, err := record.Create(dev, path, record.Options{})
	if err != nil {
		t.Fatal(err)
	}
	drv, _ := catalog.ByName("ncm", true)
	d, err := usbnet.Probe(rec, drv)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Net.Open(); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(3 * time.Second); !d.Net.Carrier(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("no carrier")
		}
	}
	me = d.Net.HardwareAddr()
	frame := func(dst, src []byte, n, seq int) []byte {
		f := make([]byte, n)
		copy(f, dst)
		copy(f[6:], src)
		binary.BigEndian.PutUint16(f[12:], 0x88b5)
		for i := 14; i < n; i++ {
			f[i] = byte(i + seq)
		}
		return f
	}
	peer := []byte{0x02, 0, 0, 0, 0, 0x77}
	for i := range 12 {
		f := frame(peer, me, 60+i*111, i)
		tx = append(tx, f)
		b := skbuff.Alloc(len(f))
		b.PutData(f)
		if err := d.Net.Xmit(b); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if _, err := capt.WaitFor(ctx, len(tx)); err != nil {
		t.Fatal(err)
	}
	for i := range 6 {
		f := frame(me, peer, 100+i*200, i)
		rx = append(rx, f)
		w.B().Send(f)
	}
	st := d.Net.Stats()
	for deadline := time.Now().Add(3 * time.Second); st.RxPackets.Load() < uint64(len(rx)); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("rx_packets %d", st.RxPackets.Load())
		}
	}
	if corrupt {
		m.CorruptNext(simncm.CorruptDatagramInHeader)
		w.B().Send(frame(me, peer, 70, 99))
		for deadline := time.Now().Add(3 * time.Second); st.RxErrors.Load() == 0; time.Sleep(time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatal("the damaged NTB did not arrive")
			}
		}
	}
	if err := d.Disconnect(); err != nil {
		t.Fatal(err)
	}
	if err := rec.Close(); err != nil { // closes the model's device too
		t.Fatal(err)
	}

	return path, me, tx, rx
}
