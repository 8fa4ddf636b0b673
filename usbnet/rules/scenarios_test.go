package rules_test

import (
	"encoding/binary"
	"fmt"
	"slices"
	"testing"
	"time"

	"dongle/hw"
	"dongle/hw/usbmon"
	"dongle/usbnet/r8152"
	"dongle/usbnet/rules"
)

// scenario builds a synthetic trace where rule must fire (near false,
// citing the records returned) or, near true, the near miss where it must
// not; from says which fixture's bring-up it starts from and why is the
// scenario in a line (for the generated fixtures' .md).
type scenario struct {
	from  string
	why   string
	build func(t testing.TB, s *synth, near bool) []int
}

// traffic moves one frame each way.
func traffic(s *synth) {
	s.bulkOut(time.Millisecond, 0, ecmFrame(98))
	s.bulkIn(time.Millisecond, 0, ecmFrame(98))
}

// intr polls the status endpoint once: submitted, completed after d with data.
func intr(s *synth, d time.Duration, data []byte) (int, int) {
	sub, id := s.submit(usbmon.XferInterrupt, s.status, 16, nil)
	s.wait(d)
	return sub, s.complete(id, usbmon.XferInterrupt, s.status, 0, len(data), data)
}

// asixFrame is one AX88772 RX packet: the 4-byte header (length, its
// complement) and an n-byte frame.
func asixFrame(n int) []byte {
	p := make([]byte, 4+n)
	binary.LittleEndian.PutUint16(p, uint16(n))
	binary.LittleEndian.PutUint16(p[2:], ^uint16(n))
	copy(p[4:], ecmFrame(n))
	return p
}

