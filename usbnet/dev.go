package usbnet

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"dongle/hw"
	"dongle/netdev"
	"dongle/skbuff"
)

// Defaults for the tunables of a Dev.
//
// Linux sizes its queues from MAX_QUEUE_MEMORY (60 full frames) and the bus
// speed. A userspace driver needs deeper queues than the kernel: each
// transfer's completion crosses libusb's event thread and the bottom half
// before it is resubmitted, and only a deep queue turns that hand-off into
// batches. Measured in the virtual lab through QEMU's usb-net
// (1514-byte frames): RX 1,878 frames/s with 8 transfers in flight against
// 7,213 with 128; TX 7,175 with 32 against 10,087 with 128.
const (
	MinRxURBs             = 8               // bulk IN transfers kept in flight, at least
	MaxRxURBs             = 128             // and at most
	MaxRxQueueMemory      = 256 << 10       // bytes of bulk IN buffers in flight (MAX_QUEUE_MEMORY)
	DefaultTxURBs         = 128             // bulk OUT frames in flight before the queue is stopped
	DefaultControlTimeout = 5 * time.Second // USB_CTRL_SET_TIMEOUT
	// EthHeaderLen is ETH_HLEN, the netdev's hard_header_len for Ethernet.
	EthHeaderLen = 14
)

// Dev is one USB network device: Linux's struct usbnet. It binds an
// hw.Device (and the interfaces a Minidriver picked) to a netdev.Device, and
// implements netdev.Ops for it.
//
// The exported fields are set by Probe and the minidriver's Bind; after
// Probe returns they are read-only, except RxURBs and TxURBs, which may be
// changed while the device is down.
type Dev struct {
	HW     hw.Device
	Net    *netdev.Device
	Info   hw.Info
	Desc   *hw.DeviceDescriptor
	Config *hw.Config // the active configuration
	Endpoints
	Driver Minidriver
	ID     ID            // the match-table entry that bound the driver
	Intf   *hw.Interface // the interface the entry matched (Linux's intf)

	// RxURBSize is the size of each bulk IN transfer (rx_urb_size); Bind
	// sets it, HardMTU is the default.
	RxURBSize int
	// HardMTU is the largest frame (link header included, driver framing
	// excluded) the device takes: Linux's hard_mtu. Bind sets it; the
	// default is 1514.
	HardMTU int
	// TxHeadroom and TxTailroom are the bytes TxFixup adds before and after
	// a frame (Linux's needed_headroom/needed_tailroom). Bind sets them; a
	// frame handed down with less room, or with shared data, is copied into
	// a pooled buffer that has it (skb_copy_expand), and counted in TxCopies.
	TxHeadroom, TxTailroom int
	// Priv is the minidriver's private state (Linux's dev->data[]).
	Priv any

	// RxURBs and TxURBs bound the transfers in flight (RX_QLEN, TX_QLEN);
	// RxURBs 0 means RxQueueLen(RxURBSize), decided at open.
	RxURBs, TxURBs int
	// ControlTimeout bounds each control request.
	ControlTimeout time.Duration

	counters Counters

	claimed      []int // interfaces claimed, in order
	disconnected bool

	// ctl serialises the control path: the kevent worker, SetRxMode from
	// SetMulticastList, Reset/SetRxMode in open. The data path never
	// takes it.
	ctl sync.Mutex

	// mu guards the transfer bookkeeping below; it is held only around
	// Submit and list updates, never across a callback into netdev or a
	// minidriver, nor across a control transfer.
	mu         sync.Mutex
	state      state
	rx         []rxSlot
	rxParked   []*rxSlot // RX transfers not in flight (halted, throttled)
	rxInFlight int
	rxHalted   bool
	tx         []txSlot
	txFree     []*txSlot
	txInFlight int // slots (not transfers) in flight
	txHalted   bool
	txStopped  bool   // we stopped the netdev queue and owe it a wake
	agg        *txAgg // non-nil when Driver is a TxAggregator (set by Probe)
	st         statusSlot
	stHalted   bool

	in, out, status *pipe
	done            *doneQueue // completions → bottom half
	bh              sync.WaitGroup

	kflags atomic.Uint32 // pending kevents
	kkick  chan struct{} // wakes the kevent goroutine
	kquit  chan struct{} // closed by Stop
	kwg    sync.WaitGroup
	thr    *time.Timer  // RX/status resubmission throttle
	rxq    skbuff.Queue // bottom half's scratch queue for RxFixup
	rxUp   skbuff.Queue // bottom half: a batch's frames for netdev (RxList)
	zero   [0]byte      // the ZLP's empty buffer

	gone atomic.Bool
	// linkMu orders LinkChange against the carrier decision that
	// follows a LinkReset, so that a link down comes either before it
	// (no carrier) or after it (the carrier off again), never between.
	// Not on the data path; held across CarrierOn/CarrierOff, so a
	// carrier watcher must not call LinkChange.
	linkMu sync.Mutex
	// linkUpPending: the link came up and the carrier waits for LinkReset.
	linkUpPending atomic.Bool
	// linkDowns counts link downs (linkMu): a LinkReset that saw it
	// change ran for a link that has gone since, and turns no carrier on.
	linkDowns uint64
	goneCh    chan struct{}
}

