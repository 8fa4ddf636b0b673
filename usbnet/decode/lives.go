package decode

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// # Lives of one adapter
//
// An adapter that resets, crashes or is re-plugged enumerates again at a
// new address: usbmon shows a second device. It is the same adapter when
// its VID:PID and serial number (the iSerialNumber string, where both
// lives read it) agree and its records at the two addresses do not
// overlap, in record order or in time; decode then follows it across its lives (Trace.Lives)
// instead of failing with ErrSeveralDevices or decoding one life only.
// Two adapters of one model plugged at once overlap, and stay two.

// Life is one life of the adapter: its records at one address.
type Life struct {
	Bus     uint16        `json:"bus"`
	Address uint8         `json:"address"`
	First   int           `json:"first_record"` // tshark's frame.number
	Last    int           `json:"last_record"`
	Start   time.Time     `json:"start"`
	End     time.Time     `json:"end"`
	Gap     time.Duration `json:"gap"` // since the previous life's last record (0: the first life)
}

func (l Life) String() string {
	s := fmt.Sprintf("%d.%d records %d..%d (%s to %s)", l.Bus, l.Address, l.First, l.Last,
		l.Start.UTC().Format("15:04:05.000"), l.End.UTC().Format("15:04:05.000"))
	if l.Gap > 0 {
		s += fmt.Sprintf(", %v after the previous life", l.Gap.Round(time.Millisecond))
	}
	return s
}

// serialOf is the device's serial number string, known reports whether
// the trace says (no iSerialNumber counts as known and empty).
func serialOf(d *devSurvey) (serial string, known bool) {
	if d.device.Serial == 0 {
		return "", true
	}
	s, ok := d.strings[d.device.Serial]
	return s, ok
}

// groupLives returns, for each device that is one life of an adapter with
// several, all its lives in trace order.
func groupLives(devs map[devKey]*devSurvey, order []devKey) map[devKey][]*devSurvey {
	byID := map[[2]uint16][]*devSurvey{}
	var ids [][2]uint16
	for _, k := range order {
		d := devs[k]
		if k.addr == 0 || d.device == nil || d.device.Class == 9 || d.device.Vendor == 0 && d.device.Product == 0 {
			continue
		}
		id := [2]uint16{d.device.Vendor, d.device.Product}
		if byID[id] == nil {
			ids = append(ids, id)
		}
		byID[id] = append(byID[id], d)
	}
	out := map[devKey][]*devSurvey{}
	for _, id := range ids {
		ds := byID[id]
		if len(ds) < 2 {
			continue
		}
		sort.Slice(ds, func(i, j int) bool { return ds[i].first < ds[j].first })
		same := true
		for i := 1; i < len(ds) && same; i++ {
			a, b := ds[i-1], ds[i]
			sa, ka := serialOf(a)
			sb, kb := serialOf(b)
			same = b.first > a.last && !b.firstT.Before(a.lastT) && (!ka || !kb || sa == sb)
		}
		if !same {
			continue // two adapters of one model at once (or two serials): separate devices
		}
		for _, d := range ds {
			out[d.key] = ds
		}
	}
	return out
}

// mergeLives makes one survey of an adapter's lives: its records,
// requests and configuration selections in trace order, its descriptors
// from the first life that read them.
func mergeLives(ls []*devSurvey) *devSurvey {
	m := *ls[0]
	m.cfgRaw, m.strings = map[uint8][]byte{}, map[uint8]string{}
	m.controls, m.selections, m.traffic, m.anoms = nil, nil, nil, nil
	m.multiples = map[uint8]uint8{}
	m.records, m.ncontrol, m.nstall, m.bulk = 0, 0, 0, 0
	for _, d := range ls {
		m.records += d.records
		m.qemu = m.qemu || d.qemu
		if m.device == nil {
			m.device = d.device
		}
		if len(m.configs) == 0 {
			m.configs = d.configs
		}
		for i, s := range d.strings {
			if _, ok := m.strings[i]; !ok {
				m.strings[i] = s
			}
		}
		for _, c := range d.controls {
			if len(m.controls) < MaxListed {
				m.controls = append(m.controls, c)
			}
		}
		m.ncontrol += d.ncontrol
		m.nstall += d.nstall
		m.selections = append(m.selections, d.selections...)
		for _, x := range d.traffic {
			m.seen(x.addr, x.xfer)
		}
		for ep, b := range d.multiples {
			m.multiples[ep] |= b
		}
		m.bulk += d.bulk
		m.anoms = append(m.anoms, d.anoms...)
	}
	m.last, m.lastT = ls[len(ls)-1].last, ls[len(ls)-1].lastT
	return &m
}

// livesOf lists the lives as Trace.Lives reports them.
func livesOf(ls []*devSurvey) []Life {
	var out []Life
	for i, d := range ls {
		l := Life{Bus: d.key.bus, Address: d.key.addr, First: d.first + 1, Last: d.last + 1, Start: d.firstT, End: d.lastT}
		if i > 0 {
			l.Gap = d.firstT.Sub(ls[i-1].lastT)
		}
		out = append(out, l)
	}
	return out
}

func lifeList(ls []Life) string {
	var s []string
	for _, l := range ls {
		s = append(s, l.String())
	}
	return strings.Join(s, "; ")
}
