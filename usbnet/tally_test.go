package usbnet_test

import (
	"fmt"
	"testing"
	"time"

	"dongle/usbnet"
)

// TestTransferTally: every count adds to Total, a transfer with none is
// not kept, and only the first 8 transfers with some are cited.
func TestTransferTally(t *testing.T) {
	var c usbnet.TransferTally
	t0 := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	for i := 1; i <= 14; i++ { // ten transfers with a count, two past the eight kept
		c.Add(&usbnet.Event{Record: 100 + i, Time: t0.Add(time.Duration(i) * time.Millisecond)}, i%3)
	}
	if c.Total != 15 { // 1+2+0 four times, then 1+2
		t.Errorf("Total %d, want 15", c.Total)
	}
	f := &usbnet.Finding{}
	c.Cite(f, func(n int) string { return fmt.Sprint(n, " bad") })
	want := []int{101, 102, 104, 105, 107, 108, 110, 111}
	if len(f.Evidence) != len(want) {
		t.Fatalf("%d cited, want %d: %+v", len(f.Evidence), len(want), f.Evidence)
	}
	for i, e := range f.Evidence {
		if e.Record != want[i] || e.What != fmt.Sprint((want[i]-100)%3, " bad") || !e.Time.Equal(t0.Add(time.Duration(want[i]-100)*time.Millisecond)) {
			t.Errorf("evidence %d: %+v, want record %d", i, e, want[i])
		}
	}
}
