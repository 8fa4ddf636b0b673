package usbmon

import "dongle/hw"

// URB is one transfer as a capture saw it: its submission and its
// completion ('C', or 'E' for a failed submission). Either may be missing:
// a capture can start after a submission or end before a completion (Linux
// drivers keep RX URBs queued the whole time).
type URB struct {
	Submit        *Record // nil if the capture began after the submission
	Complete      *Record // nil if still in flight when the capture ended
	SubmitIndex   int     // index of Submit in the record slice, -1 if none
	CompleteIndex int     // index of Complete in the record slice, -1 if none
}

// first is the record that identifies the URB.
func (u *URB) first() *Record {
	if u.Submit != nil {
		return u.Submit
	}
	return u.Complete
}

// Endpoint is the endpoint address (bit 7 IN; for control, the direction).
func (u *URB) Endpoint() uint8 { return u.first().Endpoint }

// XferType is the transfer type.
func (u *URB) XferType() XferType { return u.first().XferType }

// Setup is the setup packet of a control URB whose submission was captured.
func (u *URB) Setup() (hw.Setup, bool) {
	if u.Submit == nil {
		return hw.Setup{}, false
	}
	return u.Submit.SetupPacket()
}

// Status is the completion status, 0 if none was captured.
func (u *URB) Status() int32 {
	if u.Complete == nil {
		return 0
	}
	return u.Complete.Status
}

// Data is the payload: the OUT data of the submission, or the IN data of
// the completion. Truncated tells whether it was cut.
func (u *URB) Data() []byte {
	if r := u.dataRecord(); r != nil {
		return r.Data
	}
	return nil
}

// Length is the number of payload bytes that crossed the bus (OUT: as
// submitted; IN: as completed), which Data may fall short of.
func (u *URB) Length() int {
	if r := u.dataRecord(); r != nil {
		return int(r.Length)
	}
	return 0
}

// Truncated reports whether the capture cut the payload.
func (u *URB) Truncated() bool {
	r := u.dataRecord()
	return r != nil && r.Truncated()
}

func (u *URB) dataRecord() *Record {
	if u.first().In() {
		if u.Complete != nil && u.Complete.Type == Complete {
			return u.Complete
		}
		return nil
	}
	return u.Submit
}

type urbKey struct {
	id       uint64
	bus      uint16
	dev, ep  uint8
	xferType XferType
}

// Pair matches submissions with completions and returns the URBs in the
// order their first record appears.
//
// A completion belongs to the oldest pending submission with the same URB
// id, bus, device, endpoint and transfer type. Where ids are unique (the
// kernel's URB addresses, dongle's counters) that is matching by id, even
// with many URBs in flight on one endpoint; where they are all 0 (QEMU's
// control URBs) it falls back to endpoint order, which is right because
// control transfers on one endpoint complete in order.
func Pair(recs []Record) []URB {
	urbs := make([]URB, 0, len(recs)/2+1)
	pending := make(map[urbKey][]int) // indexes into urbs, oldest first
	for i := range recs {
		r := &recs[i]
		k := urbKey{r.ID, r.Bus, r.Device, r.Endpoint, r.XferType}
		switch r.Type {
		case Submit:
			pending[k] = append(pending[k], len(urbs))
			urbs = append(urbs, URB{Submit: r, SubmitIndex: i, CompleteIndex: -1})
		default:
			if q := pending[k]; len(q) > 0 {
				u := &urbs[q[0]]
				u.Complete, u.CompleteIndex = r, i
				if len(q) == 1 {
					delete(pending, k)
				} else {
					pending[k] = q[1:]
				}
				continue
			}
			urbs = append(urbs, URB{Complete: r, SubmitIndex: -1, CompleteIndex: i})
		}
	}
	return urbs
}