type state int

const (
	stateDown state = iota
	stateRunning
	stateStopping
)

// Counters are the framework's own events, beyond netdev's statistics:
// what it did to keep traffic going. All are atomic.
type Counters struct {
	RxHaltsCleared     atomic.Uint64 // bulk IN stalls cleared (EVENT_RX_HALT)
	TxHaltsCleared     atomic.Uint64 // bulk OUT stalls cleared (EVENT_TX_HALT)
	StatusHaltsCleared atomic.Uint64 // interrupt IN stalls cleared
	Timeouts           atomic.Uint64 // transfers that timed out and were retried
	TxRetries          atomic.Uint64 // TX frames resubmitted after a timeout
	ZLPs               atomic.Uint64 // explicit zero-length packets sent (FlagSendZLP)
	PadBytes           atomic.Uint64 // 0x00 bytes appended by the ZLP rule
	RxZLPs             atomic.Uint64 // zero-length bulk IN transfers ignored
	StatusEvents       atomic.Uint64 // interrupt transfers handed to Minidriver.Status
	StatusErrors       atomic.Uint64 // Status decode errors and failed interrupt transfers
	RxFixupErrors      atomic.Uint64 // RxFixup calls that returned an error
	LinkResets         atomic.Uint64 // LinkReset calls
	LinkResetErrors    atomic.Uint64
	RxModeErrors       atomic.Uint64 // SetRxMode failures
	Throttles          atomic.Uint64 // RX/status resubmissions delayed after an I/O error
	TxQueueStops       atomic.Uint64 // times the netdev queue was stopped for want of a TX slot
	TxBusy             atomic.Uint64 // XmitBusy answers
	TxCopies           atomic.Uint64 // frames copied for want of head/tailroom or because shared
	RxReaps            atomic.Uint64 // bulk IN reaps: WaitBatch polls that returned transfers
	RxMaxBatch         atomic.Uint64 // most bulk IN transfers one WaitBatch returned
	TxAggregates       atomic.Uint64 // TxAggregator blocks handed to the device
	TxAggFull          atomic.Uint64 // ... sent because TxAggAdd said the block was full
	TxAggNoRoom        atomic.Uint64 // ... sent because the next frame did not fit
	TxAggTimer         atomic.Uint64 // ... sent by the timer
	TxAggTimerArms     atomic.Uint64 // times the flush timer was set (not once per block: see TxAggregator)
	TxAggTooBig        atomic.Uint64 // frames dropped: they fit no block (tx_dropped too)
}

// Counters returns the framework's event counters.
func (d *Dev) Counters() *Counters { return &d.counters }

// MaxPacket is the bulk OUT endpoint's wMaxPacketSize (64 at full speed, 512
// at high speed, 1024 at SuperSpeed): the unit of the ZLP rule. Probe
// refuses a device where it is 0 (CVE-2021-47495), so it is never 0 on a
// bound Dev.
func (d *Dev) MaxPacket() int { return int(d.Out.MaxPacketSize) }

// USBSpeed is the speed the device enumerated at.
func (d *Dev) USBSpeed() hw.Speed { return d.Info.Speed }

// Name is how errors name the device: "bus 1 addr 2 (0b95:1790)".
func (d *Dev) Name() string { return d.Info.Name() }

// Gone is closed once the device is found unplugged (a transfer or request
// failed with hw.ErrNoDevice). By then the carrier is off, everything in
// flight has been cancelled, and nothing is resubmitted; the owner should
// call Disconnect, as a hub driver would.
func (d *Dev) Gone() <-chan struct{} { return d.goneCh }

// Claim claims interface iface (once; repeated calls are no-ops) and
// records it so Disconnect releases it. Bind may use it for a data
// interface it needs before the framework claims CtrlIface and DataIface.
func (d *Dev) Claim(iface int) error {
	for _, c := range d.claimed {
		if c == iface {
			return nil
		}
	}
	if err := d.HW.Claim(iface); err != nil {
		return d.usbErr(fmt.Sprintf("claim interface %d", iface), err)
	}
	d.claimed = append(d.claimed, iface)
	return nil
}

