package ffs

import (
	"fmt"

	"dongle/hw"
)

// EventType is usb_functionfs_event.type.
type EventType uint8

// Event types, in FunctionFS's numbering.
const (
	EventBind EventType = iota
	EventUnbind
	EventEnable
	EventDisable
	EventSetup
	EventSuspend
	EventResume
)

func (t EventType) String() string {
	names := [...]string{"BIND", "UNBIND", "ENABLE", "DISABLE", "SETUP", "SUSPEND", "RESUME"}
	if int(t) < len(names) {
		return names[t]
	}
	return fmt.Sprintf("EVENT(%d)", uint8(t))
}

// EventSize is sizeof(struct usb_functionfs_event): the 8-byte setup
// packet, the type, three bytes of padding.
const EventSize = 12

// Event is one event read from ep0. Setup is meaningful for EventSetup.
type Event struct {
	Type  EventType
	Setup hw.Setup
}

// ParseEvents decodes the events of one ep0 read. A length that is not a
// multiple of EventSize is an error naming the stray bytes.
func ParseEvents(b []byte) ([]Event, error) {
	if len(b)%EventSize != 0 {
		return nil, fmt.Errorf("ffs: ep0 read of %d bytes is not a whole number of %d-byte events", len(b), EventSize)
	}
	evs := make([]Event, 0, len(b)/EventSize)
	for off := 0; off < len(b); off += EventSize {
		e := b[off : off+EventSize]
		s, _ := hw.ParseSetup(e[:8])
		evs = append(evs, Event{Type: EventType(e[8]), Setup: s})
	}
	return evs, nil
}
