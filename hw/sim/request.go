package sim

import (
	"fmt"
	"sync"

	"dongle/hw"
)

// Request is one control request a model saw, and its answer.
type Request struct {
	Setup hw.Setup
	Data  []byte // OUT: what the host sent; IN: what the model answered
	Err   error  // non-nil: the model stalled the request, and why
}

// Stalled reports whether the model stalled the request.
func (r Request) Stalled() bool { return r.Err != nil }

func (r Request) String() string {
	s := fmt.Sprintf("%s % x", r.Setup, r.Data)
	if r.Err != nil {
		s += " STALL: " + r.Err.Error()
	}
	return s
}

// RequestLog is a model's record of the control requests it saw, oldest
// first; models embed it, so Requests, ClearRequests and Stalled are
// theirs. It has its own lock: Log may be called with or without the
// model's.
type RequestLog struct {
	mu   sync.Mutex
	reqs []Request
}

// Log keeps one request: data is the request's buffer, n the bytes an IN
// answer filled, err the stall (nil: answered). The data is copied.
func (l *RequestLog) Log(s hw.Setup, data []byte, n int, err error) {
	r := Request{Setup: s, Err: err}
	switch {
	case s.In():
		r.Data = append([]byte(nil), data[:max(0, min(n, len(data)))]...)
	default:
		r.Data = append([]byte(nil), data...)
	}
	l.mu.Lock()
	l.reqs = append(l.reqs, r)
	l.mu.Unlock()
}

// Requests returns a copy of the log.
func (l *RequestLog) Requests() []Request {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]Request(nil), l.reqs...)
}

// ClearRequests empties the log.
func (l *RequestLog) ClearRequests() {
	l.mu.Lock()
	l.reqs = nil
	l.mu.Unlock()
}

// Stalled returns the requests the model stalled.
func (l *RequestLog) Stalled() []Request {
	var out []Request
	for _, r := range l.Requests() {
		if r.Stalled() {
			out = append(out, r)
		}
	}
	return out
}
