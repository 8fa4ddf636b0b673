package netdev

import (
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

// Direction says which way a frame a tap sees is going.
type Direction uint8

// Tap directions.
const (
	DirRX Direction = iota // received, seen by the bottom half before the handlers
	DirTX                  // transmitted, seen just before the first offer to HardStartXmit
)

func (d Direction) String() string {
	if d == DirTX {
		return "TX"
	}
	return "RX"
}

// DefaultMaxBacklog is the receive backlog bound (netdev_max_backlog).
const DefaultMaxBacklog = 1000

// Bands is the number of transmit priority queues (the article's buffs[]).
const Bands = 3

// Device is a network interface (struct net_device).
//
// Locking: a control lock (rtnl) serialises Register, Unregister, Open,
// Close, ChangeFlags, SetMTU and ChangeHardwareAddr, and is held while they
// call the driver's Init, Open, Stop, ChangeMTU and SetMACAddress; those
// methods must not call back into these six. Everything else (Xmit, Rx,
// WakeQueue, StopQueue, carrier, counters, promiscuity) may be called from
// any goroutine, including from inside driver methods.
type Device struct {
	// Priv is the driver's private data (netdev_priv).
	Priv any
	// TxQueueLen is the most frames the transmit queue holds
	// (tx_queue_len). Set it before Register or in Init; while traffic
	// flows use SetTxQueueLen. A change applies to the next enqueue and
	// never drops frames already queued.
	TxQueueLen int
	// MinMTU and MaxMTU bound SetMTU (0 MaxMTU: no upper bound).
	MinMTU, MaxMTU int
	// HardHeaderLen is the link header length (hard_header_len): 14 for
	// Ethernet.
	HardHeaderLen int
	// Caps are capabilities the driver declares (CapNoAllMulti, ...), set
	// before Register or in Init.
	Caps Caps
	// MaxBacklog bounds the receive backlog; 0 means DefaultMaxBacklog.
	// Read at Open.
	MaxBacklog int

	ops      Ops
	pattern  string
	loopback bool // only the loopback driver may carry FlagLoopback

	ctl        sync.Mutex // rtnl: control path
	mu         sync.Mutex // small fields below
	name       string
	registered bool
	flags      atomic.Uint32
	mtu        atomic.Int64
	addr       atomic.Pointer[net.HardwareAddr]
	bcast      atomic.Pointer[net.HardwareAddr]
	dest       net.HardwareAddr
	mc         []mcEntry
	promisc    int
	allmulti   int
	userFlags  Flags // Promisc/AllMulti as set through ChangeFlags (gflags)
	rxModeMu   sync.Mutex

	stats   Stats
	carrier atomic.Bool
	speed   atomic.Int64

	tx txState
	rx rxState

	hmu      sync.Mutex
	taps     atomic.Pointer[[]*tapEntry]
	handlers atomic.Pointer[[]*handlerEntry]
	rxh      atomic.Pointer[rxHandler]
	watchers atomic.Pointer[[]*carrierWatcher]

	errDown, errNoCarrier, errQueueFull, errShort error
}

// New returns an unregistered device with the given name pattern ("eth%d":
// the number is allocated by Register) and driver. It has carrier, a
// TxQueueLen of 100 and no link-layer settings; call EtherSetup or
// PointToPointSetup for those.
func New(namePattern string, ops Ops) *Device {
	if ops == nil {
		panic("netdev: New(" + strconv.Quote(namePattern) + ", nil): a device needs its driver's Ops")
	}
	d := &Device{ops: ops, pattern: namePattern, TxQueueLen: 100}
	d.carrier.Store(true)
	d.mtu.Store(1500)
	d.setErrors(namePattern)
	return d
}

func (d *Device) setErrors(name string) {
	d.errDown = &Error{Dev: name, Op: "xmit", Err: ErrDown}
	d.errNoCarrier = &Error{Dev: name, Op: "xmit", Err: ErrNoCarrier}
	d.errQueueFull = &Error{Dev: name, Op: "xmit", Err: ErrQueueFull}
	d.errShort = &Error{Dev: name, Op: "eth_type_trans", Err: ErrShortFrame}
}

// Name is the interface name: the pattern before Register, the allocated
// name ("eth0") after.
func (d *Device) Name() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.name == "" {
		return d.pattern
	}
	return d.name
}

