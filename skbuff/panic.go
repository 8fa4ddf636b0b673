package skbuff

import "fmt"

// PanicError is the value Buff and Queue methods panic with on programmer
// misuse (skb_over_panic, skb_under_panic, double free, ...). State is the
// buffer's state at the time, as String prints it.
type PanicError struct {
	Op     string // the method misused: "Put", "Free", "QueueTail", ...
	Reason string // what was wrong: "over panic", "double free", ...
	State  string // the buffer's state
}

func (e *PanicError) Error() string {
	return "skbuff: " + e.Op + ": " + e.Reason + ": " + e.State
}

// misuse panics with a *PanicError describing b.
func misuse(b *Buff, op, format string, args ...any) {
	state := "<nil buff>"
	if b != nil {
		state = b.String()
	}
	panic(&PanicError{Op: op, Reason: fmt.Sprintf(format, args...), State: state})
}
