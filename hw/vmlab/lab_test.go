package vmlab

import (
	"context"
	"strings"
	"testing"
	"time"
)

// TestLabSmoke is the one real lab run: boot the VM, see QEMU usb-net and
// the three gadgets enumerate with their class drivers, and echo 200
// frames through the kernel's cdc_ether, usb-net and the host peer. It
// skips when the lab is not set up (go run ./hw/vmlab/cmd/lab setup) and
// in -short mode. About 8 s under TCG.
func TestLabSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("boots a VM (about 8 s); skipped in -short mode")
	}
	l := Default()
	if err := l.Ready(); err != nil {
		t.Skipf("virtual lab not set up: %v", err)
	}
	var out strings.Builder
	t0 := time.Now()
	res, err := l.Smoke(context.Background(), &out)
	t.Logf("guest output:\n%s", out.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("smoke: %s (test wall %.1fs)", res.Summary(), time.Since(t0).Seconds())
	if !strings.Contains(out.String(), "PING if=") {
		t.Error("guest output has no PING result")
	}
	if res.Peer.Frames < 200 || res.Peer.Echoed < 200 {
		t.Errorf("host peer: %s, want at least 200 frames echoed", res.Peer)
	}
	if ch := res.DriverChanges(); len(ch) != 0 {
		t.Errorf("drivers changed: %v", ch)
	}
}

func TestStepHook(t *testing.T) {
	var got []string
	l := &Lab{Step: func(s string) { got = append(got, s) }}
	l.step("kernel %s: fetching", "linux-image-amd64")
	(&Lab{}).step("nobody listens") // nil Step: nothing, no panic
	if len(got) != 1 || got[0] != "kernel linux-image-amd64: fetching" {
		t.Fatalf("steps %q", got)
	}
}
