// Package rules is dongle's catalogue of USB network adapter failure modes
// (issue 21): each a usbnet.Rule with a fixed name that watches a trace's
// events as usbnet/decode streams them and, when it sees its failure,
// says so with the records it saw it in, the likely causes and what to try.
//
// The generic rules are here; a chip's own (checksum-fail for r8152 and
// AX88179, ntb-oversize for CDC NCM) live in its minidriver's package,
// behind the optional usbnet.RuleSource, and ForDriver adds them for the
// driver a trace is decoded with. Catalogue lists every rule of a set of
// drivers (the catalog's), by name.
//
// # Bounded and allocation-free
//
// A rule sees every record of a capture that may be gigabytes long: it
// keeps counters, a window of a few times, and a fixed number of cited
// records (citeList), never the trace; Observe allocates nothing (text
// is made once, in Verdict). Engine dispatches each event to every rule
// and to the Timeline, which keeps at most MaxBuckets intervals by
// doubling its interval as the trace grows.
//
// # No false alarms
//
// Every threshold is chosen so that what a healthy adapter does is
// silent: usbnet's unlinking of every URB at ifdown (-ENOENT/-ECONNRESET
// on URBs submitted milliseconds before) is not a TX timeout; a link down
// before the first link up is bring-up, not a flap; a stalled control
// request is a device saying "not supported", not a storm (a stalled
// vendor request is still register-access's: a chip's own registers do
// not refuse the driver that knows them); CDC ECM moves
// one frame per transfer by design (only a driver with
// usbnet.FlagMultiPacket can aggregate poorly). The tests run every rule
// over every healthy fixture and expect silence.
package rules
