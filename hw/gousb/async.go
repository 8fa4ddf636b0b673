package gousb

import "fmt"

// asyncPath is the default transfer path: Workers persistent asynchronous
// transfers (xfers) per endpoint, started by Submit itself, completed by
// the OS and reaped by whoever waits for the endpoint:
//
//	Submit ─► startLocked: ring[next] ─► free xfer k ─► submit(k)       (e.mu held:
//	                                                                     bus order ==
//	OS completes k: kept by the xfers (wake, once per batch, if armed)   submission order)
//	WaitBatch/Submit ─► reapLocked ─► completeLocked(ring index of k)
//	                    ─► k free ─► startLocked (the queued ones)
//
// The OS may report completions in any order (cancellation in particular);
// carried maps each busy xfer back to its ring index and Wait restores
// submission order. There is no goroutine of the endpoint's own, no
// goroutine hand-off on submit and no per-transfer timeout (libusb would
// arm a timer and read the clock for every one): Cancel cancels the busy
// xfers instead. Transfers queued behind Workers busy ones start when a
// reap frees an xfer, not at the completion itself.
type asyncPath struct {
	e       *Endpoint
	x       xfers
	carried []uint         // ring index of the hw.Transfer xfer k carries
	busy    []bool         // xfer k is submitted and not yet completed
	free    []int          // idle xfers (a stack)
	done    func(xferDone) // completeLocked, made once: reap allocates nothing
}

// newAsync makes e's asynchronous path for n xfers; the caller sets x
// (made with wake) before the first Submit.
func (e *Endpoint) newAsync(n int) *asyncPath {
	a := &asyncPath{e: e, carried: make([]uint, n), busy: make([]bool, n), free: make([]int, 0, n)}
	for k := n - 1; k >= 0; k-- {
		a.free = append(a.free, k)
	}
	a.done = a.completeLocked
	e.async = a
	return a
}

// startLocked hands queued transfers to idle xfers, oldest first. A failed
// submit completes its transfer with the error. e.mu held.
func (a *asyncPath) startLocked() {
	e := a.e
	for e.next != e.tail && len(a.free) > 0 {
		k := a.free[len(a.free)-1]
		i := e.next
		e.next++
		if err := a.x.submit(k, e.ring[i&uint(len(e.ring)-1)].t.Buf); err != nil {
			if e.completeLocked(i, 0, err) {
				e.wake() // no completion of the OS's reports it
			}
			continue
		}
		a.free = a.free[:len(a.free)-1]
		a.carried[k], a.busy[k] = i, true
	}
}

func (a *asyncPath) cancelLocked() {
	for k, b := range a.busy {
		if b {
			a.x.cancel(k)
		}
	}
}

// wake is xfers' wake: a completion came after the endpoint armed its
// xfers, so whoever waits (Wait's caller, Notify's fn) is told. It runs on
// the backend's event thread with libusb's locks held, so of the endpoint's
// users it calls only Notify's fn (under e.mu, which must not block nor
// call back); the completion itself is reaped by whoever looks next.
func (a *asyncPath) wake() {
	e := a.e
	e.mu.Lock()
	e.wake()
	e.mu.Unlock()
}

// reapLocked completes what the xfers kept. e.mu held.
func (a *asyncPath) reapLocked() { a.x.reap(a.done) }

// completeLocked is reap's done: xfer d.i finished. It records the outcome
// and gives the xfer to the next queued transfer, if any. Its completion
// calls no Notify fn: the xfers called wake for the batch it is in, unless
// the endpoint had not armed them, that is, unless its caller had not yet
// taken everything before (a queued transfer whose submit fails here is
// another matter: startLocked calls fn for it). e.mu held.
func (a *asyncPath) completeLocked(d xferDone) {
	e := a.e
	if !a.busy[d.i] {
		panic(fmt.Sprintf("gousb: %s: completion of idle transfer %d (n %d, err %v): the backend reported it twice", e.name, d.i, d.n, d.err))
	}
	a.busy[d.i] = false
	a.free = append(a.free, d.i)
	e.completeLocked(a.carried[d.i], d.n, d.err)
	a.startLocked()
}
