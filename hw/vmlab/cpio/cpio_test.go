package cpio

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

type member struct {
	name, target string
	mode         uint32
	data         []byte
}

// sample covers every padding residue of name and data length.
func sample() []member {
	var ms []member
	ms = append(ms, member{name: "bin", mode: TypeDir | 0o755})
	for n := 0; n < 9; n++ {
		data := bytes.Repeat([]byte{byte('a' + n)}, n*3+n%4)
		ms = append(ms, member{name: "bin/" + strings.Repeat("x", n+1), mode: TypeReg | 0o644, data: data})
	}
	ms = append(ms,
		member{name: "bin/sh", mode: TypeLink | 0o777, target: "busybox"},
		member{name: "init", mode: TypeReg | 0o755, data: []byte("#!/bin/sh\necho hi\n")},
		member{name: "empty", mode: TypeReg | 0o600},
	)
	return ms
}

func build(t testing.TB, ms []member) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := NewWriter(&buf)
	for _, m := range ms {
		var err error
		switch m.mode & TypeMask {
		case TypeDir:
			err = w.Dir(m.name, m.mode)
		case TypeLink:
			err = w.Symlink(m.name, m.target)
		default:
			err = w.File(m.name, m.mode, m.data)
		}
		if err != nil {
			t.Fatalf("add %s: %v", m.name, err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestRoundTrip(t *testing.T) {
	want := sample()
	arch := build(t, want)
	if len(arch)%4 != 0 {
		t.Errorf("archive length %d is not a multiple of 4", len(arch))
	}
	r := NewReader(bytes.NewReader(arch))
	inos := map[uint32]bool{}
	for i := 0; ; i++ {
		h, err := r.Next()
		if err == io.EOF {
			if i != len(want) {
				t.Fatalf("read %d members, wrote %d", i, len(want))
			}
			break
		}
		if err != nil {
			t.Fatalf("member %d: %v", i, err)
		}
		m := want[i]
		if h.Name != m.name || h.Mode != m.mode {
			t.Errorf("member %d: got %q mode %#o, want %q mode %#o", i, h.Name, h.Mode, m.name, m.mode)
		}
		if inos[h.Ino] {
			t.Errorf("member %q reuses inode %d", h.Name, h.Ino)
		}
		inos[h.Ino] = true
		if m.mode&TypeMask == TypeLink {
			if h.Linkname != m.target {
				t.Errorf("%s: link target %q, want %q", h.Name, h.Linkname, m.target)
			}
			continue
		}
		data, err := io.ReadAll(r)
		if err != nil {
			t.Fatalf("%s: %v", h.Name, err)
		}
		if !bytes.Equal(data, m.data) {
			t.Errorf("%s: data %q, want %q", h.Name, data, m.data)
		}
	}
	if _, err := r.Next(); err != io.EOF {
		t.Errorf("Next after trailer: %v, want io.EOF", err)
	}
}

// TestBusyboxReadsArchive checks the format against an independent reader:
// busybox cpio lists and extracts what Writer produced.
func TestBusyboxReadsArchive(t *testing.T) {
	bb, err := exec.LookPath("busybox")
	if err != nil {
		t.Skip("busybox not installed (apt-get install busybox-static)")
	}
	want := sample()
	arch := build(t, want)
	list := exec.Command(bb, "cpio", "-t")
	list.Stdin = bytes.NewReader(arch)
	out, err := list.Output()
	if err != nil {
		t.Fatalf("busybox cpio -t: %v", err)
	}
	got := strings.Fields(string(out))
	var names []string
	for _, m := range want {
		names = append(names, m.name)
	}
	sort.Strings(got)
	sort.Strings(names)
	if strings.Join(got, " ") != strings.Join(names, " ") {
		t.Fatalf("busybox lists %v, want %v", got, names)
	}

	dir := t.TempDir()
	ext := exec.Command(bb, "cpio", "-i", "-d")
	ext.Dir = dir
	ext.Stdin = bytes.NewReader(arch)
	if out, err := ext.CombinedOutput(); err != nil {
		t.Fatalf("busybox cpio -i: %v: %s", err, out)
	}
	for _, m := range want {
		p := filepath.Join(dir, m.name)
		switch m.mode & TypeMask {
		case TypeLink:
			if tg, err := os.Readlink(p); err != nil || tg != m.target {
				t.Errorf("%s: readlink %q %v, want %q", m.name, tg, err, m.target)
			}
		case TypeReg:
			data, err := os.ReadFile(p)
			if err != nil || !bytes.Equal(data, m.data) {
				t.Errorf("%s: extracted %q %v, want %q", m.name, data, err, m.data)
			}
			if st, _ := os.Stat(p); st != nil && uint32(st.Mode().Perm()) != m.mode&0o777 {
				t.Errorf("%s: perm %v, want %#o", m.name, st.Mode().Perm(), m.mode&0o777)
			}
		}
	}
}

func TestWriterErrors(t *testing.T) {
	w := NewWriter(io.Discard)
	if err := w.WriteHeader(&Header{Name: "f", Mode: TypeReg | 0o644, Size: 2}); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte("abc")); !errors.Is(err, ErrWriteTooLong) {
		t.Errorf("overlong write: %v, want ErrWriteTooLong", err)
	}
	if err := w.Dir("d", 0o755); err == nil || !strings.Contains(err.Error(), `"f"`) {
		t.Errorf("header after incomplete member: %v, want an error naming f", err)
	}

	for _, h := range []Header{
		{Name: "", Mode: TypeReg},
		{Name: "/", Mode: TypeReg},
		{Name: "TRAILER!!!", Mode: TypeReg},
		{Name: "a\x00b", Mode: TypeReg},
		{Name: "nomode", Mode: 0o644},
		{Name: "neg", Mode: TypeReg, Size: -1},
	} {
		err := NewWriter(io.Discard).WriteHeader(&h)
		if !errors.Is(err, ErrHeader) {
			t.Errorf("WriteHeader(%+v): %v, want ErrHeader", h, err)
		}
	}
	if err := NewWriter(io.Discard).Symlink("l", ""); !errors.Is(err, ErrHeader) {
		t.Errorf("empty symlink target: %v", err)
	}
}

func TestReaderMalformed(t *testing.T) {
	good := build(t, sample())
	cases := map[string]struct {
		data []byte
		want error
	}{
		"empty":         {nil, ErrTruncated},
		"cut in header": {good[:50], ErrTruncated},
		"cut in data":   {good[:len(good)-200], ErrTruncated},
		"no trailer":    {good[:len(good)-124], ErrTruncated},
		"bad magic":     {append([]byte("070707"), good[6:]...), ErrHeader},
		"bad hex":       {append([]byte("070701zzzzzzzz"), good[14:]...), ErrHeader},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			r := NewReader(bytes.NewReader(c.data))
			var err error
			for err == nil {
				if _, err = r.Next(); err == nil {
					_, err = io.Copy(io.Discard, r)
				}
			}
			if !errors.Is(err, c.want) {
				t.Fatalf("got %v, want %v", err, c.want)
			}
		})
	}
}