var scenarios = map[string]scenario{
	"tx-timeout": {ecmFixture, "a bulk OUT URB left in flight 5 s, then unlinked (-ECONNRESET)", func(t testing.TB, s *synth, near bool) []int {
		traffic(s)
		d := 5 * time.Second
		if near {
			d = 4900 * time.Millisecond
		}
		sub, done := s.bulkOut(d, -usbmon.ECONNRESET, ecmFrame(1514))
		traffic(s)
		return []int{sub, done}
	}},
	"error-storm": {ecmFixture, "ten bulk IN URBs completing -EPROTO within 0.9 s", func(t testing.TB, s *synth, near bool) []int {
		traffic(s)
		n := 10
		if near {
			n = 9
		}
		var cite []int
		for i := 0; i < n; i++ {
			_, c := s.bulkIn(100*time.Millisecond, -usbmon.EPROTO, nil)
			cite = append(cite, c)
		}
		return cite
	}},
	"link-flap": {ecmFixture, "NETWORK_CONNECTION up, then down and up three times within seconds", func(t testing.TB, s *synth, near bool) []int {
		intr(s, 10*time.Millisecond, notification(true))
		traffic(s)
		var cite []int
		downs := 3
		if near {
			downs = 2
		}
		for i := 0; i < downs; i++ {
			_, d := intr(s, time.Second, notification(false))
			cite = append(cite, d)
			if i < downs-1 {
				_, u := intr(s, time.Second, notification(true))
				cite = append(cite, u)
			}
		}
		return cite
	}},
	"device-vanished": {ecmFixture, "the adapter re-enumerating at a new address after moving data", func(t testing.TB, s *synth, near bool) []int {
		bringUp := slices.Clone(s.recs)
		if !near {
			traffic(s)
		}
		_, last := s.bulkIn(time.Millisecond, -usbmon.EPROTO, nil)
		s.wait(2 * time.Second)
		shift := s.now.Sub(bringUp[0].Time())
		first := 0
		for _, r := range bringUp {
			r.SetTime(r.Time().Add(shift))
			s.now = r.Time()
			s.dev++
			n := s.add(r)
			s.dev--
			if first == 0 {
				first = n
			}
		}
		s.dev++
		traffic(s)
		return []int{last, first}
	}},
	"halt-not-cleared": {ecmFixture, "bulk IN completing -EPIPE and no CLEAR_FEATURE(ENDPOINT_HALT) in the 2 s after", func(t testing.TB, s *synth, near bool) []int {
		traffic(s)
		_, h := s.bulkIn(time.Millisecond, -usbmon.EPIPE, nil)
		if near {
			s.control(hw.Setup{RequestType: hw.RecipEndpoint, Request: hw.ReqClearFeature, Index: uint16(s.in)}, nil, 0)
		}
		s.wait(2 * time.Second)
		s.bulkOut(time.Millisecond, 0, ecmFrame(60))
		return []int{h}
	}},
	"rx-starvation": {ecmFixture, "twice no bulk IN URB outstanding for 300 ms, the next one completing with a frame 1 ms after its submission", func(t testing.TB, s *synth, near bool) []int {
		traffic(s)
		quick := time.Millisecond
		if near {
			quick = 8 * time.Millisecond // the device had nothing waiting (past StarveQuick)
		}
		var cite []int
		for i := 0; i < 2; i++ {
			_, idle := s.bulkIn(time.Millisecond, 0, ecmFrame(98))
			s.wait(300 * time.Millisecond)
			sub, done := s.bulkIn(quick, 0, ecmFrame(98))
			cite = append(cite, idle, sub, done)
		}
		return cite
	}},
	"register-access": {asixFixture, "an ASIX register read timing out (-ETIMEDOUT)", func(t testing.TB, s *synth, near bool) []int {
		st := int32(-usbmon.ETIMEDOUT)
		if near {
			st = 0
		}
		sub, _ := s.control(hw.Setup{RequestType: hw.DirIn | hw.TypeVendor | hw.RecipDevice, Request: 0x07, Length: 4}, []byte{1, 2, 3, 4}, st)
		return []int{sub + 1}
	}},
	"ntb-oversize": {ncmFixture, "an 8193-byte NTB on bulk IN after SET_NTB_INPUT_SIZE(8192)", func(t testing.TB, s *synth, near bool) []int {
		size := make([]byte, 4)
		binary.LittleEndian.PutUint32(size, 8192)
		s.control(hw.Setup{RequestType: hw.DirOut | hw.TypeClass | hw.RecipInterface, Request: 0x86, Length: 4}, size, 0)
		n := 8193
		if near {
			n = 8192
		}
		_, c := s.bulkIn(time.Millisecond, 0, make([]byte, n))
		return []int{c}
	}},
	"checksum-fail": {rtlFixture, "an RTL8153 RX descriptor with RD_IPV4_CS and IPF set", func(t testing.TB, s *synth, near bool) []int {
		p := make([]byte, r8152.RxDescLen+64)
		opts3 := r8152.RxIPF
		if near {
			opts3 = 0
		}
		r8152.PutRxDesc(p, 64, r8152.RxIPv4CS, opts3)
		copy(p[r8152.RxDescLen:], ecmFrame(60))
		_, c := s.bulkIn(time.Millisecond, 0, p)
		return []int{c}
	}},
	"link-needs-filter": {ecmFixture, "the status endpoint polled 1.5 s without a link, NETWORK_CONNECTION up 100 ms after SET_ETHERNET_PACKET_FILTER", func(t testing.TB, s *synth, near bool) []int {
		poll, id := s.submit(usbmon.XferInterrupt, s.status, 16, nil)
		if near {
			s.wait(100 * time.Millisecond) // the link comes up by itself
			s.complete(id, usbmon.XferInterrupt, s.status, 0, 8, notification(true))
			poll, id = s.submit(usbmon.XferInterrupt, s.status, 16, nil)
		}
		s.wait(1500 * time.Millisecond)
		filter, _ := s.control(hw.Setup{RequestType: hw.DirOut | hw.TypeClass | hw.RecipInterface, Request: 0x43, Value: 0x0e}, nil, 0)
		s.wait(100 * time.Millisecond)
		up := s.complete(id, usbmon.XferInterrupt, s.status, 0, 8, notification(true))
		traffic(s)
		return []int{poll, filter, up}
	}},
	"poor-aggregation": {asixFixture, "40 bulk IN transfers 200 µs apart on an AX88772B, one frame in each", func(t testing.TB, s *synth, near bool) []int {
		wait := 100 * time.Microsecond
		if near {
			wait = 200 * time.Microsecond // 300 µs apart: under 4000 frames/s
		}
		var cite []int
		for i := 0; i < 40; i++ {
			_, c := s.bulkIn(100*time.Microsecond, 0, asixFrame(60))
			s.wait(wait)
			if i < rules.MaxCited {
				cite = append(cite, c)
			}
		}
		return cite
	}},
	"rx-overflow": {ecmFixture, "a bulk IN URB completing -EOVERFLOW (babble)", func(t testing.TB, s *synth, near bool) []int {
		traffic(s)
		st := int32(-usbmon.EOVERFLOW)
		if near {
			st = -usbmon.EPROTO
		}
		_, c := s.bulkIn(time.Millisecond, st, nil)
		traffic(s)
		return []int{c}
	}},
}

// TestSyntheticTraces decodes each rule's synthetic trace: the rule fires
// citing the records it must (and nothing else fires), and its near miss
// leaves every rule silent.
func TestSyntheticTraces(t *testing.T) {
	for _, name := range ruleNames {
		sc, ok := scenarios[name]
		if !ok {
			t.Errorf("rule %s has no synthetic trace", name)
			continue
		}
		t.Run(name, func(t *testing.T) {
			s := newSynth(t, sc.from)
			want := sc.build(t, s, false)
			tr := s.decode(t)
			f := finding(tr, name)
			if f == nil {
				t.Fatalf("%s did not fire: %v", name, tr.Findings)
			}
			for _, w := range want {
				if !f.Cites(w) {
					t.Errorf("%s does not cite record %d: %+v", name, w, f.Evidence)
				}
			}
			for _, o := range tr.Findings {
				if o.Rule != name {
					t.Errorf("%s's trace also fires %s: %s", name, o.Rule, o.Summary)
				}
			}
			s = newSynth(t, sc.from)
			sc.build(t, s, true)
			for _, o := range s.decode(t).Findings {
				t.Errorf("%s's near miss fires %s: %s %v", name, o.Rule, o.Summary, fmt.Sprint(o.Evidence))
			}
		})
	}
}
