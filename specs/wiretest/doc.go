// Package wiretest runs the conformance suite's real-adapter path without
// an adapter: device models whose wire is one end of a veth pair
// (backend sim:MODEL@IFACE), with the AF_PACKET peer (--peer=iface:NAME)
// on the other end, as a reference NIC would be cabled to a real adapter.
// It needs root (CAP_NET_ADMIN for the veth, CAP_NET_RAW for the sockets)
// and skips, saying so, without it. CI runs as root, so `go test ./...`
// exercises it. The tests run in a network namespace of their own
// (vethtest.Main), so a killed run leaves no interface behind. The iface
// peer's own tests are here too, for the same reason.
package wiretest
