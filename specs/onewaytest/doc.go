// Package onewaytest shows what a wire-side peer catches that an echo
// cannot: a device that mangles frames in one direction only. It runs the
// suite's size-edge specs against a CDC ECM model behind a deliberately
// broken cable, which rewrites the source address of the frames going one
// way, with either a peer or a loopback plug on the far side, and checks
// which specs fail: with the peer, exactly the direction that was mangled;
// with the echo, the round trip, with the same failure whichever direction
// did it.
package onewaytest
