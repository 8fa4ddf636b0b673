package cdcncm

import (
	"context"
	"encoding/binary"
	"fmt"
	"sync"

	"dongle/hw"
	"dongle/skbuff"
	"dongle/usbnet"
	"dongle/usbnet/cdcecm"
)

// Driver is the CDC NCM 1.0 minidriver: Linux's cdc_ncm (cdc_ncm_info).
// Its fields are options; the zero value is Linux's behaviour. It keeps
// per-device state in Dev.Priv.
type Driver struct {
	Options
	// CopyBreak is the datagram length up to which RxFixup copies a
	// datagram into a buffer of its own instead of sharing the NTB's
	// (0: DefaultCopyBreak; -1: share every datagram).
	CopyBreak int
	// NTBsPerTransfer is the most full NTBs one bulk OUT transfer
	// carries (0: DefaultNTBsPerTransfer; 1: one each, as Linux submits
	// them; the bus sees the same bytes either way). See Writer.
	NTBsPerTransfer int
}

var (
	_ usbnet.Minidriver   = (*Driver)(nil)
	_ usbnet.TxAggregator = (*Driver)(nil)
)

// New returns the minidriver with Linux's defaults.
func New() *Driver { return &Driver{} }

// state is the per-device state (Linux's struct cdc_ncm_ctx).
type state struct {
	fn     Function
	params NTBParams // as GET_NTB_PARAMETERS returned them
	sizes  Sizes     // what Reset negotiated (Bind's plan until then)
	// mu guards what diag reads while the device runs: sizes and the
	// results of the last Reset.
	mu        sync.Mutex
	setFailed []string // requests of the last Reset the device refused

	rx  Reader
	rxc RxCounters

	// TX: the NTB being filled (one at a time: the framework serialises
	// the TxAggregator methods).
	tx      txState
	txc     TxCounters
	filter  uint16
	split   bool
	have    int
	rates   [8]byte
	mcastOK bool
}

func priv(d *usbnet.Dev) *state { return d.Priv.(*state) }

// reqIn and reqOut are bmRequestType for class requests to the interface.
const (
	reqIn  = hw.DirIn | hw.TypeClass | hw.RecipInterface
	reqOut = hw.DirOut | hw.TypeClass | hw.RecipInterface
)

// Name implements usbnet.Minidriver.
func (*Driver) Name() string { return "cdc_ncm" }

// IDs implements usbnet.Minidriver: any communication interface of the NCM
// subclass with no protocol (USB_INTERFACE_INFO(COMM, NCM, PROTO_NONE)).
func (*Driver) IDs() []usbnet.ID {
	return []usbnet.ID{{Class: cdcecm.ClassComm, SubClass: SubClassNCM, Protocol: ProtoNone, Name: "CDC NCM"}}
}

// Flags implements usbnet.Minidriver. FlagTxPadsItself: TxAggEnd applies
// cdc_ncm's rule (pad to the NTB size, or one byte to end short); with
// Options.SendZLP the framework sends a ZLP instead (cdc_ncm_zlp_info).
// FlagMultiPacket: every transfer is an NTB of many frames. FlagLinkIntr:
// NETWORK_CONNECTION drives the carrier.
func (dr *Driver) Flags() usbnet.Flags {
	f := usbnet.FlagEthernet | usbnet.FlagLinkIntr | usbnet.FlagMultiPacket
	if dr.SendZLP {
		return f | usbnet.FlagSendZLP
	}
	return f | usbnet.FlagTxPadsItself
}

// Bind implements usbnet.Minidriver (cdc_ncm_bind_common): validate the
// descriptors (Parse), put the data interface at alt 0 (the function
// off), read GET_NTB_PARAMETERS (required), plan the sizes (Negotiate,
// checked again at every Reset), read the MAC from iMACAddress, and pick
// the endpoints (alt 1 of the data interface, selected by the framework
// at open).
func (dr *Driver) Bind(d *usbnet.Dev) error {
	fn, err := Parse(d.Config, d.Intf.Number)
	if err != nil {
		return fmt.Errorf("bad NCM descriptors: %w", err)
	}
	if err := d.Claim(int(fn.Data)); err != nil {
		return err
	}
	if err := d.HW.SetAlt(int(fn.Data), 0); err != nil {
		return fmt.Errorf("data interface %d alt 0: %w", fn.Data, err)
	}
	buf := make([]byte, ntbParamsLength)
	if err := d.ControlIn(reqIn, ReqGetNTBParameters, 0, uint16(fn.Control), buf); err != nil {
		return fmt.Errorf("GET_NTB_PARAMETERS: %w", err)
	}
	params, err := ParseNTBParams(buf)
	if err != nil {
		return err
	}
	sizes, err := Negotiate(params, fn.MaxSegmentSize, int(fn.Out.MaxPacketSize), dr.Options)
	if err != nil {
		return fmt.Errorf("GET_NTB_PARAMETERS: %w", err)
	}
	if fn.MACIndex == 0 {
		return fmt.Errorf("iMACAddress is 0 (no string): %w", cdcecm.ErrBadMAC)
	}
	ctx, cancel := context.WithTimeout(context.Background(), d.ControlTimeout)
	defer cancel()
	s, err := hw.ReadString(ctx, d.HW, fn.MACIndex)
	if err != nil {
		return fmt.Errorf("reading iMACAddress: %w", err)
	}
	mac, err := cdcecm.ParseMAC(s)
	if err != nil {
		return fmt.Errorf("string %d: %w", fn.MACIndex, err)
	}
	d.Net.SetHardwareAddr(mac)
	d.In, d.Out, d.Status = fn.In, fn.Out, fn.Status
	d.CtrlIface, d.DataIface, d.DataAlt = int(fn.Control), int(fn.Data), int(fn.DataAlt)
	st := &state{fn: *fn, params: params, sizes: sizes}
	st.rx.C = &st.rxc
	d.Priv = st
	dr.applySizes(d, st)
	// Linux's usbnet_update_max_qlen with hard_mtu = tx_max: a few NTBs
	// in flight, not 128 (each is up to tx_max bytes).
	d.TxURBs = max(4, usbnet.MaxRxQueueMemory/sizes.TxMax)
	return nil
}

