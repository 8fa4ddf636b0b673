package netdev

import "sync/atomic"

// Stats are a device's counters, named after Linux's rtnl_link_stats64.
// Each is an atomic so any goroutine can count: d.Stats().RxErrors.Add(1).
//
// Who counts what, as in Linux: the driver counts rx/tx packets and bytes
// and every hardware or framing error (it is the one that knows); the core
// counts what it drops itself: tx_dropped for a full transmit queue or a
// device that is down or has no carrier, rx_dropped for a full backlog or a
// device that is down, rx_nohandler for a frame no protocol handler wanted.
// The built-in loopback and dummy drivers count their packets and bytes.
type Stats struct {
	RxPackets  atomic.Uint64
	TxPackets  atomic.Uint64
	RxBytes    atomic.Uint64
	TxBytes    atomic.Uint64
	RxErrors   atomic.Uint64
	TxErrors   atomic.Uint64
	RxDropped  atomic.Uint64
	TxDropped  atomic.Uint64
	Multicast  atomic.Uint64
	Collisions atomic.Uint64

	RxLengthErrors atomic.Uint64
	RxOverErrors   atomic.Uint64
	RxCRCErrors    atomic.Uint64
	RxFrameErrors  atomic.Uint64
	RxFIFOErrors   atomic.Uint64
	RxMissedErrors atomic.Uint64

	TxAbortedErrors   atomic.Uint64
	TxCarrierErrors   atomic.Uint64
	TxFIFOErrors      atomic.Uint64
	TxHeartbeatErrors atomic.Uint64
	TxWindowErrors    atomic.Uint64

	RxCompressed atomic.Uint64
	TxCompressed atomic.Uint64
	RxNohandler  atomic.Uint64
}

// StatsSnapshot is Stats as plain values, with the JSON names ip -j -s link
// uses.
type StatsSnapshot struct {
	RxPackets  uint64 `json:"rx_packets"`
	TxPackets  uint64 `json:"tx_packets"`
	RxBytes    uint64 `json:"rx_bytes"`
	TxBytes    uint64 `json:"tx_bytes"`
	RxErrors   uint64 `json:"rx_errors"`
	TxErrors   uint64 `json:"tx_errors"`
	RxDropped  uint64 `json:"rx_dropped"`
	TxDropped  uint64 `json:"tx_dropped"`
	Multicast  uint64 `json:"multicast"`
	Collisions uint64 `json:"collisions"`

	RxLengthErrors uint64 `json:"rx_length_errors"`
	RxOverErrors   uint64 `json:"rx_over_errors"`
	RxCRCErrors    uint64 `json:"rx_crc_errors"`
	RxFrameErrors  uint64 `json:"rx_frame_errors"`
	RxFIFOErrors   uint64 `json:"rx_fifo_errors"`
	RxMissedErrors uint64 `json:"rx_missed_errors"`

	TxAbortedErrors   uint64 `json:"tx_aborted_errors"`
	TxCarrierErrors   uint64 `json:"tx_carrier_errors"`
	TxFIFOErrors      uint64 `json:"tx_fifo_errors"`
	TxHeartbeatErrors uint64 `json:"tx_heartbeat_errors"`
	TxWindowErrors    uint64 `json:"tx_window_errors"`

	RxCompressed uint64 `json:"rx_compressed"`
	TxCompressed uint64 `json:"tx_compressed"`
	RxNohandler  uint64 `json:"rx_nohandler"`
}

// Snapshot reads every counter. Counters are read one by one, so a
// snapshot taken while traffic flows is not a single instant.
func (s *Stats) Snapshot() StatsSnapshot {
	return StatsSnapshot{
		RxPackets: s.RxPackets.Load(), TxPackets: s.TxPackets.Load(),
		RxBytes: s.RxBytes.Load(), TxBytes: s.TxBytes.Load(),
		RxErrors: s.RxErrors.Load(), TxErrors: s.TxErrors.Load(),
		RxDropped: s.RxDropped.Load(), TxDropped: s.TxDropped.Load(),
		Multicast: s.Multicast.Load(), Collisions: s.Collisions.Load(),
		RxLengthErrors: s.RxLengthErrors.Load(), RxOverErrors: s.RxOverErrors.Load(),
		RxCRCErrors: s.RxCRCErrors.Load(), RxFrameErrors: s.RxFrameErrors.Load(),
		RxFIFOErrors: s.RxFIFOErrors.Load(), RxMissedErrors: s.RxMissedErrors.Load(),
		TxAbortedErrors: s.TxAbortedErrors.Load(), TxCarrierErrors: s.TxCarrierErrors.Load(),
		TxFIFOErrors: s.TxFIFOErrors.Load(), TxHeartbeatErrors: s.TxHeartbeatErrors.Load(),
		TxWindowErrors: s.TxWindowErrors.Load(),
		RxCompressed:   s.RxCompressed.Load(), TxCompressed: s.TxCompressed.Load(),
		RxNohandler: s.RxNohandler.Load(),
	}
}
