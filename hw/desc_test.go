package hw

import (
	"bytes"
	"errors"
	"testing"
)

// qemuECMConfig is QEMU usb-net's CDC configuration (value 1) as it is
// written in hw/usb/dev-network.c and seen in fixtures/qemu-usbnet-cdc_ether.pcap:
// a communications interface with header, union and Ethernet functional
// descriptors and an interrupt endpoint, then a data interface whose alt 1
// carries the bulk pair.
var qemuECMConfig = []byte{
	9, 2, 80, 0, 2, 1, 7, 0xc0, 0x32, // config: wTotalLength 80, 2 interfaces, value 1
	9, 4, 0, 0, 1, 2, 6, 0, 0, // comm interface 0: class 2/6/0, 1 endpoint
	5, 0x24, 0x00, 0x10, 0x01, // header
	5, 0x24, 0x06, 0, 1, // union: master 0, slave 1
	13, 0x24, 0x0f, 3, 0, 0, 0, 0, 0xea, 5, 0, 0, 0, // ethernet: iMAC 3, seg 1514
	7, 5, 0x81, 3, 16, 0, 0x20, // interrupt IN 0x81, 16 bytes
	9, 4, 1, 0, 0, 0x0a, 0, 0, 0, // data interface alt 0: no endpoints
	9, 4, 1, 1, 2, 0x0a, 0, 0, 0, // data interface alt 1
	7, 5, 0x82, 2, 64, 0, 0, // bulk IN 0x82
	7, 5, 0x02, 2, 64, 0, 0, // bulk OUT 0x02
}

func TestParseConfigQEMU(t *testing.T) {
	c, err := ParseConfig(qemuECMConfig)
	if err != nil {
		t.Fatal(err)
	}
	if c.Value != 1 || len(c.Interfaces) != 2 {
		t.Fatalf("value %d, %d interfaces", c.Value, len(c.Interfaces))
	}
	comm := c.Interface(0)
	if comm == nil || len(comm.Alts) != 1 || comm.Alts[0].Class != 2 || comm.Alts[0].SubClass != 6 {
		t.Fatalf("comm interface: %+v", comm)
	}
	fd, err := Descriptors(comm.Alts[0].Extra)
	if err != nil || len(fd) != 3 || fd[2][2] != 0x0f || len(fd[2]) != 13 {
		t.Fatalf("functional descriptors %x, %v", fd, err)
	}
	if ep := comm.Alts[0].Endpoints; len(ep) != 1 || ep[0].Address != 0x81 || ep[0].Type() != XferInterrupt || ep[0].MaxPacketSize != 16 {
		t.Fatalf("status endpoint %+v", ep)
	}
	data := c.Interface(1)
	if data == nil || len(data.Alts) != 2 || len(data.Alts[0].Endpoints) != 0 {
		t.Fatalf("data interface %+v", data)
	}
	eps := data.Alts[1].Endpoints
	if len(eps) != 2 || !eps[0].In() || eps[0].Type() != XferBulk || eps[1].In() || eps[1].MaxPacketSize != 64 {
		t.Fatalf("bulk endpoints %+v", eps)
	}
	if eps[0].String() != "bulk IN 0x82" {
		t.Fatalf("endpoint string %q", eps[0].String())
	}
}

func TestParseConfigRejects(t *testing.T) {
	mod := func(f func(b []byte) []byte) []byte { return f(bytes.Clone(qemuECMConfig)) }
	cases := []struct {
		name string
		b    []byte
		want string
	}{
		{"short", qemuECMConfig[:5], "need at least 9"},
		{"total past end", mod(func(b []byte) []byte { b[2] = 200; return b }), "wTotalLength 200 but only 80"},
		{"zero bLength", mod(func(b []byte) []byte { b[18] = 0; return b }), "bLength 0"},
		{"bLength past end", mod(func(b []byte) []byte { b[73] = 20; return b }), "runs"},
		{"short interface", mod(func(b []byte) []byte { b[9] = 8; return b }), "interface descriptor bLength 8"},
		{"short endpoint", mod(func(b []byte) []byte { b[73] = 6; b[2] = 79; return b[:79] }), "endpoint descriptor bLength 6"},
		{"endpoint count lies", mod(func(b []byte) []byte { b[13] = 2; return b }), "bNumEndpoints 2 but 1"},
		{"trailing byte", append(mod(func(b []byte) []byte { b[2] = 81; return b }), 7), "trailing byte"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseConfig(c.b)
			var de *DescError
			if !errors.As(err, &de) {
				t.Fatalf("got %v, want a *DescError", err)
			}
			if !bytes.Contains([]byte(err.Error()), []byte(c.want)) {
				t.Fatalf("error %q does not say %q", err, c.want)
			}
		})
	}
}

func TestStrings(t *testing.T) {
	b := EncodeString("525400123456")
	s, err := ParseString(b)
	if err != nil || s != "525400123456" {
		t.Fatalf("%q %v", s, err)
	}
	if _, err := ParseString([]byte{10, 3, 'a'}); err == nil {
		t.Fatal("lying bLength accepted")
	}
	if _, err := ParseString([]byte{4, 2, 0, 0}); err == nil {
		t.Fatal("wrong descriptor type accepted")
	}
}

func TestErrors(t *testing.T) {
	err := Errorf("bus 1 addr 2 (0b95:1790): bulk IN 0x82", ErrStall)
	if !errors.Is(err, ErrStall) || errors.Is(err, ErrTimeout) {
		t.Fatal("errors.Is does not see the Errno")
	}
	if err.Error() != "bus 1 addr 2 (0b95:1790): bulk IN 0x82: stall (pipe error)" {
		t.Fatalf("message %q", err)
	}
	if StatusOf(err) != ErrStall || StatusOf(nil) != 0 || StatusOf(errors.New("x")) != ErrIO {
		t.Fatal("StatusOf")
	}
}

func TestSetupRoundTrip(t *testing.T) {
	s := Setup{0xa1, 0x43, 0x000c, 0x0001, 0x0008}
	b := s.Bytes()
	got, ok := ParseSetup(b[:])
	if !ok || got != s || !got.In() {
		t.Fatalf("%v %v", got, ok)
	}
	if _, ok := ParseSetup(b[:7]); ok {
		t.Fatal("short setup accepted")
	}
}

func FuzzParseConfig(f *testing.F) {
	f.Add(qemuECMConfig)
	f.Add(qemuECMConfig[:9])
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := ParseConfig(b)
		if err != nil {
			return
		}
		for _, in := range c.Interfaces {
			for _, a := range in.Alts {
				if int(a.declaredEP) != len(a.Endpoints) {
					t.Fatalf("accepted interface %d alt %d with endpoint count mismatch", a.Number, a.Alternate)
				}
				Descriptors(a.Extra)
			}
		}
	})
}