func (d *Device) errorf(op string, err error) error {
	return &Error{Dev: d.Name(), Op: op, Err: err}
}

// Ops returns the device's driver.
func (d *Device) Ops() Ops { return d.ops }

// Stats returns the device's own counters, for drivers and the core to
// count into.
func (d *Device) Stats() *Stats { return &d.stats }

// GetStats returns the statistics the driver reports (dev_get_stats:
// ndo_get_stats if it returns non-nil, else Stats).
func (d *Device) GetStats() *Stats {
	if s := d.ops.GetStats(d); s != nil {
		return s
	}
	return &d.stats
}

// Flags returns the interface flags.
func (d *Device) Flags() Flags { return Flags(d.flags.Load()) }

func (d *Device) up() bool { return d.Flags()&FlagUp != 0 }

// setFlags sets and clears bits atomically and returns the old flags.
func (d *Device) setFlags(set, clr Flags) Flags {
	for {
		old := d.flags.Load()
		nw := (old &^ uint32(clr)) | uint32(set)
		if d.flags.CompareAndSwap(old, nw) {
			return Flags(old)
		}
	}
}

// the device registry: names in use.
var registry = struct {
	sync.Mutex
	byName map[string]*Device
}{byName: map[string]*Device{}}

// Lookup returns the registered device with that name, or nil
// (dev_get_by_name).
func Lookup(name string) *Device {
	registry.Lock()
	defer registry.Unlock()
	return registry.byName[name]
}

// IFNAMSIZ-1: the longest interface name.
const maxNameLen = 15

func validName(n string) bool {
	return n != "" && len(n) <= maxNameLen && n != "." && n != ".." &&
		!strings.ContainsAny(n, "/: \t\n%")
}

// reserveName allocates the name for pattern (dev_alloc_name): a "%d" is
// replaced by the smallest free number.
func reserveName(pattern string, d *Device) (string, error) {
	registry.Lock()
	defer registry.Unlock()
	if strings.Count(pattern, "%d") > 1 || strings.Count(pattern, "%") != strings.Count(pattern, "%d") {
		return "", ErrBadName
	}
	if !strings.Contains(pattern, "%d") {
		if !validName(pattern) {
			return "", ErrBadName
		}
		if registry.byName[pattern] != nil {
			return "", ErrNameTaken
		}
		registry.byName[pattern] = d
		return pattern, nil
	}
	for i := 0; i < 1<<15; i++ {
		n := strings.Replace(pattern, "%d", strconv.Itoa(i), 1)
		if !validName(n) {
			return "", ErrBadName
		}
		if registry.byName[n] == nil {
			registry.byName[n] = d
			return n, nil
		}
	}
	return "", ErrNameTaken
}

func releaseName(name string, d *Device) {
	registry.Lock()
	defer registry.Unlock()
	if registry.byName[name] == d {
		delete(registry.byName, name)
	}
}

// Register allocates the device's name, calls the driver's Init and
// creates the transmit queues (register_netdev). If Init fails Register
// returns its error and the device is not created: the name is released
// and the device stays unregistered.
func Register(d *Device) error {
	d.ctl.Lock()
	defer d.ctl.Unlock()
	d.mu.Lock()
	if d.registered {
		d.mu.Unlock()
		return &Error{Dev: d.name, Op: "register", Err: ErrRegistered}
	}
	d.mu.Unlock()
	name, err := reserveName(d.pattern, d)
	if err != nil {
		return &Error{Dev: d.pattern, Op: "register", Err: err}
	}
	d.mu.Lock()
	d.name = name
	d.mu.Unlock()
	if err := d.ops.Init(d); err != nil {
		releaseName(name, d)
		d.mu.Lock()
		d.name = ""
		d.mu.Unlock()
		return &Error{Dev: name, Op: "register: init", Err: err}
	}
	d.tx.mu.Lock()
	d.setErrors(name)
	d.tx.mu.Unlock()
	d.mu.Lock()
	d.registered = true
	d.mu.Unlock()
	d.recomputeRxFlags()
	return nil
}

// Unregister closes the device if it is up, frees everything queued and
// releases its name (unregister_netdev). The device may be registered
// again.
func Unregister(d *Device) error {
	d.ctl.Lock()
	defer d.ctl.Unlock()
	d.mu.Lock()
	reg, name := d.registered, d.name
	d.mu.Unlock()
	if !reg {
		return d.errorf("unregister", ErrNotRegistered)
	}
	var err error
	if d.up() {
		err = d.close()
	}
	d.mu.Lock()
	d.registered = false
	d.mu.Unlock()
	releaseName(name, d)
	if err != nil {
		return &Error{Dev: name, Op: "unregister", Err: err}
	}
	return nil
}

