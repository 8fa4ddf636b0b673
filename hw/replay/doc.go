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
//     The faults the trace recorded are replayed too (unless
//     ModelOptions.IgnoreErrors), each at its place in its endpoint's
//     sequence: a bulk or interrupt stall (-EPIPE) fails the host's
//     transfer with hw.ErrStall and halts the endpoint until ClearHalt;
//     protocol errors and timeouts (-EPROTO, -EILSEQ, -ETIME, -ETIMEDOUT,
//     -EOVERFLOW, ...) fail one transfer with the hw sentinel
//     usbmon.ErrnoOf gives; an unplug (-ENODEV/-ESHUTDOWN on everything
//     from some record on) makes the device gone (hw.ErrNoDevice) once
//     everything recorded before it has been replayed. Not replayed:
//     the host's own unlinks (-ENOENT, -ECONNRESET: not device faults),
//     malformed statuses and error completions without their submission
//     (skipped and logged with the record number), isochronous transfers,
//     and timing (a timeout fails at once; nothing waits). Recorded
//     control failures were always replayed: a request matched to a
//     failed recorded one fails the same way.
//
// Open picks strict for a trace carrying the recorder's mark (see
// hw/record: every URB id is record.IDTag|n) and model replay otherwise.
//
// Both implement the whole hw.Device contract (claims, alternate settings,
// several transfers in flight, Wait in submission order, Cancel, ErrBusy
// on Close) with the configuration descriptors found in the trace.
package replay
