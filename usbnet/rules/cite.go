package rules

import (
	"time"

	"dongle/usbnet"
)

// MaxCited is how many records a rule keeps to cite.
const MaxCited = 16

// cite is one record kept as evidence, with what a rule needs to say
// about it later (text is made in Verdict, never per event).
type cite struct {
	rec    int
	t      time.Time
	status int32
	n      int // rule-specific: a length, a gap in µs, an endpoint
	what   uint8
}

// citeList keeps the first MaxCited records cited, and counts all.
type citeList struct {
	c     [MaxCited]cite
	n     int
	total int
}

func (l *citeList) add(c cite) {
	l.total++
	if l.n < MaxCited {
		l.c[l.n] = c
		l.n++
	}
}

func (l *citeList) list() []cite { return l.c[:l.n] }

// evidence adds the kept records to f, each described by say.
func (l *citeList) evidence(f *usbnet.Finding, say func(c cite) string) {
	for _, c := range l.list() {
		f.Cite(c.rec, c.t, say(c))
	}
}