// Registered reports whether the device is registered.
func (d *Device) Registered() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.registered
}

// Open brings the device up (dev_open): the receive bottom half started
// and Rx accepting frames (__LINK_STATE_START), then the driver's Open,
// then UP and RUNNING together and the receive filter pushed. If the
// driver's Open fails, Rx refuses frames again and the bottom half is
// stopped, freeing what arrived meanwhile (rx_dropped). Opening an up
// device does nothing.
func (d *Device) Open() error {
	d.ctl.Lock()
	defer d.ctl.Unlock()
	return d.open()
}

func (d *Device) open() error {
	if !d.Registered() {
		return d.errorf("open", ErrNotRegistered)
	}
	if d.up() {
		return nil
	}
	// __LINK_STATE_START before ndo_open: the bottom half runs and Rx
	// accepts frames while the driver opens.
	d.rx.start(d)
	if err := d.ops.Open(d); err != nil {
		d.rx.stop(d) // what arrived meanwhile is freed (rx_dropped)
		return d.errorf("open", err)
	}
	d.rx.mu.Lock()
	d.tx.mu.Lock()
	d.setFlags(FlagUp|FlagRunning, 0)
	d.tx.mu.Unlock()
	d.rx.mu.Unlock()
	d.syncRxMode()
	d.run()
	return nil
}

// Close brings the device down (dev_close): UP and RUNNING cleared
// together, queued transmit frames freed (tx_dropped), the driver's Stop
// called, the bottom half stopped and its backlog freed (rx_dropped).
// Closing a down device does nothing. Close must not be called from a
// receive handler or tap (it waits for the bottom half to finish).
func (d *Device) Close() error {
	d.ctl.Lock()
	defer d.ctl.Unlock()
	return d.close()
}

func (d *Device) close() error {
	if !d.up() {
		return nil
	}
	d.rx.mu.Lock()
	d.tx.mu.Lock()
	d.setFlags(0, FlagUp|FlagRunning)
	d.rx.running = false
	d.tx.purgeLocked(d)
	d.tx.stopped = false
	d.tx.mu.Unlock()
	d.rx.mu.Unlock()
	err := d.ops.Stop(d)
	d.rx.stop(d)
	if err != nil {
		return d.errorf("stop", err)
	}
	return nil
}

// ChangeFlags sets the interface flags to f (dev_change_flags). Debug,
// NoTrailers, NoARP and Multicast are taken as given; Up opens or closes the
// device; Promisc and AllMulti take or drop this caller's one reference
// (SetPromisc/SetAllMulti(±1)); Running reflects state and is ignored.
// Changing Loopback (anywhere) or Broadcast/PointToPoint is refused with an
// error and nothing changes.
func (d *Device) ChangeFlags(f Flags) error {
	d.ctl.Lock()
	defer d.ctl.Unlock()
	old := d.Flags()
	if (f^old)&FlagLoopback != 0 {
		return d.errorf(fmt.Sprintf("change flags %v", f), ErrLoopbackOnly)
	}
	if (f^old)&(FlagBroadcast|FlagPointToPoint) != 0 {
		return d.errorf(fmt.Sprintf("change flags %v", f), ErrFixedFlag)
	}
	d.setFlags(f&userFlags, ^f&userFlags)

	d.mu.Lock()
	var dp, da int
	if (f^d.userFlags)&FlagPromisc != 0 {
		dp = 1
		if f&FlagPromisc == 0 {
			dp = -1
		}
		d.userFlags ^= FlagPromisc
	}
	if (f^d.userFlags)&FlagAllMulti != 0 {
		da = 1
		if f&FlagAllMulti == 0 {
			da = -1
		}
		d.userFlags ^= FlagAllMulti
	}
	d.mu.Unlock()
	if dp != 0 {
		d.SetPromisc(dp)
	}
	if da != 0 {
		d.SetAllMulti(da)
	}

	switch {
	case f&FlagUp != 0 && old&FlagUp == 0:
		return d.open()
	case f&FlagUp == 0 && old&FlagUp != 0:
		return d.close()
	}
	return nil
}
