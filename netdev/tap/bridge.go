package tap

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"dongle/netdev"
	"dongle/skbuff"
)

var (
	// ErrName: the TAP's name is not a valid interface name.
	ErrName = errors.New("bad interface name")
	// ErrAddress: the device has no Ethernet address to give the TAP.
	ErrAddress = errors.New("bad hardware address")
	// ErrNameTaken: an interface of that name exists (a TAP is never
	// attached to one that is someone else's, persistent or not).
	ErrNameTaken = errors.New("an interface of that name exists")
)

// Options say how the TAP is made.
type Options struct {
	// Name is the interface's name; one %d is replaced by the kernel with
	// the first free number. "dongle%d" when empty.
	Name string
	// Up brings the interface up (IFF_UP) once it has its address.
	Up bool
	// NoIPv6 keeps the host's IPv6 off the interface (before it comes
	// up): the host's stack then sends nothing of its own on it (router
	// solicitations, MLD reports), so the frames on it are the ones a
	// test sends.
	NoIPv6 bool
}

// Stats are the bridge's counters; see the package's invariants.
type Stats struct {
	FromTAP        uint64 // frames read from the TAP and queued on the device
	FromTAPDropped uint64 // frames the device refused (down, no carrier, or its queue full when Close came)
	FromTAPBad     uint64 // frames shorter than an Ethernet header, or longer than the device's MTU allows (the TAP's MTU raised past it)
	ToTAP          uint64 // frames the device received, written to the TAP
	ToTAPErrors    uint64 // frames the TAP refused
}

// Bridge is a netdev.Device joined to a TAP interface. Make it with Open,
// end it with Close.
type Bridge struct {
	dev  *netdev.Device
	f    *os.File
	name string
	max  int // the longest frame read: MTU + header + one VLAN tag

	unregister    func()
	removeWatcher func()
	done          chan struct{}
	closing       atomic.Bool
	once          sync.Once

	fromTAP, fromDropped, fromBad, toTAP, toErrors atomic.Uint64
	carrierErr, readErr                            atomic.Pointer[error]
	carrierMu                                      sync.Mutex // one TUNSETCARRIER at a time, with the state read under it
}

// vlanHeaderLen is one 802.1Q tag, which the TAP may carry on top of the
// MTU.
const vlanHeaderLen = 4

// Open makes a TAP interface for dev, which must be registered and have an
// Ethernet address, gives it dev's MAC, MTU and carrier, and starts moving
// frames both ways. It takes dev's rx handler: frames dev receives go to
// the TAP only.
func Open(dev *netdev.Device, opts Options) (*Bridge, error) {
	name := opts.Name
	if name == "" {
		name = "dongle%d"
	}
	f, ifname, err := openTAP(name)
	if err != nil {
		return nil, err
	}
	b := &Bridge{dev: dev, f: f, name: ifname, max: dev.MTU() + netdev.EthHeaderLen + vlanHeaderLen, done: make(chan struct{})}
	fail := func(err error) (*Bridge, error) {
		f.Close()
		return nil, err
	}
	if err := setMAC(f, ifname, dev.HardwareAddr()); err != nil {
		return fail(err)
	}
	if err := setCarrier(f, ifname, dev.Carrier()); err != nil {
		return fail(err)
	}
	if opts.NoIPv6 {
		if err := noIPv6(ifname); err != nil {
			return fail(err)
		}
	}
	if err := setLink(ifname, dev.MTU(), opts.Up); err != nil {
		return fail(err)
	}
	if b.unregister, err = dev.RegisterRxHandler(b.toHost); err != nil {
		return fail(fmt.Errorf("tap %s: %w", ifname, err))
	}
	// The host joins multicast groups on the TAP (IPv6's all-nodes and
	// solicited-node groups, mDNS) that the device's RX filter knows
	// nothing of: the device passes every multicast frame, as a bridge
	// port's device does for its bridge.
	dev.SetAllMulti(1)
	b.removeWatcher = dev.AddCarrierWatcher(b.followCarrier)
	// The carrier may have changed between setCarrier and the watcher.
	b.followCarrier(dev.Carrier())
	go b.reader()
	return b, nil
}

