// Package replay turns a usbmon capture back into an hw.Device, in two
// ways:
//
//   - Strict (NewStrict): for traces dongle's recorder wrote. The driver
//     must do exactly what it did when the trace was recorded, in the same
//     order; the first difference fails with a *DivergenceError naming the
//     record, what was expected and what came, and from then on the device
//     answers everything with that error. IN data and statuses come from
//     the trace. This is a regression test of the driver against itself.
//
//   - Model (NewModel): for traces captured under any driver (the Linux
//     kernel's, via usbmon or Wireshark; QEMU's pcap=). The trace becomes a
//     virtual device: control requests are answered by matching setup
//     packets against the recorded ones (descriptors included), bulk and
//     interrupt IN data is handed out in recorded order per endpoint, and
//     OUT data is checked against the recorded OUT transfers without
//     failing anything. This is how a driver meets a device nobody on the
//     team owns.
//
//     The faults the trace recorded (stalls, protocol errors, timeouts,
//     an unplug) are replayed too, each at its place in its endpoint's
//     sequence, unless ModelOptions.IgnoreErrors: Model's doc ("Recorded
//     errors") says what each completion status does. A control request
//     matched to a recorded one that failed fails the same way. Not replayed:
//     isochronous transfers and timing (a timeout fails at once; nothing
//     waits).
//
// Open picks strict for a trace carrying the recorder's mark (see
// hw/record: every URB id is record.IDTag|n) and model replay otherwise.
//
// Both implement the whole hw.Device contract (claims, alternate settings,
// several transfers in flight, Wait in submission order, Cancel, ErrBusy
// on Close) with the configuration descriptors found in the trace.
package replay
