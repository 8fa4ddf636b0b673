package rules_test

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"
	"time"

	"dongle/hw"
	"dongle/hw/usbmon"
	"dongle/usbnet"
	"dongle/usbnet/decode"
)

// synth is a synthetic usbmon trace: a real adapter's enumeration and
// bring-up taken from a fixture (every record of the decoded device before
// its first bulk or interrupt record), then URBs written here, one 'S' and
// one 'C' each, the way the kernel's usbmon logs them (-EINPROGRESS on
// submissions, unique ids).
type synth struct {
	recs            []usbmon.Record
	lt              usbmon.LinkType
	bus             uint16
	dev             uint8
	in, out, status uint8
	now             time.Time
	id              uint64
}

// fixturePath is fixtures/name from this package.
func fixturePath(name string) string { return filepath.Join("..", "..", "fixtures", name) }

// newSynth starts a trace with the bring-up of fixture name's adapter.
func newSynth(t testing.TB, name string) *synth {
	t.Helper()
	tr, err := decode.ReadFile(fixturePath(name), decode.Options{})
	if err != nil {
		t.Fatal(err)
	}
	all, lt, err := usbmon.ReadFile(fixturePath(name))
	if err != nil {
		t.Fatal(err)
	}
	life := tr.Lives[len(tr.Lives)-1]
	s := &synth{lt: lt, bus: life.Bus, dev: life.Address, in: tr.In.Address, out: tr.Out.Address, status: tr.Status.Address, id: 1 << 40}
	for i, r := range all[life.First-1:] {
		if r.Bus != s.bus || r.Device != s.dev {
			continue
		}
		if r.XferType == usbmon.XferBulk || r.XferType == usbmon.XferInterrupt {
			break
		}
		_ = i
		s.recs = append(s.recs, r)
		s.now = r.Time()
	}
	if len(s.recs) == 0 {
		t.Fatalf("%s: no bring-up records", name)
	}
	return s
}

// wait moves the clock on.
func (s *synth) wait(d time.Duration) { s.now = s.now.Add(d) }

func (s *synth) add(r usbmon.Record) int {
	r.Bus, r.Device = s.bus, s.dev
	r.SetTime(s.now)
	s.recs = append(s.recs, r)
	return len(s.recs) // tshark's frame.number
}

// submit logs an 'S' on ep (data: an OUT URB's) and returns its record and id.
func (s *synth) submit(x usbmon.XferType, ep uint8, length int, data []byte) (int, uint64) {
	s.id++
	r := usbmon.Record{ID: s.id, Type: usbmon.Submit, XferType: x, Endpoint: ep, Status: -usbmon.EINPROGRESS, FlagSetup: usbmon.FlagNoSetup, Length: uint32(length)}
	if ep&0x80 != 0 {
		r.FlagData = usbmon.FlagDataIn
	} else {
		r.Data, r.LenCap = data, uint32(len(data))
	}
	return s.add(r), s.id
}

// complete logs the 'C' of URB id (data: what the capture holds of an IN
// URB's length bytes).
func (s *synth) complete(id uint64, x usbmon.XferType, ep uint8, status int32, length int, data []byte) int {
	r := usbmon.Record{ID: id, Type: usbmon.Complete, XferType: x, Endpoint: ep, Status: status, FlagSetup: usbmon.FlagNoSetup, Length: uint32(length)}
	if ep&0x80 != 0 && len(data) > 0 {
		r.Data, r.LenCap = data, uint32(len(data))
	} else {
		r.FlagData = usbmon.FlagDataOut
	}
	return s.add(r)
}

// in logs one bulk IN URB: submitted, then after d completed with data
// (or status); it returns both records.
func (s *synth) bulkIn(d time.Duration, status int32, data []byte) (int, int) {
	sub, id := s.submit(usbmon.XferBulk, s.in, 20480, nil)
	s.wait(d)
	n := len(data)
	return sub, s.complete(id, usbmon.XferBulk, s.in, status, n, data)
}