func FuzzReader(f *testing.F) {
	f.Add(build(f, sample()))
	f.Add([]byte("070701"))
	// Invariants: every error is io.EOF or wraps ErrHeader/ErrTruncated (the
	// reader's only input is a bytes.Reader, so there is no other cause); a
	// member read without error yields exactly Size bytes (a symlink's Size
	// bytes are its Linkname, with no data after); and the reader never
	// hands out more bytes than the archive holds.
	typed := func(t *testing.T, what string, err error) {
		if err != io.EOF && !errors.Is(err, ErrHeader) && !errors.Is(err, ErrTruncated) {
			t.Fatalf("%s: untyped error %v", what, err)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r := NewReader(bytes.NewReader(data))
		var total int64
		for i := 0; i < 1000; i++ {
			h, err := r.Next()
			if err != nil {
				typed(t, "Next", err)
				return
			}
			n, err := io.Copy(io.Discard, r)
			total += n + int64(len(h.Linkname))
			if total > int64(len(data)) {
				t.Fatalf("%d bytes of member data from a %d-byte archive", total, len(data))
			}
			if err != nil {
				typed(t, "Read", err)
				if !errors.Is(err, ErrTruncated) {
					t.Fatalf("data of %q: %v, want ErrTruncated", h.Name, err)
				}
				return
			}
			want := h.Size
			if h.Mode&TypeMask == TypeLink {
				want = 0
				if int64(len(h.Linkname)) != h.Size {
					t.Fatalf("symlink %q: target %d bytes, Size %d", h.Name, len(h.Linkname), h.Size)
				}
			}
			if n != want {
				t.Fatalf("member %q: read %d data bytes, want %d", h.Name, n, want)
			}
		}
	})
}
