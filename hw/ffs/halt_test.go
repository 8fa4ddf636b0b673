package ffs_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"golang.org/x/sys/unix"

	"dongle/hw"
	"dongle/hw/ffs"
	"dongle/hw/sim"
)

// haltFile is an endpoint file that answers a read of an IN file as
// FunctionFS does (EBADMSG: the halt is set) and logs the calls.
type haltFile struct {
	mu    sync.Mutex
	in    bool
	reads int
	host  uint8 // the UDC's address for it
}

func (f *haltFile) HostAddress() (uint8, error) { return f.host, nil }

func (f *haltFile) Read(p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reads++
	if f.in {
		return 0, unix.EBADMSG
	}
	return 0, errors.New("haltFile: OUT read not expected")
}
func (f *haltFile) Write(p []byte) (int, error) { return len(p), nil }
func (f *haltFile) Close() error                { return nil }

// haltFunction: ep0 takes the descriptors; epK are haltFiles.
type haltFunction struct{ eps []*haltFile }

func (h *haltFunction) EP0() (ffs.File, error) { return &haltFile{}, nil }
func (h *haltFunction) Endpoint(k int) (ffs.File, error) {
	// vendorModel's endpoints in file order: 0x81 (IN), 0x82 (IN), 0x03 (OUT).
	// The UDC renumbers the IN endpoints (0x81 → 0x85, 0x82 → 0x86), as
	// dummy_hcd does.
	f := &haltFile{in: k <= 2, host: uint8(k + 0x84)}
	if k == 3 {
		f.host = 0x03
	}
	h.eps = append(h.eps, f)
	return f, nil
}

func TestHalt(t *testing.T) {
	m, _ := vendorModel()
	dev := sim.New(m, hw.Info{Bus: 1, Address: 2, Speed: hw.SpeedHigh})
	defer dev.Close()
	fn := &haltFunction{}
	br, err := ffs.New(context.Background(), dev, fn, ffs.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := br.Halt(0x82); err != nil {
		t.Fatalf("Halt(0x82): %v", err)
	}
	if fn.eps[1].reads != 1 || fn.eps[0].reads != 0 || fn.eps[2].reads != 0 {
		t.Fatalf("reads per endpoint file %d %d %d, want one read of ep2 (0x82) only", fn.eps[0].reads, fn.eps[1].reads, fn.eps[2].reads)
	}
	// By the host's address.
	if err := br.Halt(0x85); err != nil {
		t.Fatalf("Halt(0x85), the host's address of 0x81: %v", err)
	}
	if fn.eps[0].reads != 1 || fn.eps[1].reads != 1 {
		t.Fatalf("Halt(0x85) read ep1 %d times and ep2 %d times, want once each now", fn.eps[0].reads, fn.eps[1].reads)
	}
	if err := br.Halt(0x03); !errors.Is(err, ffs.ErrHaltOut) {
		t.Fatalf("Halt(0x03): %v, want ErrHaltOut", err)
	}
	if fn.eps[2].reads != 0 {
		t.Fatal("Halt(0x03) touched the OUT file")
	}
	if err := br.Halt(0x87); !errors.Is(err, ffs.ErrNoEndpoint) {
		t.Fatalf("Halt(0x87): %v, want ErrNoEndpoint", err)
	}
}
