package progress

import (
	"bytes"
	"os"
	"strings"
	"sync"
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

func TestWriterClearsTheLine(t *testing.T) {
	var b bytes.Buffer
	l := Forced(&b, true)
	l.Printf("12345")
	w := l.Writer(&b)
	w.Write([]byte("log\n"))
	if got := b.String(); got != "\r12345\r     \rlog\n" {
		t.Fatalf("%q", got)
	}
	// The next Printf redraws at once, though Every has not passed.
	l.Printf("ab")
	if got := b.String(); !strings.HasSuffix(got, "log\n\rab   ") {
		t.Fatalf("redraw after a write: %q", got)
	}
	var off bytes.Buffer
	if Forced(&off, false).Writer(&off) != &off {
		t.Error("a line that is off wraps its writer")
	}
}

func TestTicker(t *testing.T) {
	var b syncBuf
	l := Forced(&b, true)
	n := 0
	stop := l.Ticker(func() string { n++; return "tick" })
	time.Sleep(Every + Every/2)
	stop()
	stop()
	if got := b.String(); !strings.HasPrefix(got, "\rtick") || n < 2 {
		t.Fatalf("after 1.5 Every: %q, %d texts", got, n)
	}
	nl := New(&b)
	nl.Ticker(func() string { t.Error("a line off a terminal ticked"); return "" })()
}

// syncBuf is a bytes.Buffer safe for the ticker's goroutine.
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) { s.mu.Lock(); defer s.mu.Unlock(); return s.b.Write(p) }
func (s *syncBuf) String() string              { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }
