package soak

// trackSpan is how far back seqTrack remembers which sequence numbers
// arrived.
const trackSpan = 4096

// arrival is what seqTrack made of a sequence number.
type arrival int

const (
	inOrder   arrival = iota // after every number seen so far (gaps allowed)
	late                     // before the highest seen, and not seen yet: reordered
	duplicate                // seen already
	tooLate                  // more than trackSpan before the highest seen
)

// seqTrack follows one direction's sequence numbers: it tells a frame
// arriving late (reordered, as a resubmission after a timeout makes it)
// from one arriving twice. Numbers wrap (uint32).
//
// Invariant: for s in [next-trackSpan, next), bit s%trackSpan is set iff
// s arrived.
type seqTrack struct {
	seen bool
	next uint32 // one past the highest number seen
	bits [trackSpan / 64]uint64
}

func (t *seqTrack) set(s uint32)        { t.bits[s%trackSpan/64] |= 1 << (s % 64) }
func (t *seqTrack) clear(s uint32)      { t.bits[s%trackSpan/64] &^= 1 << (s % 64) }
func (t *seqTrack) isSet(s uint32) bool { return t.bits[s%trackSpan/64]&(1<<(s%64)) != 0 }

func (t *seqTrack) arrive(seq uint32) arrival {
	if !t.seen {
		t.seen, t.next = true, seq
	}
	if ahead := seq - t.next; int32(ahead) >= 0 {
		if ahead >= trackSpan {
			t.bits = [trackSpan / 64]uint64{}
		} else {
			for s := t.next; s != seq; s++ {
				t.clear(s)
			}
		}
		t.set(seq)
		t.next = seq + 1
		return inOrder
	}
	if t.next-seq > trackSpan {
		return tooLate
	}
	if t.isSet(seq) {
		return duplicate
	}
	t.set(seq)
	return late
}
