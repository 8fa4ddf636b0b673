package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"dongle/cmd/dongle/internal/soak"
	"dongle/hw/sim"
	"dongle/usbnet/catalog"
)

// dropOne forwards frames, losing the n-th without a trace.
type dropOne struct {
	out  *sim.End
	n    uint64
	seen atomic.Uint64
}

func (d *dropOne) Receive(f []byte) {
	if d.seen.Add(1) != d.n {
		d.out.Send(f)
	}
}

// lossyModels makes soak's devices models whose wire loses one RX frame.
func lossyModels(t *testing.T) {
	old := soakOpener
	soakOpener = func(sel string) (soak.Opener, error) {
		m, err := catalog.ModelBySelector(sel)
		if err != nil {
			return nil, err
		}
		return func() (*soak.Rig, error) {
			near, far := sim.NewWire(), sim.NewWire()
			inst := m.Build(catalog.Options{})
			inst.Plug(near.A())
			near.B().Attach(&dropOne{out: far.A()})          // TX: nothing lost
			far.A().Attach(&dropOne{out: near.B(), n: 2000}) // RX: frame 2000 lost
			return &soak.Rig{HW: inst.Dev, Drivers: catalog.ForModels(), Peer: far.B(), Faults: inst.Dev}, nil
		}, nil
	}
	t.Cleanup(func() { soakOpener = old })
}

func TestSoakExitsNonZeroOnALostFrame(t *testing.T) {
	lossyModels(t)
	out := filepath.Join(t.TempDir(), "soak.json")
	code, stdout, stderr := run(t, "soak", "--backend=sim:ecm", "--frames=10000", "--faults=none", "--sizes=60-100", "--json", out)
	if code != 1 {
		t.Fatalf("exit %d, want 1 (stdout %q, stderr %q)", code, stdout, stderr)
	}
	oneLineError(t, code, stderr, "unaccounted", "0 TX and 1 RX frames lost")
	if !strings.Contains(stdout, "FAIL sim:ecm") || !strings.Contains(stdout, "unaccounted 0 TX 1 RX") {
		t.Errorf("stdout %q does not say FAIL and name the loss", stdout)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var s soak.Summary
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	if s.Pass || s.RX.Unaccounted != 1 || s.Backend != "sim:ecm" || s.Failure == "" {
		t.Errorf("JSON summary %+v", s)
	}
}

func TestSoakPasses(t *testing.T) {
	code, stdout, stderr := run(t, "soak", "--backend=sim:ax88772", "--frames=20000", "--rate=200", "--sizes=60-200", "--json=-")
	if code != 0 || stderr != "" {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	var s soak.Summary
	if err := json.Unmarshal([]byte(stdout), &s); err != nil {
		t.Fatalf("--json - must leave stdout pure JSON: %v\n%s", err, stdout)
	}
	if !s.Pass || s.TX.Offered+s.RX.Offered < 20000 || len(s.Faults) != 4 || s.RSSEndKB == 0 {
		t.Errorf("summary %+v", s)
	}
}

func TestSoakBadInput(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--frames=10"}, "no --backend"},
		{[]string{"--backend=sim:ecm"}, "neither --duration nor --frames"},
		{[]string{"--backend=sim:nope", "--frames=10"}, `"sim:nope"`},
		{[]string{"--backend=sim:ecm", "--frames=10", "--faults=stall,melt"}, `"melt"`},
		{[]string{"--backend=sim:ecm", "--frames=10", "--sizes=60-x"}, "--sizes"},
		{[]string{"--backend=sim:ecm", "--frames=10", "--sizes=20-40"}, "frame sizes 20-40"},
		{[]string{"--backend=sim:ecm", "--frames=10", "extra"}, `"extra"`},
	} {
		code, _, stderr := run(t, append([]string{"soak"}, tc.args...)...)
		if code != 2 {
			t.Errorf("%v: exit %d, want 2", tc.args, code)
		}
		oneLineError(t, code, stderr, tc.want)
	}
}

func TestSoakListBackends(t *testing.T) {
	code, stdout, _ := run(t, "soak", "--list-backends")
	if code != 0 || strings.Join(catalog.Selectors(), "\n")+"\n" != stdout {
		t.Errorf("exit %d, listed %q, want every model", code, stdout)
	}
}