// Check makes and removes a TAP of that name, to learn before an adapter
// is taken whether the TAP can be made at all (CAP_NET_ADMIN, a free
// name, /dev/net/tun).
func Check(name string) error {
	if name == "" {
		name = "dongle%d"
	}
	f, _, err := openTAP(name)
	if err != nil {
		return err
	}
	return f.Close()
}

// Done is closed when the bridge stops reading from the TAP: at Close, or
// earlier when the interface was deleted under it (Err says why).
func (b *Bridge) Done() <-chan struct{} { return b.done }

// Name is the TAP interface's name.
func (b *Bridge) Name() string { return b.name }

// Stats returns the counters.
func (b *Bridge) Stats() Stats {
	return Stats{
		FromTAP:        b.fromTAP.Load(),
		FromTAPDropped: b.fromDropped.Load(),
		FromTAPBad:     b.fromBad.Load(),
		ToTAP:          b.toTAP.Load(),
		ToTAPErrors:    b.toErrors.Load(),
	}
}

// CarrierErr is the last failure to set the TAP's carrier, if any.
func (b *Bridge) CarrierErr() error {
	if p := b.carrierErr.Load(); p != nil {
		return *p
	}
	return nil
}

// Err is why the bridge stopped reading from the TAP before Close (the
// interface deleted under it), if it did.
func (b *Bridge) Err() error {
	if p := b.readErr.Load(); p != nil {
		return *p
	}
	return nil
}

// Close stops the bridge and removes the TAP interface. Frames the device
// receives from then on go to its protocol handlers.
func (b *Bridge) Close() error {
	var err error
	b.once.Do(func() {
		b.closing.Store(true)
		b.unregister()
		b.removeWatcher()
		b.dev.SetAllMulti(-1)
		err = b.f.Close() // ends the reader's read
		<-b.done
	})
	return err
}

// followCarrier is the carrier watcher. It sets the device's carrier as
// it is now, not as the notice said: two changes told from two goroutines
// may arrive out of order, and the last TUNSETCARRIER must be the device's
// state.
func (b *Bridge) followCarrier(bool) {
	b.carrierMu.Lock()
	defer b.carrierMu.Unlock()
	if b.closing.Load() {
		return
	}
	if err := setCarrier(b.f, b.name, b.dev.Carrier()); err != nil && !errors.Is(err, os.ErrClosed) {
		b.carrierErr.Store(&err)
	}
}

// toHost is the device's rx handler: the frame, from its link header on,
// goes to the TAP. It may share its data with other frames (a block the
// driver split), so it is only read.
func (b *Bridge) toHost(skb *skbuff.Buff) netdev.RxHandlerResult {
	if _, err := b.f.Write(skb.MACFrame()); err != nil {
		b.toErrors.Add(1)
	} else {
		b.toTAP.Add(1)
	}
	skb.Free(skbuff.FreeRead)
	return netdev.RxHandlerConsumed
}

// queueWait is how long the reader sleeps while the device's transmit
// queue is full.
const queueWait = 50 * time.Microsecond

// reader moves frames from the TAP to the device until Close.
func (b *Bridge) reader() {
	defer close(b.done)
	for {
		// Back-pressure: read no frame the device has no room for.
		for b.dev.TxQueueFull() && !b.closing.Load() {
			time.Sleep(queueWait)
		}
		skb := skbuff.Alloc(b.max + 1)
		n, err := b.f.Read(skb.Put(b.max + 1))
		if err != nil {
			skb.Free(skbuff.FreeRead)
			if b.closing.Load() || errors.Is(err, os.ErrClosed) {
				return
			}
			// A TAP read fails only when the interface is gone.
			err = fmt.Errorf("tap %s: read: %w", b.name, err)
			b.readErr.Store(&err)
			return
		}
		if n < netdev.EthHeaderLen || n > b.max {
			skb.Free(skbuff.FreeRead)
			b.fromBad.Add(1)
			continue
		}
		skb.Trim(n)
		skb.Protocol = binary.BigEndian.Uint16(skb.Data()[12:14])
		if err := b.dev.Xmit(skb); err != nil {
			b.fromDropped.Add(1) // Xmit freed it and counted tx_dropped
			continue
		}
		b.fromTAP.Add(1)
	}
}
