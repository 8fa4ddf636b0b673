// Package progress is the one progress line of dongle's long commands
// (soak, decode, replay, record, lab setup, lab bench): a line on a
// terminal that rewrites itself with \r at most a few times a second, and
// prints nothing at all when its writer is not a terminal (a pipe, a file,
// CI's log), so that logs hold only the commands' results.
package progress

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"
)

// Every is the least time between two redraws.
const Every = 250 * time.Millisecond

// Line is a progress line. The zero value and nil print nothing. It is
// safe for concurrent use.
type Line struct {
	mu    sync.Mutex
	w     io.Writer
	on    bool
	now   func() time.Time
	last  time.Time
	width int // of the longest text drawn, to blank what a shorter one leaves
	drawn bool
}

// New returns a line on w, shown only when w is a terminal.
func New(w io.Writer) *Line { return &Line{w: w, on: IsTerminal(w), now: time.Now} }

// Forced returns a line on w shown whatever w is (a --progress=always flag,
// tests), or never when on is false.
func Forced(w io.Writer, on bool) *Line { return &Line{w: w, on: on, now: time.Now} }

// On reports whether the line prints anything.
func (l *Line) On() bool { return l != nil && l.on }

// Due reports whether a redraw would print now: callers with a costly text
// to build ask first.
func (l *Line) Due() bool {
	if !l.On() {
		return false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.now().Sub(l.last) >= Every
}

// Printf redraws the line with the formatted text, unless the last redraw
// was less than Every ago.
func (l *Line) Printf(format string, args ...any) {
	if !l.On() {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	if l.drawn && now.Sub(l.last) < Every {
		return
	}
	l.drawLocked(fmt.Sprintf(format, args...))
	l.last = now
}

func (l *Line) drawLocked(s string) {
	s = strings.ReplaceAll(s, "\n", " ")
	pad := ""
	if n := len(s); n < l.width {
		pad = strings.Repeat(" ", l.width-n)
	} else {
		l.width = n
	}
	fmt.Fprintf(l.w, "\r%s%s", s, pad)
	l.drawn = true
}

// Done ends the line: the final text is drawn whatever the time since the
// last redraw (when the line is on), then a newline, so that what the
// command prints next starts on a line of its own. Call it once.
func (l *Line) Done(format string, args ...any) {
	if !l.On() {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if format != "" {
		l.drawLocked(fmt.Sprintf(format, args...))
	}
	if l.drawn {
		fmt.Fprintln(l.w)
	}
	l.drawn = false
}

// Clear blanks the line (before the command prints something else on the
// same terminal) without ending it.
func (l *Line) Clear() {
	if !l.On() {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.drawn {
		fmt.Fprintf(l.w, "\r%s\r", strings.Repeat(" ", l.width))
		l.drawn = false
	}
}

// IsTerminal reports whether w is a terminal (an *os.File for which the
// terminal ioctl succeeds).
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && f != nil && isTerminal(f.Fd())
}

// Writer returns w wrapped so that each write first blanks the line: a
// command's other output (log lines, a guest's console) then starts on a
// clean line, and the next redraw puts the progress line back under it.
func (l *Line) Writer(w io.Writer) io.Writer {
	if !l.On() {
		return w
	}
	return clearing{l, w}
}

type clearing struct {
	l *Line
	w io.Writer
}

func (c clearing) Write(p []byte) (int, error) {
	c.l.mu.Lock()
	defer c.l.mu.Unlock()
	if c.l.drawn {
		fmt.Fprintf(c.l.w, "\r%s\r", strings.Repeat(" ", c.l.width))
		c.l.drawn = false
		c.l.last = time.Time{} // redraw at the next chance
	}
	return c.w.Write(p)
}

// Ticker redraws the line with text() every Every until the returned stop
// is called (which waits for the last redraw): for a command that waits
// on something that reports no progress of its own. Off a terminal it
// starts nothing.
func (l *Line) Ticker(text func() string) (stop func()) {
	if !l.On() {
		return func() {}
	}
	done, quit := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(Every)
		defer t.Stop()
		for {
			l.Printf("%s", text())
			select {
			case <-quit:
				return
			case <-t.C:
			}
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() { close(quit) })
		<-done
	}
}
