package specs

import (
	"errors"
	"strings"
	"testing"

	"dongle/hw/gousb"
	"dongle/usbnet/catalog"
)

// TestFilterVerdict: each device's real filter is what the filter specs
// expect; a device that starts filtering as its protocol says fails with
// ErrFindingGone (naming the device and the finding), and one that passes
// what it should drop with ErrFilterLeak.
func TestFilterVerdict(t *testing.T) {
	conforming := FilterFinding{}
	for _, c := range []struct {
		f    FilterFinding
		p    filterProbe
		got  bool
		want error
	}{
		{conforming, probeOtherUnicast, false, nil},
		{conforming, probeOtherUnicast, true, ErrFilterLeak},
		{conforming, probeUnsubscribedGroup, false, nil},
		{conforming, probeUnsubscribedGroup, true, ErrFilterLeak},
		{catalog.GadgetFilter, probeOtherUnicast, true, nil},
		{catalog.GadgetFilter, probeOtherUnicast, false, ErrFindingGone},
		{catalog.GadgetFilter, probeUnsubscribedGroup, false, nil},
		{catalog.GadgetFilter, probeUnsubscribedGroup, true, ErrFilterLeak},
		{catalog.USBNetFilter, probeOtherUnicast, true, nil},
		{catalog.USBNetFilter, probeOtherUnicast, false, ErrFindingGone},
		{catalog.USBNetFilter, probeUnsubscribedGroup, true, nil},
		{catalog.USBNetFilter, probeUnsubscribedGroup, false, ErrFindingGone},
	} {
		err := filterVerdict("usb:dev", c.f, c.p, c.got)
		if c.want == nil {
			if err != nil {
				t.Errorf("%s, %s, got=%v: %v", c.f.Filters, c.p, c.got, err)
			}
			continue
		}
		if !errors.Is(err, c.want) {
			t.Errorf("%s, %s, got=%v: error %v, want %v", c.f.Filters, c.p, c.got, err, c.want)
			continue
		}
		if c.want == ErrFindingGone && (!strings.Contains(err.Error(), "usb:dev") || !strings.Contains(err.Error(), c.f.Finding) || !strings.Contains(err.Error(), "update Expectations.Filter")) {
			t.Errorf("finding gone, not said loudly enough: %v", err)
		}
	}
}

// TestFilterFindingsPerDevice: the lab's devices and their models carry
// the same measured finding; a conforming adapter carries none; the
// invariant Filters == FiltersAll exactly when Finding == "" holds, and
// each finding names its evidence.
func TestFilterFindingsPerDevice(t *testing.T) {
	stubEnumerate(t, func(string) (gousb.Candidate, bool) { return gousb.Candidate{}, false })
	t.Setenv("DONGLE_PEER", "")
	t.Setenv("DONGLE_FAULTS", "")
	t.Setenv("DONGLE_LAB", "1")
	want := map[string]catalog.RxFilter{
		"usb:0525:a4a2": catalog.FiltersNothing, "sim:ecm": catalog.FiltersNothing,
		"usb:1209:0001": catalog.FiltersGroups, "sim:ecm-gadget": catalog.FiltersGroups,
		"usb:0b95:1790": catalog.FiltersAll, "sim:ax88179": catalog.FiltersAll, "sim:ax88772": catalog.FiltersAll,
	}
	backends := map[string]Backend{}
	for _, b := range SimBackends() {
		backends[b.Name()] = b
	}
	for _, sel := range []string{"usb:0525:a4a2", "usb:1209:0001", "usb:0b95:1790"} {
		b, err := USBBackend(sel)
		if err != nil {
			t.Fatal(err)
		}
		backends[sel] = b
	}
	for name, w := range want {
		b := backends[name]
		if b == nil {
			t.Errorf("no backend %s", name)
			continue
		}
		f := b.Expect().Filter
		if f.Filters != w || (f.Finding == "") != (w == catalog.FiltersAll) || (f.Finding != "" && f.Evidence == "") {
			t.Errorf("%s: filter %+v, want %s", name, f, w)
		}
		for _, c := range b.Caps() {
			if strings.Contains(string(c), "filter") {
				t.Errorf("%s: a filter finding is not a skip, yet caps has %s", name, c)
			}
		}
	}
}

// TestHeldTail: f_ncm's held-NTB finding is a tail of at most one NTB
// (31 datagrams) missing; nothing missing means the finding is gone
// (ErrFindingGone), and frames missing elsewhere, or more than an NTB
// holds, are another loss (ErrNotHeldTail).
func TestHeldTail(t *testing.T) {
	got := func(sent int, missing ...int) map[int]bool {
		m := map[int]bool{}
		for s := 0; s < sent; s++ {
			m[s] = true
		}
		for _, s := range missing {
			m[s] = false
		}
		return m
	}
	for _, c := range []struct {
		name     string
		sent     int
		got      map[int]bool
		wantHeld int
		want     error
	}{
		{"a tail of ten", 51, got(51, 41, 42, 43, 44, 45, 46, 47, 48, 49, 50), 10, nil},
		{"the last frame", 51, got(51, 50), 1, nil},
		{"a full NTB", 40, got(40, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39), 31, nil},
		{"nothing held", 51, got(51), 0, ErrFindingGone},
		{"a gap before the tail", 51, got(51, 3, 49, 50), 2, ErrNotHeldTail},
		{"a gap only", 51, got(51, 20), 0, ErrNotHeldTail},
		{"more than an NTB", 40, got(40, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39), 32, ErrNotHeldTail},
		{"everything", 5, got(5, 0, 1, 2, 3, 4), 5, nil},
	} {
		held, err := heldTail(c.sent, c.got)
		if held != c.wantHeld || !errors.Is(err, c.want) || (c.want == nil) != (err == nil) {
			t.Errorf("%s: heldTail = %d, %v; want %d, %v", c.name, held, err, c.wantHeld, c.want)
		}
	}
	if _, err := heldTail(51, got(51)); err == nil || !strings.Contains(err.Error(), "f_ncm") {
		t.Errorf("the finding-gone error names the device: %v", err)
	}
}

// TestReleaseAfter: a held NTB leaves with the frame after the ones that
// fill it to f_ncm's 31 datagrams (TX_MAX_NUM_DPE 32 with the zero entry).
func TestReleaseAfter(t *testing.T) {
	for held, want := range map[int]int{1: 31, 10: 22, 30: 2, 31: 1} {
		if got := releaseAfter(held); got != want {
			t.Errorf("releaseAfter(%d) = %d, want %d", held, got, want)
		}
	}
}
