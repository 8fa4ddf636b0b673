// Package ifwire plugs one end of a sim.Wire into a host network interface
// through an AF_PACKET socket, so that a device model's wire is a real
// one: what the model puts on its wire leaves through the interface, what
// arrives on the interface reaches the model, and the interface's carrier
// (IFF_LOWER_UP) is the model's link.
//
//	model ──End A══sim.Wire══End B── Bridge ══ vethB ~~~~ vethA ── peer (specs: --peer=iface:vethA)
//
// With a veth pair, the far end of the pair is then an interface like a
// reference NIC cabled to a real adapter, and the suite's AF_PACKET peer
// runs on it unchanged, without an adapter: that is how CI exercises the
// real-adapter path. Taking the far end down drops vethB's carrier, and
// the bridge takes the model's link down with it.
//
// vethtest.Veth makes such a pair for a test (root only) and removes it
// afterwards.
//
// The package knows no driver: it moves frames and carrier, nothing else.
package ifwire