// ControlIn performs a control IN request and fails, wrapping hw.ErrShort,
// unless exactly len(buf) bytes came back: callers never see a partly
// filled buffer (Linux's usbnet_read_cmd checks the same for its callers).
func (d *Dev) ControlIn(reqType, req uint8, value, index uint16, buf []byte) error {
	s := hw.Setup{RequestType: reqType | hw.DirIn, Request: req, Value: value, Index: index, Length: uint16(len(buf))}
	n, err := d.control(s, buf)
	if err != nil {
		return d.usbErr(requestName(s), err)
	}
	if n < len(buf) {
		return d.usbErr(requestName(s), fmt.Errorf("%w: %d of %d bytes", hw.ErrShort, n, len(buf)))
	}
	return nil
}

// ControlOut performs a control OUT request with data (possibly empty).
func (d *Dev) ControlOut(reqType, req uint8, value, index uint16, data []byte) error {
	s := hw.Setup{RequestType: reqType &^ hw.DirIn, Request: req, Value: value, Index: index, Length: uint16(len(data))}
	if _, err := d.control(s, data); err != nil {
		return d.usbErr(requestName(s), err)
	}
	return nil
}

// VendorIn is ControlIn with bmRequestType 0xC0 (vendor, device, IN).
func (d *Dev) VendorIn(req uint8, value, index uint16, buf []byte) error {
	return d.ControlIn(hw.DirIn|hw.TypeVendor|hw.RecipDevice, req, value, index, buf)
}

// VendorOut is ControlOut with bmRequestType 0x40 (vendor, device, OUT).
func (d *Dev) VendorOut(req uint8, value, index uint16, data []byte) error {
	return d.ControlOut(hw.DirOut|hw.TypeVendor|hw.RecipDevice, req, value, index, data)
}

func (d *Dev) control(s hw.Setup, data []byte) (int, error) {
	if len(data) > 0xffff {
		return 0, fmt.Errorf("%w: %d data bytes, wLength holds 65535", hw.ErrInvalid, len(data))
	}
	t := d.ControlTimeout
	if t <= 0 {
		t = DefaultControlTimeout
	}
	ctx, cancel := context.WithTimeout(context.Background(), t)
	defer cancel()
	n, err := d.HW.Control(ctx, s, data)
	if err != nil && hw.StatusOf(err) == hw.ErrNoDevice {
		d.markGone()
	}
	return n, err
}

// requestName names a control request in errors: "control request 0x43
// (21 43 000c 0000 0000)".
func requestName(s hw.Setup) string {
	kind := [...]string{"standard", "class", "vendor", "reserved"}[s.RequestType>>5&3]
	dir := "OUT"
	if s.In() {
		dir = "IN"
	}
	return fmt.Sprintf("%s %s request %#02x (setup %s)", kind, dir, s.Request, s)
}

// usbErr names the device and the object in an error, keeping err's chain.
func (d *Dev) usbErr(object string, err error) error {
	return hw.Errorf(d.Name()+": "+object, err)
}

// markGone records an unplug: carrier off, every endpoint cancelled (what
// is in flight completes with an error and is freed, not resubmitted), Gone
// closed. It runs once and never blocks.
func (d *Dev) markGone() {
	d.mu.Lock()
	d.markGoneLocked()
	d.mu.Unlock()
}

// markGoneLocked is markGone with d.mu held.
func (d *Dev) markGoneLocked() {
	if d.gone.Swap(true) {
		return
	}
	for _, p := range [...]*pipe{d.in, d.out, d.status} {
		if p != nil {
			p.ep.Cancel()
		}
	}
	if d.Net != nil {
		d.Net.CarrierOff()
	}
	close(d.goneCh)
}

// pipes is the open pipes: bulk IN, bulk OUT, and the status pipe if any.
func (d *Dev) pipes() []*pipe {
	if d.status == nil {
		return []*pipe{d.in, d.out}
	}
	return []*pipe{d.in, d.out, d.status}
}

// RxQueueLen is how many bulk IN transfers of rxURBSize bytes a device keeps
// in flight when its RxURBs is left 0 (usbnet_update_max_qlen): as many as
// MaxRxQueueMemory holds, within [MinRxURBs, MaxRxURBs]. An ECM or ASIX
// device gets 128; an AX88179, whose 26 KiB transfers each carry many
// frames, gets 9.
func RxQueueLen(rxURBSize int) int {
	if rxURBSize <= 0 {
		return MinRxURBs
	}
	return min(max(MaxRxQueueMemory/rxURBSize, MinRxURBs), MaxRxURBs)
}
