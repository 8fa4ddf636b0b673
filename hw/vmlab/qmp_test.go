package vmlab

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// fakeQMP plays QEMU's monitor: a greeting, then answer(cmd) for each
// command; it records the commands it got.
func fakeQMP(t *testing.T, answer func(cmd map[string]any) []string) (path string, got chan map[string]any) {
	t.Helper()
	dir, err := os.MkdirTemp("", "qmp")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	path = filepath.Join(dir, "qmp.sock")
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	got = make(chan map[string]any, 16)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Write([]byte(`{"QMP": {"version": {}, "capabilities": []}}` + "\n"))
			sc := bufio.NewScanner(c)
			for sc.Scan() {
				var m map[string]any
				json.Unmarshal(sc.Bytes(), &m)
				got <- m
				for _, a := range answer(m) {
					c.Write([]byte(a + "\n"))
				}
			}
			c.Close()
		}
	}()
	return path, got
}

func TestPlugUSBNet(t *testing.T) {
	path, got := fakeQMP(t, func(m map[string]any) []string {
		if m["execute"] == "device_del" {
			// An unrelated event first, then usb-net's.
			return []string{`{"return": {}}`, `{"event": "DEVICE_DELETED", "data": {"device": "other"}}`,
				`{"event": "DEVICE_DELETED", "data": {"device": "usbnet0", "path": "/machine/peripheral/usbnet0"}}`}
		}
		return []string{`{"event": "NIC_RX_FILTER_CHANGED", "data": {}}`, `{"return": {}}`}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := PlugUSBNet(ctx, path, false, ""); err != nil {
		t.Fatal(err)
	}
	if c := <-got; c["execute"] != "qmp_capabilities" {
		t.Fatalf("first command %v, want qmp_capabilities", c)
	}
	if c := <-got; c["execute"] != "device_del" || c["arguments"].(map[string]any)["id"] != USBNetID {
		t.Fatalf("unplug sent %v, want device_del of %s", c, USBNetID)
	}
	if err := PlugUSBNet(ctx, path, true, "/r/usbnet-1.pcap"); err != nil {
		t.Fatal(err)
	}
	<-got
	c := <-got
	a, _ := c["arguments"].(map[string]any)
	if c["execute"] != "device_add" || a["driver"] != "usb-net" || a["id"] != USBNetID || a["netdev"] != "n0" || a["bus"] != "xhci.0" || a["pcap"] != "/r/usbnet-1.pcap" {
		t.Fatalf("replug sent %v", c)
	}
}

func TestPlugUSBNetError(t *testing.T) {
	path, _ := fakeQMP(t, func(m map[string]any) []string {
		if m["execute"] == "device_del" {
			return []string{`{"error": {"class": "DeviceNotFound", "desc": "Device 'usbnet0' not found"}}`}
		}
		return []string{`{"return": {}}`}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := PlugUSBNet(ctx, path, false, ""); !errors.Is(err, ErrQMP) {
		t.Fatalf("device_del refused: %v, want ErrQMP", err)
	}
	// No DEVICE_DELETED ever: the deadline ends the wait.
	path, _ = fakeQMP(t, func(m map[string]any) []string { return []string{`{"return": {}}`} })
	ctx, cancel = context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if err := PlugUSBNet(ctx, path, false, ""); err == nil {
		t.Fatal("unplug without DEVICE_DELETED succeeded")
	}
}

// TestPlugUSBNetEventBeforeReturn: QEMU removes a USB device at once, so
// DEVICE_DELETED may come before device_del's return; the unplug must not
// pass over it and then wait for an event that already came.
func TestPlugUSBNetEventBeforeReturn(t *testing.T) {
	path, _ := fakeQMP(t, func(m map[string]any) []string {
		if m["execute"] == "device_del" {
			return []string{`{"event": "DEVICE_DELETED", "data": {"device": "other"}}`,
				`{"event": "DEVICE_DELETED", "data": {"device": "usbnet0", "path": "/machine/peripheral/usbnet0"}}`,
				`{"return": {}}`}
		}
		return []string{`{"return": {}}`}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := PlugUSBNet(ctx, path, false, ""); err != nil {
		t.Fatalf("unplug with DEVICE_DELETED before the return: %v", err)
	}
}