// applySizes sets what the framework and the reader take from the sizes.
func (dr *Driver) applySizes(d *usbnet.Dev, st *state) {
	z := st.sizes
	d.HardMTU = z.MaxDatagram
	d.RxURBSize = z.RxMax
	st.rx.Format, st.rx.MaxBlock, st.rx.MaxDatagram = z.Format, z.RxMax, z.MaxDatagram
}

// Unbind implements usbnet.Minidriver.
func (*Driver) Unbind(d *usbnet.Dev) { d.Priv = nil }

// Reset implements usbnet.Minidriver. It runs at every open with the data
// interface at alt 0, which returns the device's NTB format, input size
// and datagram size to their defaults (NCM 1.0 §7.2), so it negotiates
// them every time, in cdc_ncm_init/cdc_ncm_setup's order:
//
//	SET_CRC_MODE(off)            if bmNetworkCapabilities has CRC mode
//	SET_NTB_FORMAT               only if bmNtbFormatsSupported has NTB32
//	SET_NTB_INPUT_SIZE           4 bytes, or 8 with the 8-byte capability
//	GET/SET_MAX_DATAGRAM_SIZE    if bmNetworkCapabilities says so
//
// A refused SET_NTB_FORMAT falls back to NTB16 (the default), a refused
// SET_NTB_INPUT_SIZE to the device's dwNtbInMaxSize (within 65536); a
// refused datagram size keeps the descriptor's. Each refusal is kept for
// diag. Sequence numbers restart.
func (dr *Driver) Reset(d *usbnet.Dev) error {
	st := priv(d)
	st.mu.Lock()
	defer st.mu.Unlock()
	st.setFailed = st.setFailed[:0]
	failed := func(what string, err error) { st.setFailed = append(st.setFailed, fmt.Sprintf("%s: %v", what, err)) }
	iface := uint16(st.fn.Control)
	z, err := Negotiate(st.params, st.fn.MaxSegmentSize, d.MaxPacket(), dr.Options)
	if err != nil {
		return err
	}
	caps := st.fn.Capabilities
	if caps&CapCRCMode != 0 {
		if err := d.ControlOut(reqOut, ReqSetCRCMode, 0, iface, nil); err != nil {
			failed("SET_CRC_MODE(off)", err)
		}
	}
	if st.params.FormatsSupported&FormatsNTB32 != 0 {
		if err := d.ControlOut(reqOut, ReqSetNTBFormat, uint16(z.Format), iface, nil); err != nil {
			failed(fmt.Sprintf("SET_NTB_FORMAT(%v)", z.Format), err)
			if z.Format == NTB32 && st.params.FormatsSupported&FormatsNTB16 != 0 {
				opts := dr.Options
				opts.PreferNTB32 = false
				if z, err = Negotiate(st.params, st.fn.MaxSegmentSize, d.MaxPacket(), opts); err != nil {
					return err
				}
			}
		}
	}
	in := make([]byte, 4, 8)
	binary.LittleEndian.PutUint32(in, uint32(z.RxMax))
	if caps&CapInputSize8 != 0 {
		in = append(in, 0, 0, 0, 0) // wNtbInMaxDatagrams 0: no limit
	}
	if err := d.ControlOut(reqOut, ReqSetNTBInputSize, 0, iface, in); err != nil {
		failed(fmt.Sprintf("SET_NTB_INPUT_SIZE(%d)", z.RxMax), err)
		z.RxMax = int(min(max(int64(st.params.InMaxSize), NTBMinSize), NTBMaxSize))
	}
	if caps&CapMaxDatagramSize != 0 {
		cur := make([]byte, 2)
		if err := d.ControlIn(reqIn, ReqGetMaxDatagramSize, 0, iface, cur); err != nil {
			failed("GET_MAX_DATAGRAM_SIZE", err)
		} else if int(binary.LittleEndian.Uint16(cur)) != z.MaxDatagram {
			binary.LittleEndian.PutUint16(cur, uint16(z.MaxDatagram))
			if err := d.ControlOut(reqOut, ReqSetMaxDatagramSize, 0, iface, cur); err != nil {
				failed(fmt.Sprintf("SET_MAX_DATAGRAM_SIZE(%d)", z.MaxDatagram), err)
			}
		}
	}
	st.sizes = z
	dr.applySizes(d, st)
	st.rx.ResetSequence()
	st.tx = txState{}
	st.split, st.have = false, 0
	return nil
}

// LinkReset implements usbnet.Minidriver: nothing to reprogram.
func (*Driver) LinkReset(*usbnet.Dev) error { return nil }

// TxFixup implements usbnet.Minidriver. It is never called: frames go
// through the TxAggregator methods (tx.go).
func (*Driver) TxFixup(*usbnet.Dev, *skbuff.Buff) error { return nil }
