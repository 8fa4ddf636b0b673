package progress

import (
	"bytes"
	"os"
	"strings"
	"testing"
	"time"
)

func TestNotATerminalPrintsNothing(t *testing.T) {
	var b bytes.Buffer
	l := New(&b)
	l.Printf("x %d", 1)
	l.Done("end")
	l.Clear()
	if b.Len() != 0 || l.On() {
		t.Fatalf("a buffer is no terminal, yet the line printed %q (on %v)", b.String(), l.On())
	}
	f, err := os.CreateTemp(t.TempDir(), "p")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if IsTerminal(f) {
		t.Fatal("a regular file is reported a terminal")
	}
	var nl *Line
	nl.Printf("nil line %d", 1) // must not panic
	if nl.On() || nl.Due() {
		t.Fatal("a nil line is on")
	}
}

func TestRateLimitAndRewrite(t *testing.T) {
	var b bytes.Buffer
	now := time.Unix(0, 0)
	l := Forced(&b, true)
	l.now = func() time.Time { return now }
	l.Printf("first long text")
	l.Printf("dropped")
	if got := b.String(); got != "\rfirst long text" {
		t.Fatalf("after two quick redraws: %q", got)
	}
	if l.Due() {
		t.Fatal("due right after a redraw")
	}
	now = now.Add(Every)
	if !l.Due() {
		t.Fatal("not due after Every")
	}
	l.Printf("short")
	// The shorter text blanks the rest of the longer one.
	if got := b.String(); !strings.HasSuffix(got, "\rshort          ") {
		t.Fatalf("second redraw: %q", got)
	}
	l.Done("final")
	if got := b.String(); !strings.HasSuffix(got, "\rfinal          \n") {
		t.Fatalf("done: %q", got)
	}
	b.Reset()
	l.Done("")
	if b.Len() != 0 {
		t.Fatalf("a second Done with nothing drawn printed %q", b.String())
	}
}

func TestClear(t *testing.T) {
	var b bytes.Buffer
	l := Forced(&b, true)
	l.Printf("abc")
	l.Clear()
	if got := b.String(); got != "\rabc\r   \r" {
		t.Fatalf("clear: %q", got)
	}
	off := Forced(&b, false)
	off.Printf("x")
	if got := b.String(); got != "\rabc\r   \r" {
		t.Fatalf("a line forced off printed: %q", got)
	}
}