func (s *synth) bulkOut(d time.Duration, status int32, data []byte) (int, int) {
	sub, id := s.submit(usbmon.XferBulk, s.out, len(data), data)
	s.wait(d)
	n := len(data)
	if status != 0 {
		n = 0
	}
	return sub, s.complete(id, usbmon.XferBulk, s.out, status, n, nil)
}

// control logs a control request and returns its submission's and
// completion's records.
func (s *synth) control(st hw.Setup, data []byte, status int32) (int, int) {
	s.id++
	var raw [8]byte
	raw[0], raw[1] = st.RequestType, st.Request
	binary.LittleEndian.PutUint16(raw[2:], st.Value)
	binary.LittleEndian.PutUint16(raw[4:], st.Index)
	binary.LittleEndian.PutUint16(raw[6:], st.Length)
	ep := uint8(0)
	if st.In() {
		ep = 0x80
	}
	sub := usbmon.Record{ID: s.id, Type: usbmon.Submit, XferType: usbmon.XferControl, Endpoint: ep, Setup: raw, Status: -usbmon.EINPROGRESS, Length: uint32(st.Length)}
	if st.In() {
		sub.FlagData = usbmon.FlagDataIn
	} else {
		sub.Data, sub.LenCap = data, uint32(len(data))
	}
	r1 := s.add(sub)
	s.wait(time.Millisecond / 2)
	c := usbmon.Record{ID: s.id, Type: usbmon.Complete, XferType: usbmon.XferControl, Endpoint: ep, Status: status, FlagSetup: usbmon.FlagNoSetup}
	if st.In() && status == 0 {
		c.Data, c.Length, c.LenCap = data, uint32(len(data)), uint32(len(data))
	} else {
		c.FlagData = usbmon.FlagDataOut
		if status == 0 {
			c.Length = uint32(len(data))
		}
	}
	return r1, s.add(c)
}

// decode decodes the trace as `dongle decode` and `dongle diag` would.
func (s *synth) decode(t testing.TB) *decode.Trace {
	t.Helper()
	tr, err := decode.Decode(s.recs, s.lt, decode.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

// write writes the trace as a pcap file.
func (s *synth) write(t testing.TB, path string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w, err := usbmon.NewWriter(f)
	if err != nil {
		t.Fatal(err)
	}
	for i := range s.recs {
		if err := w.Write(&s.recs[i]); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// finding returns the finding of rule in tr, nil if it did not fire.
func finding(tr *decode.Trace, rule string) *usbnet.Finding {
	for i := range tr.Findings {
		if tr.Findings[i].Rule == rule {
			return &tr.Findings[i]
		}
	}
	return nil
}

// ecmFrame is an Ethernet frame of n bytes (EtherType 0x88b5).
func ecmFrame(n int) []byte {
	f := make([]byte, n)
	copy(f, []byte{0x52, 0x54, 0, 0x12, 0x34, 0x56, 2, 0, 0, 0, 0, 1, 0x88, 0xb5})
	return f
}

// notification is CDC's NETWORK_CONNECTION notification.
func notification(up bool) []byte {
	v := byte(0)
	if up {
		v = 1
	}
	return []byte{0xa1, 0x00, v, 0, 0, 0, 0, 0}
}

// Fixtures the synthetic traces start from, by driver.
const (
	ecmFixture  = "usbmon-usbnet-cdc_ether-then-rndis_host.pcap" // kernel cdc_ether, usbmon
	asixFixture = "usbmon-kernel-asix-ax88772b.pcap"             // kernel asix, usbmon
	rtlFixture  = "usbip-rtl8153-kernel-r8152.pcap"              // kernel r8152 (the USB/IP model's log)
	ncmFixture  = "usbmon-kernel-cdc_ncm-f_ncm.pcap"             // kernel cdc_ncm on f_ncm, usbmon
	axFixture   = "ffs-ax88179-kernel-ax88179_178a.pcap"         // kernel ax88179_178a (the FunctionFS bridge's log)
)
