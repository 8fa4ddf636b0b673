package specs

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
)

// The wire-side peer of a real adapter: what stands on the far side of its
// cable, chosen by --peer=SPEC or DONGLE_PEER=SPEC (the flag wins). SPEC is
// "scheme" or "scheme:arg":
//
//	echo         a reflector sends every frame back (CapEcho only: the specs
//	             that must tell the two directions apart still skip)
//	iface:NAME   a host interface cabled to the adapter, through AF_PACKET
//	             (CapPeer, and CapLinkControl through NAME's own link)
//
// Other files register more schemes (RegisterPeer) from their init
// functions; a scheme's Open runs once per spec, from the backend's Open, and
// the peer it returns is closed with the spec's target.
//
// Every peer keeps only the frames of this run (IsTestFrame: TestEtherType
// and this run's tag) and counts the rest as ignored, so that other stations
// on a real wire (IPv6 ND, LLDP, STP, another dongle) cannot be mistaken for
// what the device sent.

// PeerConn is an opened wire-side peer: the Peer the specs drive, with the
// count of the frames it ignored and a Close.
type PeerConn interface {
	Peer
	// Ignored is how many frames the peer saw on the wire since it was
	// opened that were not this run's test frames (Reset does not clear it).
	Ignored() uint64
	// Close releases what Open made. No goroutine the peer started
	// survives it; a second Close returns an error and does nothing else.
	Close() error
}

// PeerLink is the optional capability of a PeerConn that can take the link
// down and up from the far side (the device must see its carrier go).
// A scheme whose peers have it says so with PeerScheme.Link.
type PeerLink interface {
	// SetLink takes the far side's link down (false) or up (true).
	SetLink(up bool) error
}

// PeerScheme is one kind of wire-side peer.
type PeerScheme struct {
	// Name is the scheme: "iface" for --peer=iface:NAME.
	Name string
	// Usage is one line for the flag's help: "iface:NAME  a host interface
	// cabled to the adapter (AF_PACKET; CAP_NET_RAW)".
	Usage string
	// Echo: the far side reflects every frame (the backend gains CapEcho).
	Echo bool
	// Link: the peers Open returns implement PeerLink (the backend gains
	// CapLinkControl without DONGLE_LINK_CMD).
	Link bool
	// Open makes a peer for one spec from the arg after "scheme:" (""
	// without one). nil for a scheme with no controllable far side (echo):
	// the backend then has no CapPeer. Errors wrap ErrPeer.
	Open func(ctx context.Context, arg string) (PeerConn, error)
}

var (
	// ErrPeer is the root of every peer error: errors.Is(err, ErrPeer).
	ErrPeer = errors.New("peer")
	// ErrUnknownPeer: the SPEC's scheme is not registered.
	ErrUnknownPeer = fmt.Errorf("%w: unknown scheme", ErrPeer)
	// ErrPeerArg: the SPEC's arg is missing or malformed.
	ErrPeerArg = fmt.Errorf("%w: bad argument", ErrPeer)
	// ErrPeerPermission: the peer needs a privilege this process lacks
	// (AF_PACKET needs CAP_NET_RAW, link control CAP_NET_ADMIN).
	ErrPeerPermission = fmt.Errorf("%w: permission denied", ErrPeer)
	// ErrPeerNotFound: the interface (or endpoint) the SPEC names does not exist.
	ErrPeerNotFound = fmt.Errorf("%w: not found", ErrPeer)
	// ErrPeerDown: the peer's interface is down, so the wire carries nothing.
	ErrPeerDown = fmt.Errorf("%w: interface down", ErrPeer)
	// ErrPeerClosed: the peer was used after Close.
	ErrPeerClosed = fmt.Errorf("%w: closed", ErrPeer)
)

var peerFlag = flag.String("peer", "", "the far side of a real adapter's wire (env DONGLE_PEER): "+
	"echo (a reflector), iface:NAME (a host interface cabled to the adapter; AF_PACKET, needs CAP_NET_RAW or root)")

var (
	peerMu      sync.Mutex
	peerSchemes = map[string]PeerScheme{}
)

// RegisterPeer adds a scheme; call it from an init function. A scheme
// without a name, registered twice, or with neither Open nor Echo is a
// programming error and panics.
func RegisterPeer(s PeerScheme) {
	peerMu.Lock()
	defer peerMu.Unlock()
	switch {
	case s.Name == "" || strings.Contains(s.Name, ":"):
		panic(fmt.Sprintf("specs.RegisterPeer: bad scheme name %q", s.Name))
	case s.Open == nil && !s.Echo:
		panic(fmt.Sprintf("specs.RegisterPeer(%q): neither Open nor Echo", s.Name))
	case s.Link && s.Open == nil:
		panic(fmt.Sprintf("specs.RegisterPeer(%q): Link without Open", s.Name))
	}
	if _, dup := peerSchemes[s.Name]; dup {
		panic(fmt.Sprintf("specs.RegisterPeer(%q): registered twice", s.Name))
	}
	peerSchemes[s.Name] = s
}

// PeerSchemes lists the registered schemes by name.
func PeerSchemes() []PeerScheme {
	peerMu.Lock()
	defer peerMu.Unlock()
	out := make([]PeerScheme, 0, len(peerSchemes))
	for _, s := range peerSchemes {
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// peerChoice is Options.Peer, set by Run; it wins over --peer.
var peerChoice string

// PeerSelection is the SPEC the user chose: Options.Peer, else --peer,
// else DONGLE_PEER, else "".
func PeerSelection() string {
	if peerChoice != "" {
		return peerChoice
	}
	if *peerFlag != "" {
		return *peerFlag
	}
	return os.Getenv("DONGLE_PEER")
}

// ParsePeer splits SPEC into its registered scheme and its arg.
func ParsePeer(spec string) (PeerScheme, string, error) {
	name, arg, _ := strings.Cut(strings.TrimSpace(spec), ":")
	peerMu.Lock()
	s, ok := peerSchemes[name]
	peerMu.Unlock()
	if !ok {
		var known []string
		for _, k := range PeerSchemes() {
			known = append(known, k.Usage)
		}
		return PeerScheme{}, "", fmt.Errorf("--peer %q: %w %q (known: %s)", spec, ErrUnknownPeer, name, strings.Join(known, "; "))
	}
	return s, arg, nil
}

func init() {
	RegisterPeer(PeerScheme{Name: "echo", Usage: "echo  a reflector sends every frame back", Echo: true})
}
