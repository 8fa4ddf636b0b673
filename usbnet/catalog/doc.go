// Package catalog is the one table of what dongle drives: every usbnet
// minidriver, the names a person types for it, and the device models
// (hw/sim/...) that stand in for its chips, with what the conformance suite
// expects of each. Probe's driver list, trace decoding, `dongle list`,
// `dongle udev`, the suite's sim backends, target's sim: selectors,
// cmd/ffsmodel's -model choices and every help text read it; nothing else
// names a driver.
//
// It sits above usbnet and hw: it imports the minidrivers and the models,
// and neither imports it (a minidriver knows no model, a model no driver).
//
// Adding a driver is one Entry in drivers.go (see the README's "Adding a
// driver"); adding a model of a known chip is one Model in its entry.
//
// # Invariants
//
//   - The order of entries does not decide a match: usbnet.Match tries
//     every driver's VID:PID entries before any class entry, and no two
//     drivers claim the same VID:PID (TestUniqueIDs). It is the order the
//     suite runs the models in.
//   - Driver names, aliases and model selectors are unique (TestUnique*).
//   - Every model's Expect.Driver is its entry's driver, and Probe binds
//     that driver to it (TestModelsBind).
package catalog
